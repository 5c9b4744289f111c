"""The book's bag-of-bigrams baseline: a small dense network over n-gram vectors.

    review -> TextVectorization(ngrams=2, "multi_hot" or "tf_idf") -> (B, vocab_size)
           -> Dense(16, relu) -> Dropout(0.5) -> Dense(1, sigmoid) -> P(positive) (B, 1)

Deep Learning with Python (ch. 11) shows that on IMDB this ~320,000-parameter model, which
ignores word order beyond pairs, is as accurate as its Transformer (about 90% on the test
set): the baseline that `kdl-transformer train classifier --set model=bigrams` reproduces.
The vectorizer is made by `workflows.classifier_inputs.make_vectorizer`.
"""

import keras

HIDDEN_UNITS = 16  # the book's


def build_bigram_classifier(config, num_ngrams=None):
    """The book's bag-of-bigrams classifier over n-gram vectors.

    Args:
        config: a `ClassifierConfig` (`head_dropout`: the book's 0.5).
        num_ngrams: int, entries of each vector: the vectorizer's vocabulary size, at most
            `config.vocab_size` (the default), fewer when the texts hold fewer n-grams.

    Returns:
        A `keras.Model` named "classifier" mapping float vectors (batch, num_ngrams) to
        P(positive) (batch, 1); layers "hidden", "head_dropout", "probability".

    Example:

    >>> model = build_bigram_classifier(ClassifierConfig(model="bigrams", vocab_size=50))
    >>> model.predict(np.zeros((1, 50)), verbose=0).shape
    (1, 1)
    """
    num_ngrams = config.vocab_size if num_ngrams is None else int(num_ngrams)
    vectors = keras.Input(shape=(num_ngrams,), dtype="float32", name="ngrams")  # (B, V)
    x = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden")(vectors)  # (B, 16)
    x = keras.layers.Dropout(config.head_dropout, name="head_dropout")(x)
    probability = keras.layers.Dense(1, activation="sigmoid", dtype="float32",
                                     name="probability")(x)  # (B, 1)
    return keras.Model(vectors, probability, name="classifier")
