"""The IMDB sentiment classifier of chapter 11: a Transformer encoder over token ids.

    token ids (B, T) -> PositionalEmbedding -> N x TransformerEncoder -> pooling
                     -> Dropout -> Dense(1, sigmoid) -> P(positive) (B, 1)

The model builders only: `build_classifier` makes the model over token ids (what `fit`
trains) from a `kdl_transformer.configs.ClassifierConfig`; `build_text_classifier` wraps a
`TextVectorization` layer and that model into one `TextClassifier` over raw strings, so that
`text_model.predict(["a review"])` works and the exported SavedModel takes strings;
`split_text_classifier` takes them apart again, and `check_texts` checks the raw input.
Training objectives are in `kdl_transformer.objectives`, attention maps in
`kdl_transformer.attention_maps`.
"""

import keras
import numpy as np

from kdl_transformer.layers import MaskedGlobalPooling1D, PositionalEmbedding, TransformerEncoder


def build_classifier(config):
    """Build the book's Transformer classifier over token ids.

    Args:
        config: a `ClassifierConfig`.

    Returns:
        A `keras.Model` named "classifier" mapping int token ids (batch, length),
        0 = padding, length <= `config.sequence_length`, to P(positive) (batch, 1).
        Its layers are named "positional_embedding", "encoder_0", ...,
        "pooling", "head_dropout", "probability".

    Example:

    >>> model = build_classifier(ClassifierConfig.quick())
    >>> model.predict(np.array([[12, 7, 3, 0]]), verbose=0).shape
    (1, 1)
    """
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")  # (B, T)
    x = PositionalEmbedding(
        config.sequence_length,
        config.vocab_size,
        config.embed_dim,
        positions=config.positions,
        name="positional_embedding",
    )(token_ids)  # (B, T, D), carries the padding mask
    for index in range(config.num_layers):
        x = TransformerEncoder(
            config.embed_dim,
            config.dense_dim,
            config.num_heads,
            dropout=config.dropout,
            norm_first=config.norm_first,
            name=f"encoder_{index}",
        )(x)  # (B, T, D)
    if config.norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    x = MaskedGlobalPooling1D(config.pooling, name="pooling")(x)  # (B, D) or (B, 2D)
    x = keras.layers.Dropout(config.head_dropout, name="head_dropout")(x)
    # The head stays float32 under mixed precision: a bfloat16 sigmoid saturates near 0 and 1.
    probability = keras.layers.Dense(
        1, activation="sigmoid", dtype="float32", name="probability"
    )(x)  # (B, 1)
    return keras.Model(token_ids, probability, name="classifier")


def check_texts(texts):
    """Return `texts` as a list of str, or raise a one-sentence ValueError."""
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(
            f"Expected a list of review strings, got {type(texts).__name__}; "
            'pass e.g. ["A wonderful film."].'
        ) from None
    for index, text in enumerate(texts):
        if isinstance(text, bytes):
            texts[index] = text.decode("utf-8")
        elif not isinstance(text, str):
            raise ValueError(
                f"Review {index} is a {type(text).__name__} ({text!r:.40}), not a string; "
                "pass the raw review text."
            )
    return texts


@keras.saving.register_keras_serializable(package="kdl_transformer")
class TextClassifier(keras.Model):
    """A functional model over raw review strings whose `predict` also takes a Python list.

    Keras' `predict` does not accept a list of strings (nor a numpy array of them); this
    model turns either into a `tf.string` tensor first, so `text_model.predict(["a review"])`
    works. Build it with `build_text_classifier`; it saves and reloads like any functional
    model.
    """

    def predict(self, x, *args, **kwargs):
        if isinstance(x, (str, bytes)):
            x = [x]
        if isinstance(x, (list, tuple, np.ndarray)):
            import tensorflow as tf

            x = tf.constant(check_texts(list(x)), tf.string)
        return super().predict(x, *args, **kwargs)


def build_text_classifier(vectorizer, model):
    """Put a vectorizer in front of a token-id classifier: raw strings in, P(positive) out.

    Args:
        vectorizer: an adapted `keras.layers.TextVectorization` (word ids, or bigram
            vectors) or a `text.wordpiece.WordPieceVectorizer`.
        model: the classifier over the vectorizer's output (`build_classifier`,
            `models.bigrams.build_bigram_classifier`, `models.bert.BertClassifier`).

    Returns:
        A `TextClassifier` named "text_classifier" over a batch of strings (batch,)
        returning probabilities (batch, 1).

    Example:

    >>> text_model = build_text_classifier(vectorizer, model)
    >>> text_model.predict(["a wonderful film", "a dull, lifeless film"], verbose=0).shape
    (2, 1)
    """
    texts = keras.Input(shape=(), dtype="string", name="texts")  # (B,)
    token_ids = vectorizer(texts)  # (B, T)
    probability = model(token_ids)  # (B, 1)
    return TextClassifier(texts, probability, name="text_classifier")


def split_text_classifier(text_model):
    """Return `(vectorizer, model)` from a model made by `build_text_classifier`."""
    from kdl_transformer.text.wordpiece import WordPieceVectorizer

    vectorizer = model = None
    for layer in text_model.layers:
        if isinstance(layer, (keras.layers.TextVectorization, WordPieceVectorizer)):
            vectorizer = layer
        elif isinstance(layer, keras.Model):
            model = layer
    if vectorizer is None or model is None:
        raise ValueError(
            f"Model {text_model.name!r} is not a text classifier (a TextVectorization layer "
            "followed by a classifier); build it with build_text_classifier."
        )
    return vectorizer, model
