"""The IMDB sentiment classifier of chapter 11: a Transformer encoder over token ids.

    token ids (B, T) -> PositionalEmbedding -> N x TransformerEncoder -> pooling
                     -> Dropout -> Dense(1, sigmoid) -> P(positive) (B, 1)

`build_classifier` makes the model over token ids (what `fit` trains);
`build_text_classifier` wraps a `TextVectorization` layer and that model into one
`TextClassifier` over raw strings, so that `text_model.predict(["a review"])` works and the
exported SavedModel takes strings. `encode_with_attention` re-runs the trained
layers with `return_attention_scores=True` to read the attention maps;
`attention_rollout` and `max_pool_wins` turn them into one importance per token.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from kdl_transformer.layers import MaskedGlobalPooling1D, PositionalEmbedding, TransformerEncoder
from kdl_transformer.layers.masked_global_pooling import POOLINGS
OPTIMIZERS = ("adamw", "adam", "rmsprop")
SCHEDULES = ("constant", "cosine")
MONITORS = ("val_loss", "val_accuracy")


@dataclasses.dataclass
class ClassifierConfig:
    """Everything that defines a classifier run; saved as `config.json` in the run directory.

    The defaults are the best recipe measured on the full IMDB run on 2 CPU cores
    (`benchmarks/results/classifier_quality*.json`): 800 tokens (the book: 600, which cuts
    4.4% of the test reviews short; 800 cuts 1.6%) and the book's width 256, split over 4 heads of 64 (the book: 2 heads of 256 each), a feed-forward of
    256, masked mean+max pooling, dropout 0.1 and word dropout 0.1, AdamW with warm-up
    and a cosine decay to 0 over 3 epochs, and the best epoch chosen by validation
    accuracy (with the rate annealed, the last epoch is the most accurate but slightly
    over-confident, which the validation loss punishes), 5% of the training reviews
    held out for validation (the book: 20%). Batches hold reviews of similar lengths,
    cut to their longest review (`workflows.classifier.make_dataset`), so an epoch of
    23,750 reviews takes about 2.5 minutes.

    XLA (`jit_compile=True`) does not pay off on CPU here (same wall time, ~17% more CPU
    time), and with `dropout > 0` inside the encoder it is about 100x slower (random
    masks of shape (batch, heads, T, T) under XLA on CPU); hence `jit_compile=False`.

    `ClassifierConfig.book()` is the book's model with per-head width
    `embed_dim // num_heads`, `quick()` is for CI and `demo()` for the offline
    synthetic-review demo.

    Args:
        vocab_size: size of the TextVectorization vocabulary (book: 20,000).
        sequence_length: reviews are padded/truncated to this many tokens (book: 600).
            Length bucketing makes the rare long reviews the only ones to pay for a long limit.
        embed_dim: width of token embeddings and of every encoder block.
        num_heads: attention heads; each head has width `embed_dim // num_heads`.
        dense_dim: hidden width of each encoder's feed-forward network.
        num_layers: number of stacked TransformerEncoder blocks.
        dropout: dropout inside the encoder blocks (attention weights, residuals).
        head_dropout: dropout between the pooled vector and the sigmoid (book: 0.5).
        positions: "learned" (book) or "sinusoidal" position information.
        norm_first: pre-norm encoder blocks (adds a final LayerNormalization).
        pooling: "max" (book's GlobalMaxPooling1D), "mean", or "mean_max"
            (concatenation); all of them ignore padded positions.
        batch_size: examples per training step.
        bucket_window: reviews are sorted by length within windows of this many batches, so
            that each batch holds similar lengths and is cut to its longest review; 1 keeps
            the batches' random composition and only cuts each to its longest review (better
            for tiny datasets such as the synthetic demo, where sorted batches learn worse).
        optimizer: "adamw", "adam" or "rmsprop" (book).
        learning_rate: peak learning rate.
        schedule: "constant" or "cosine" (linear warm-up then cosine decay to 0
            over `epochs`).
        warmup_fraction: share of all training steps spent warming up ("cosine").
        weight_decay: AdamW weight decay.
        epochs: maximum number of epochs (EarlyStopping may stop sooner).
        patience: EarlyStopping patience in epochs (on `monitor`).
        monitor: the validation metric that picks the best epoch (EarlyStopping, the
            checkpoint, checkpoint averaging): "val_loss" or "val_accuracy". With a schedule
            that anneals the learning rate to 0, the last epochs are often the most accurate
            but slightly over-confident, which the loss punishes and accuracy does not.
        validation_fraction: share of the training reviews held out for validation.
        token_dropout: share of the words of each training review replaced by the
            out-of-vocabulary token (word dropout).
        average_best: average the weights of this many best epochs at the end of
            training, kept when they validate better (checkpoint averaging; 0 = off).
        jit_compile: compile the train/predict steps with XLA.
        seed: seeds the train/validation split, shuffling and weights.
    """

    vocab_size: int = 20000
    sequence_length: int = 800
    embed_dim: int = 256
    num_heads: int = 4
    dense_dim: int = 256
    num_layers: int = 1
    dropout: float = 0.1
    head_dropout: float = 0.5
    positions: str = "learned"
    norm_first: bool = False
    pooling: str = "mean_max"
    batch_size: int = 32
    bucket_window: int = 16
    optimizer: str = "adamw"
    learning_rate: float = 5e-4
    schedule: str = "cosine"
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    epochs: int = 3
    patience: int = 3
    monitor: str = "val_accuracy"
    validation_fraction: float = 0.05
    token_dropout: float = 0.1
    average_best: int = 2
    jit_compile: bool = False
    seed: int = 1337

    def __post_init__(self):
        positive = ("vocab_size", "sequence_length", "embed_dim", "num_heads", "dense_dim",
                    "num_layers", "batch_size", "bucket_window", "epochs")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer.")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} does not divide embed_dim={self.embed_dim}; "
                "choose num_heads so that every head gets embed_dim // num_heads dimensions."
            )
        for name, allowed in (("positions", ("learned", "sinusoidal")), ("pooling", POOLINGS),
                              ("monitor", MONITORS),
                              ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {allowed}.")
        if self.average_best == 1 or self.average_best < 0:
            raise ValueError(
                f"average_best={self.average_best} must be 0 (off) or the number (>= 2) of "
                "best epochs to average."
            )
        for name in ("dropout", "head_dropout", "warmup_fraction", "validation_fraction",
                     "token_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be in [0, 1).")

    @classmethod
    def book(cls, **changes):
        """The book's model and training (length 600, embed 256, 2 heads, dense 32, RMSprop).

        Only the head width differs: `embed_dim // num_heads` = 128 per head instead of the
        book's 256 (its `key_dim=embed_dim`, twice the attention cost for no gain).
        """
        book = dict(sequence_length=600, embed_dim=256, num_heads=2, dense_dim=32,
                    num_layers=1, dropout=0.0, head_dropout=0.5, pooling="max",
                    optimizer="rmsprop", learning_rate=1e-3, schedule="constant",
                    epochs=20, patience=3, validation_fraction=0.2, monitor="val_loss",
                    token_dropout=0.0, average_best=0)
        return cls(**{**book, **changes})

    @classmethod
    def quick(cls, **changes):
        """A tiny model for CI smoke runs (seconds per epoch on 512 reviews)."""
        quick = dict(vocab_size=2000, sequence_length=64, embed_dim=32, num_heads=2,
                     dense_dim=32, dropout=0.0, head_dropout=0.1, pooling="max", batch_size=32,
                     optimizer="adam", learning_rate=3e-3, schedule="constant", epochs=2,
                     validation_fraction=0.2)
        return cls(**{**quick, **changes})

    @classmethod
    def demo(cls, **changes):
        """A tiny model that learns the synthetic reviews in a few seconds.

        No word dropout here (one dropped "not" flips a synthetic review's meaning), and no
        sorting by length across batches (measured: 95% instead of 98% held-out accuracy).
        """
        demo = dict(vocab_size=500, sequence_length=32, embed_dim=32, num_heads=2,
                    dense_dim=32, dropout=0.0, head_dropout=0.1, pooling="max", batch_size=32,
                    optimizer="adam", learning_rate=3e-3, schedule="constant", epochs=12,
                    validation_fraction=0.2, patience=3, monitor="val_loss",
                    token_dropout=0.0, average_best=0, bucket_window=1)
        return cls(**{**demo, **changes})


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
        vectorizer: an adapted `keras.layers.TextVectorization` (output_mode="int").
        model: the token-id model from `build_classifier`.

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
    vectorizer = model = None
    for layer in text_model.layers:
        if isinstance(layer, keras.layers.TextVectorization):
            vectorizer = layer
        elif isinstance(layer, keras.Model):
            model = layer
    if vectorizer is None or model is None:
        raise ValueError(
            f"Model {text_model.name!r} is not a text classifier (a TextVectorization layer "
            "followed by a classifier); build it with build_text_classifier."
        )
    return vectorizer, model


def encoder_layers(model):
    """The TransformerEncoder blocks of a `build_classifier` model, in order."""
    return [layer for layer in model.layers if isinstance(layer, TransformerEncoder)]


def encode_with_attention(model, token_ids):
    """Run the embedding and encoder blocks of `model`, keeping every attention map.

    Args:
        model: a model from `build_classifier` (trained or not).
        token_ids: int array (batch, length), 0 = padding.

    Returns:
        `(hidden, scores)`: the last encoder's outputs (batch, length, embed_dim)
        as numpy, and a list with one numpy array (batch, heads, length, length)
        per encoder block (rows: queries, columns: keys; padded keys get 0).
    """
    token_ids = ops.convert_to_tensor(np.asarray(token_ids, dtype="int64"))
    padding_mask = ops.not_equal(token_ids, 0)  # (B, T)
    x = model.get_layer("positional_embedding")(token_ids)  # (B, T, D)
    scores = []
    for encoder in encoder_layers(model):
        x, layer_scores = encoder(
            x, padding_mask=padding_mask, training=False, return_attention_scores=True
        )  # (B, T, D), (B, H, T, T)
        scores.append(ops.convert_to_numpy(layer_scores))
    return ops.convert_to_numpy(x), scores


def attention_scores(model, token_ids):
    """Per-layer attention weights, a list of (batch, heads, length, length) numpy arrays."""
    return encode_with_attention(model, token_ids)[1]


def attention_rollout(scores, padding_mask):
    """Attention rollout (Abnar & Zuidema, 2020): how much each token feeds the last layer.

    Each layer's head-averaged weights get the identity added (the residual
    connection) and rows renormalised; the layers are multiplied together, and the
    rows of real tokens are averaged into one score per key token.

    Args:
        scores: list of (batch, heads, length, length) arrays, first layer first.
        padding_mask: (batch, length) bool, True for real tokens.

    Returns:
        (batch, length) numpy array, summing to 1 over real tokens (0 on padding).
    """
    padding_mask = np.asarray(padding_mask, dtype=bool)
    length = padding_mask.shape[1]
    rollout = np.broadcast_to(np.eye(length), (padding_mask.shape[0], length, length))
    for layer_scores in scores:
        mixed = np.asarray(layer_scores).mean(axis=1) + np.eye(length)  # (B, T, T)
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        rollout = mixed @ rollout  # (B, T, T)
    rows = padding_mask[:, :, None].astype(rollout.dtype)  # only real queries
    importance = (rollout * rows).sum(axis=1) * padding_mask  # (B, T)
    return importance / np.maximum(importance.sum(axis=1, keepdims=True), 1e-12)


def max_pool_wins(hidden, padding_mask):
    """Share of the channels whose global max-pool picks each position.

    Args:
        hidden: (batch, length, channels) outputs of the last encoder block.
        padding_mask: (batch, length) bool, True for real tokens.

    Returns:
        (batch, length) numpy array summing to 1 over positions (0 on padding and
        for a sequence with no real token).
    """
    hidden = np.asarray(hidden)
    padding_mask = np.asarray(padding_mask, dtype=bool)
    masked = np.where(padding_mask[:, :, None], hidden, -np.inf)  # (B, T, C)
    winners = masked.argmax(axis=1)  # (B, C)
    wins = np.zeros(padding_mask.shape, dtype="float64")
    for row, row_winners in enumerate(winners):
        if padding_mask[row].any():
            wins[row] = np.bincount(row_winners, minlength=padding_mask.shape[1])
    return wins / np.maximum(wins.sum(axis=1, keepdims=True), 1.0)
