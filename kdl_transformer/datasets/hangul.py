"""Hangul helpers: final consonant (받침, batchim) and particle choice.

A precomposed Hangul syllable U+AC00..U+D7A3 encodes
`0xAC00 + (initial * 21 + medial) * 28 + final`; `final == 0` means the syllable
ends in a vowel. Korean particles that follow a noun change with that ending:

| particle | after a consonant | after a vowel |
|---|---|---|
| object (목적격) | 을 | 를 |
| topic (보조사) | 은 | 는 |
| subject (주격) | 이 | 가 |

Example:

>>> attach_particle("사과", "object"), attach_particle("책", "object")
('사과를', '책을')
>>> attach_particle("학생", "topic"), attach_particle("고양이", "subject")
('학생은', '고양이가')
"""

_HANGUL_FIRST = 0xAC00
_HANGUL_LAST = 0xD7A3
_FINALS_PER_SYLLABLE = 28

PARTICLES = {
    # kind: (after a final consonant, after a vowel)
    "object": ("을", "를"),
    "topic": ("은", "는"),
    "subject": ("이", "가"),
}


def has_final_consonant(word):
    """True when the last character of `word` is a Hangul syllable with a batchim.

    Args:
        word: str, ending in a precomposed Hangul syllable (U+AC00..U+D7A3).

    Raises:
        ValueError: when `word` is empty or does not end in a Hangul syllable.
    """
    if not word:
        raise ValueError("has_final_consonant() got an empty word; pass a Korean noun.")
    code = ord(word[-1])
    if not _HANGUL_FIRST <= code <= _HANGUL_LAST:
        raise ValueError(
            f"word={word!r} does not end in a precomposed Hangul syllable; "
            "pass an NFC-normalised Korean noun."
        )
    return (code - _HANGUL_FIRST) % _FINALS_PER_SYLLABLE != 0


def attach_particle(noun, kind):
    """Return `noun` followed by the particle `kind` in its correct form.

    Args:
        noun: str, a Korean noun ending in a Hangul syllable.
        kind: one of `"object"` (을/를), `"topic"` (은/는), `"subject"` (이/가).
    """
    if kind not in PARTICLES:
        raise ValueError(f"kind={kind!r} is not a particle kind; use one of {sorted(PARTICLES)}.")
    after_consonant, after_vowel = PARTICLES[kind]
    return noun + (after_consonant if has_final_consonant(noun) else after_vowel)
