"""The book's word-level `TextVectorization` path, used by the IMDB classifier.

Deep Learning with Python (ch. 11) turns each review into at most `sequence_length`
word ids from a vocabulary of the `max_tokens` most frequent words of the training set:

    vectorization = make_text_vectorization(max_tokens=20000, sequence_length=600)
    adapt_text_vectorization(vectorization, train_texts)
    ids = vectorization(["This movie was great"])   # (1, 600) int64, 0 = padding

The same layer with `output_mode="multi_hot", ngrams=2` is the book's bag-of-bigrams
baseline.
"""

import keras

# What "lower_and_strip_punctuation" removes (Keras' own pattern).
PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
HTML_LINE_BREAK = r"<br\s*/?>"


@keras.saving.register_keras_serializable(package="kdl_transformer")
def lower_strip_line_breaks_and_punctuation(texts):
    """The book's standardisation, plus: HTML line breaks (`<br />`) become spaces.

    IMDB reviews carry `<br />` tags; the loader removes them, and this does the same inside
    the model, so that an exported model fed raw reviews sees what training saw (without it,
    `<br />` would turn into a token "br").

    Args:
        texts: string tensor.

    Returns:
        the lowercased texts, line breaks replaced by spaces, punctuation removed.
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, HTML_LINE_BREAK, " ")
    return tf.strings.regex_replace(texts, PUNCTUATION, "")


def make_text_vectorization(
    max_tokens=20000,
    sequence_length=600,
    standardize="lower_and_strip_punctuation",
    output_mode="int",
    ngrams=None,
):
    """A `keras.layers.TextVectorization` configured as in the book.

    Args:
        max_tokens: int, vocabulary size including the padding (0) and OOV (1) ids.
        sequence_length: int or None, pad/truncate `"int"` output to this length
            (None: pad each batch to its longest text).
        standardize: str, callable or None, as in `TextVectorization`.
        output_mode: `"int"` (sequence of ids) or `"multi_hot"`, `"count"`, `"tf_idf"`.
        ngrams: int or None, add n-grams up to this order (bag-of-bigrams: 2).

    Returns:
        an un-adapted `keras.layers.TextVectorization`; call `adapt_text_vectorization`.
    """
    if int(max_tokens) < 3:
        raise ValueError(f"max_tokens={max_tokens} must be at least 3 (padding, OOV and one word).")
    return keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize,
        output_mode=output_mode,
        output_sequence_length=sequence_length if output_mode == "int" else None,
        ngrams=ngrams,
    )


def adapt_text_vectorization(vectorization, texts, batch_size=1024):
    """Learn the vocabulary of `vectorization` from `texts` (the training split only).

    Args:
        vectorization: a `keras.layers.TextVectorization`.
        texts: list of str, or a `tf.data.Dataset` of str (batched or not).
        batch_size: int, batch size used when `texts` is a list.

    Returns:
        `vectorization`, adapted.
    """
    import tensorflow as tf

    if isinstance(texts, tf.data.Dataset):
        dataset = texts
    else:
        texts = list(texts)
        if not texts:
            raise ValueError("adapt_text_vectorization got no texts; pass the training texts.")
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, dtype=tf.string)).batch(batch_size)
    vectorization.adapt(dataset)
    return vectorization


def document_frequency_idf(vectorization, texts, batch_size=1024):
    """Inverse document frequencies of the vocabulary of an adapted multi-hot `vectorization`.

    Keras's own TF-IDF weights, `log(1 + documents / (1 + documents holding the n-gram))`,
    computed from `texts` (the training split); the out-of-vocabulary entry gets the mean of
    the others, as Keras gives it. What `set_vocabulary(vocabulary, idf_weights)` of a
    `"tf_idf"` layer takes.

    Returns:
        float numpy array (vocabulary size,).
    """
    import numpy as np
    import tensorflow as tf

    texts = list(texts)
    counts = 0.0
    for start in range(0, len(texts), batch_size):
        hot = vectorization(tf.constant(texts[start : start + batch_size], tf.string))  # (B, V)
        counts = counts + np.asarray(hot).sum(axis=0)
    size = vectorization.vocabulary_size()
    idf = np.log1p(len(texts) / (1.0 + np.asarray(counts, dtype="float64")[:size]))
    idf[0] = idf[1:].mean() if size > 1 else idf[0]  # index 0: the OOV token
    return idf
