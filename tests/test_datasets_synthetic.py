"""Synthetic English->Korean pairs and reviews: grammar, particles, determinism."""

import re

import numpy as np
import pytest

from kdl_transformer.datasets import (
    all_translation_pairs,
    attach_particle,
    has_final_consonant,
    make_reviews,
    make_translation_pairs,
)


def _batchim(syllable):
    """Independent of the package: does this Hangul syllable end in a consonant?"""
    return (ord(syllable) - 0xAC00) % 28 != 0


@pytest.mark.parametrize(
    "word, expected",
    [("책", True), ("사과", False), ("선생님", True), ("고양이", False), ("빵", True), ("물", True)],
)
def test_has_final_consonant(word, expected):
    assert has_final_consonant(word) is expected


def test_attach_particle_forms():
    assert attach_particle("사과", "object") == "사과를"
    assert attach_particle("책", "object") == "책을"
    assert attach_particle("학생", "topic") == "학생은"
    assert attach_particle("고양이", "topic") == "고양이는"
    assert attach_particle("학생", "subject") == "학생이"
    assert attach_particle("아기", "subject") == "아기가"


def test_attach_particle_rejects_non_hangul_and_unknown_kind():
    with pytest.raises(ValueError, match="Hangul"):
        attach_particle("cat", "object")
    with pytest.raises(ValueError, match="kind"):
        attach_particle("책", "genitive")


@pytest.mark.parametrize(
    "english, korean",
    [
        ("The cat eats an apple.", "고양이는 사과를 먹는다."),
        ("The student did not read the book.", "학생은 책을 읽지 않았다."),
        ("The student read the book yesterday.", "학생은 어제 책을 읽었다."),
        ("The baby will sleep tomorrow.", "아기가 내일 잘 것이다."),
        ("I slept.", "내가 잤다."),
        ("The teacher helps me.", "선생님은 나를 돕는다."),
        ("She will not drink coffee.", "그녀는 커피를 마시지 않을 것이다."),
        ("The boy walked.", "소년이 걸었다."),
        ("They do not study math every day.", "그들은 매일 수학을 공부하지 않는다."),
        ("The man opens the door.", "남자는 문을 연다."),
    ],
)
def test_known_sentences_are_translated_correctly(english, korean):
    assert dict(all_translation_pairs())[english] == korean


def _korean_parts(korean):
    """(subject, middle words, verb phrase) of a synthetic Korean sentence."""
    words = korean.rstrip(".").split()
    negation = [i for i, w in enumerate(words) if w.startswith("않")]
    if negation:  # "먹지 않는다", "먹지 않을 것이다"
        verb_start = negation[0] - 1
    else:  # "먹는다", "먹을 것이다"
        verb_start = len(words) - (2 if words[-1] == "것이다" else 1)
    return words[0], words[1:verb_start], words[verb_start:]


def test_every_particle_agrees_with_the_final_consonant():
    expected = {"을": True, "를": False, "은": True, "는": False, "이": True, "가": False}
    checked = 0
    for _, korean in all_translation_pairs():
        subject, middle, _ = _korean_parts(korean)
        objects = [w for w in middle if w not in ("어제", "내일", "매일")]
        candidates = objects + ([subject] if subject != "내가" else [])
        for word in candidates:
            particle, noun = word[-1], word[:-1]
            assert particle in expected, korean
            assert _batchim(noun[-1]) is expected[particle], korean
            checked += 1
    assert checked > 50_000


def test_korean_is_sov_and_english_is_svo():
    for english, korean in make_translation_pairs(300, seed=1):
        subject, middle, verb = _korean_parts(korean)
        assert verb[-1].endswith("다"), korean  # the verb comes last
        objects = [w for w in middle if w not in ("어제", "내일", "매일")]
        assert len(objects) <= 1, korean
        if objects:  # transitive: object (을/를) before the verb, subject with 은/는
            assert objects[0][-1] in "을를" and subject[-1] in "은는", korean
        else:  # intransitive: the subject takes 이/가
            assert subject[-1] in "이가", korean
        assert english[0].isupper() and english.endswith("."), english


def test_translation_pairs_are_deterministic_distinct_and_unambiguous():
    first = make_translation_pairs(200, seed=7)
    assert first == make_translation_pairs(200, seed=7)
    assert first != make_translation_pairs(200, seed=8)
    assert make_translation_pairs(50, seed=7) == first[:50]  # a larger n extends a smaller one
    assert len({e for e, _ in first}) == 200
    everything = all_translation_pairs()
    assert len(dict(everything)) == len(everything)  # one Korean meaning per English sentence
    assert len(everything) > 20_000


def test_held_out_pairs_are_novel_combinations_of_seen_words():
    pairs = make_translation_pairs(3000, seed=0)
    train, test = pairs[:2700], pairs[2700:]
    assert not {e for e, _ in train} & {e for e, _ in test}
    seen = {w for _, k in train for w in k.split()}
    test_words = [w for _, k in test for w in k.split()]
    assert np.mean([w in seen for w in test_words]) > 0.99


def test_translation_pairs_reject_too_many():
    with pytest.raises(ValueError, match="distinct synthetic pairs"):
        make_translation_pairs(len(all_translation_pairs()) + 1)


# --------------------------------------------------------------------------- reviews
_POSITIVE = {"good", "great", "wonderful", "excellent", "brilliant", "funny", "moving", "beautiful",
             "enjoyable", "clever", "liked", "loved", "enjoyed", "like", "love", "enjoy"}
_NEGATIVE = {"bad", "boring", "awful", "terrible", "dull", "weak", "poor", "silly", "predictable",
             "slow", "hated", "disliked", "hate", "dislike"}


def _reference_label(text):
    """An independent reader: sum the polarity of each clause, flipped by "not"."""
    score = 0
    for clause in re.split(r", and |, but |\. |; ", text.lower().rstrip(".")):
        words = clause.split()
        polarity = sum(+1 for w in words if w in _POSITIVE) - sum(1 for w in words if w in _NEGATIVE)
        score += -polarity if "not" in words else polarity
    return int(score > 0)


def test_reviews_labels_follow_sentiment_words_and_negation():
    texts, labels = make_reviews(600, seed=3)
    assert [_reference_label(t) for t in texts] == labels.tolist()
    negated = [t for t in texts if " not " in t]
    assert len(negated) > 100  # negation is common, so word order matters


def test_reviews_are_balanced_and_deterministic():
    texts, labels = make_reviews(101, seed=5)
    assert len(texts) == 101 and labels.shape == (101,) and labels.dtype == np.int64
    assert labels.sum() in (50, 51)
    again, labels_again = make_reviews(101, seed=5)
    assert again == texts and (labels_again == labels).all()
    assert make_reviews(101, seed=6)[0] != texts
    assert all(t[0].isupper() and t.endswith(".") for t in texts)


def test_committed_samples_equal_the_generators_output():
    """data/synthetic/*.tsv are regenerated by data/synthetic/make_samples.py."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "data" / "synthetic"
    rows = (folder / "pairs_sample.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "english\tkorean"
    pairs = [tuple(row.split("\t")) for row in rows[1:]]
    assert pairs == make_translation_pairs(len(pairs), seed=0)
    rows = (folder / "reviews_sample.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "label\ttext"
    texts, labels = make_reviews(len(rows) - 1, seed=0)
    assert rows[1:] == [f"{label}\t{text}" for label, text in zip(labels, texts)]
