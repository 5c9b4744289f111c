"""Text normalisation shared by the tokenizers, in Python and as TensorFlow ops.

Normalised text is: Unicode NFC (never NFD or accent stripping, which would split Hangul
syllables into jamo), runs of whitespace collapsed to one space, leading and trailing
whitespace removed, and, only when asked (English), lowercased.
"""

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def normalize_text(text, lowercase=False):
    """Python version of `normalize_strings` for one str.

    >>> normalize_text("  The   Cat\\tsat. ", lowercase=True)
    'the cat sat.'
    """
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return text.lower() if lowercase else text


def normalize_strings(strings, lowercase=False):
    """TensorFlow version of `normalize_text`: works eagerly, in tf.data and tf.function.

    Args:
        strings: tf.string tensor of any shape (or something convertible to one).
        lowercase: bool, lowercase with Unicode case rules (English only).

    Returns:
        tf.string tensor of the same shape.
    """
    import tensorflow as tf
    import tensorflow_text as tf_text

    strings = tf_text.normalize_utf8(tf.convert_to_tensor(strings, dtype=tf.string), "NFC")
    strings = tf.strings.strip(tf.strings.regex_replace(strings, r"[\s\p{Z}]+", " "))
    if lowercase:
        strings = tf.strings.lower(strings, encoding="utf-8")
    return strings
