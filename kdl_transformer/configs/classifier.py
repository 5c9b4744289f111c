"""`ClassifierConfig`: the IMDB classifier run (data, vectorizer, model, optimizer, schedule)."""

import dataclasses
from typing import Optional

from kdl_transformer.configs.checks import (
    MONITORS,
    OPTIMIZERS,
    SCHEDULES,
    check_average_best,
    check_choice,
    check_positive_int,
    check_rate,
)
from kdl_transformer.distribute import check_precision
from kdl_transformer.layers.masked_global_pooling import POOLINGS
from kdl_transformer.layers.multi_head_attention import head_width
from kdl_transformer.layers.positional_embedding import POSITION_KINDS

CLASSIFIER_MODELS = ("transformer", "bigrams", "bert")
BIGRAM_OUTPUT_MODES = ("multi_hot", "tf_idf")
TRUNCATIONS = ("head", "head_tail")


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

    Three networks share the same training, evaluation and export (`model`):
    "transformer" (the book's Transformer encoder over word ids, the default),
    "bigrams" (the book's bag-of-bigrams baseline: TextVectorization(ngrams=2) as multi-hot
    or TF-IDF vectors, Dense(16, relu), Dropout(0.5), Dense(1, sigmoid); `vocab_size` is its
    number of unigrams + bigrams, the sizes of the encoder do not apply) and "bert" (a
    `kdl-transformer pretrain bert` encoder fine-tuned with a head on [CLS] or on pooled
    tokens: its WordPiece vocabulary, sizes and weights come from `init_from`, so
    `vocab_size`, `embed_dim`, `num_heads`, `dense_dim`, `num_layers`, `positions` and
    `norm_first` do not apply, `dropout` is the encoder's while fine-tuning, and reviews are
    cut to `min(sequence_length, the encoder's)` WordPiece tokens). Setting `init_from`
    alone selects "bert".

    Args:
        model: "transformer", "bigrams" or "bert" (see above).
        init_from: with model="bert", a finished `kdl-transformer pretrain bert` run
            directory (its encoder weights are the starting point).
        bigram_output_mode: with model="bigrams", "multi_hot" (the book: 1 if the
            n-gram occurs) or "tf_idf".
        truncation: with model="bert", which WordPiece tokens of a long review are kept:
            "head" (the first ones) or "head_tail" (the first quarter and the last three
            quarters of the budget, the best on IMDB in Sun et al. 2019).
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
            (concatenation); all of them ignore padded positions. With model="bert" also
            "cls" (the encoder's output at [CLS]).
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
        epochs: maximum number of epochs (early stopping may end training sooner).
        patience: early-stopping patience in epochs (on `monitor`).
        monitor: the validation metric that picks the best epoch (early stopping, the
            checkpoint, checkpoint averaging): "val_loss" or "val_accuracy". With a schedule
            that anneals the learning rate to 0, the last epochs are often the most accurate
            but slightly over-confident, which the loss punishes and accuracy does not.
        validation_fraction: share of the training reviews held out for validation.
        token_dropout: share of the words of each training review replaced by the
            out-of-vocabulary token (word dropout).
        average_best: average the weights of this many best epochs at the end of
            training, kept when they validate better (checkpoint averaging; 0 = off).
        jit_compile: compile the train/predict steps with XLA.
        precision: "float32", "mixed_bfloat16" or "mixed_float16" (computations in 16 bits,
            variables in float32; float16 with Keras's dynamic loss scaling).
        seed: seeds the shuffling and weights, and the train/validation split unless
            `split_seed` is set.
        split_seed: seeds the train/validation split (None: `seed`), so that runs of
            several seeds validate on the same reviews (and a fine-tuned BERT on those held
            out of its pretraining).
    """

    model: str = "transformer"
    init_from: str = ""
    bigram_output_mode: str = "multi_hot"
    truncation: str = "head"
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
    precision: str = "float32"
    seed: int = 1337
    split_seed: Optional[int] = None

    @property
    def data_seed(self):
        """The seed of the train/validation split: `split_seed`, else `seed`."""
        return self.seed if self.split_seed is None else self.split_seed

    def __post_init__(self):
        if self.init_from and self.model == "transformer":
            self.model = "bert"  # init_from alone asks for a fine-tuned pretrained encoder
        for name, choices in (("model", CLASSIFIER_MODELS),
                              ("bigram_output_mode", BIGRAM_OUTPUT_MODES),
                              ("truncation", TRUNCATIONS)):
            check_choice(name, getattr(self, name), choices)
        if self.model == "bert" and not self.init_from:
            raise ValueError(
                "model='bert' fine-tunes a pretrained encoder: set init_from to a "
                "`kdl-transformer pretrain bert` run directory."
            )
        if self.init_from and self.model != "bert":
            raise ValueError(f"init_from applies to model='bert' only, not model={self.model!r}.")
        if self.model != "bert" and self.pooling == "cls":
            raise ValueError("pooling='cls' needs model='bert' (only its inputs start with [CLS]).")
        if self.model != "bert" and self.truncation != "head":
            raise ValueError(
                f"truncation={self.truncation!r} needs model='bert' (the word-id models keep "
                "the first words of a review)."
            )
        for name in ("vocab_size", "sequence_length", "embed_dim", "num_heads", "dense_dim",
                     "num_layers", "batch_size", "bucket_window", "epochs"):
            check_positive_int(name, getattr(self, name))
        head_width(self.embed_dim, self.num_heads)
        for name, choices in (("positions", POSITION_KINDS), ("pooling", POOLINGS),
                              ("monitor", MONITORS), ("optimizer", OPTIMIZERS),
                              ("schedule", SCHEDULES)):
            check_choice(name, getattr(self, name), choices)
        check_average_best(self.average_best)
        check_precision(self.precision)
        for name in ("dropout", "head_dropout", "warmup_fraction", "validation_fraction",
                     "token_dropout"):
            check_rate(name, getattr(self, name))

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
