"""The run configurations of both models, and the checks they share.

Each run of `kdl-transformer train` is described by one dataclass, saved as `config.json` in
its run directory and read back by every later command (evaluate, predict, translate,
attention, export, resume):

- `ClassifierConfig`: the IMDB classifier (data, vectorizer, model, optimizer, schedule).
- `TranslatorConfig`: the English->Korean translator (data, tokenizers, model, training,
  decoding).

Both validate their values up front (`__post_init__`) with the small checks below, whose
messages name the value and say what is allowed (`num_heads=3 does not divide embed_dim=256`).
The heads-divide-width check is the layers' own (`layers.multi_head_attention.head_width`) and
the length-penalty check the searches' own (`decoding.check_length_penalty`), so that a config
refuses exactly what the model or the search would.
"""

import dataclasses

from kdl_transformer.decoding import check_length_penalty
from kdl_transformer.distribute import check_precision
from kdl_transformer.layers.masked_global_pooling import POOLINGS
from kdl_transformer.layers.multi_head_attention import head_width
from kdl_transformer.layers.positional_embedding import POSITION_KINDS

OPTIMIZERS = ("adamw", "adam", "rmsprop")
SCHEDULES = ("constant", "cosine")
MONITORS = ("val_loss", "val_accuracy")
DATASETS = ("tatoeba", "synthetic")
ARCHITECTURES = ("transformer", "gru", "gru_attention")  # see models.architectures
# What TranslatorConfig.quick() and .demo() share: one block per stack over short sentences,
# light dropout and no word dropout (the synthetic pairs are learnt in a few epochs).
SMALL_TRANSLATOR = dict(sequence_length=24, num_encoder_layers=1, num_decoder_layers=1,
                        dropout=0.1, token_dropout=0.0)


# ------------------------------------------------------------------------------------ checks
def check_choice(name, value, choices):
    """Raise a ValueError unless `value` is one of `choices` (a tuple, shown in the message)."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {choices}.")


def check_rate(name, value):
    """Raise a ValueError unless `value` (a dropout or a share) is in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value!r} must be in [0, 1).")


def check_positive_int(name, value):
    """Raise a ValueError unless `value` is an int >= 1 (a bool is not)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer.")


def check_average_best(value):
    """Checkpoint averaging: 0 (off) or a number of best epochs >= 2 (1 would average nothing)."""
    if value == 1 or value < 0:
        raise ValueError(
            f"average_best={value} must be 0 (off) or the number (>= 2) of best epochs to "
            "average."
        )


# ------------------------------------------------------------------------------------ classifier
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
    precision: str = "float32"
    seed: int = 1337

    def __post_init__(self):
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


# ------------------------------------------------------------------------------------ translator
@dataclasses.dataclass
class TranslatorConfig:
    """Everything that defines a translator run; saved as `config.json` in the run directory.

    The defaults are the best Tatoeba-only recipe measured (`benchmarks/results/`): a small
    2+2-layer model and nearly character-level Korean subwords (1,200 pieces for ~970 distinct
    syllables), because 4,588 training pairs cannot feed a big model or a big vocabulary; word
    dropout 0.2 on top of dropout 0.3, so that it keeps improving for 80+ epochs; the average
    of the 5 best epochs; beam search with length penalty 1.5. It trains in about 17 minutes on
    2 CPU cores. `quick()` is for CI and `demo()` for the offline demo on synthetic pairs (both
    without word dropout: the synthetic pairs are learnt in a few epochs).

    Args:
        dataset: "tatoeba" (manythings kor-eng, split by English sentence) or "synthetic"
            (`make_translation_pairs`, offline).
        synthetic_pairs: number of synthetic pairs (train + validation + test) for "synthetic".
        extra_data: also train on the optional extra English-Korean pairs
            (`load_extra_enko`, tidied to Tatoeba's style), deduplicated against the
            evaluation sets.
        tatoeba_repeats: with `extra_data`, each Tatoeba training pair appears this many times
            per epoch, so that the small in-domain corpus (4,588 pairs) is not drowned by the
            ~60,000 extra pairs.
        extra_repeats: with `extra_data`, file name -> copies of that file's pairs (0 leaves
            it out; files not named: 1), e.g. `--set 'extra_repeats={"pawsx-wiki.en-ko.tsv": 0}'`.
        extra_caps: with `extra_data`, file name -> at most this many of its pairs (a seeded
            subset). The rows read, dropped and kept per file are saved as extra_data.json.
        init_from: a finished translator run directory to start from: its tokenizers and
            trained weights are this run's starting point (fine-tuning, e.g. on Tatoeba alone
            after training on Tatoeba plus the extra pairs). Its model sizes must match.
        architecture: the network: "transformer" (attention only), "gru" (bidirectional GRU
            encoder, one context vector, GRU decoder) or "gru_attention" (the same with additive
            attention over every encoder state); see `kdl_transformer.models.architectures`.
        rnn_units: width of the GRU states (the two GRU architectures only).
        source_vocab_size: English subword vocabulary size (reserved tokens included).
        target_vocab_size: Korean subword vocabulary size.
        sequence_length: most English subwords per sentence (longer input is cut), and most
            decoder positions (Korean subwords + 1 for [START] / [END]); training pairs are
            padded or cut to it.
        embed_dim: width of embeddings and of every Transformer block.
        dense_dim: hidden width of the feed-forward networks (Transformer).
        num_heads: attention heads; each has width `embed_dim // num_heads` (Transformer).
        num_encoder_layers: stacked TransformerEncoder blocks (GRU: bidirectional GRU layers).
        num_decoder_layers: stacked TransformerDecoder blocks (GRU: GRU layers).
        dropout: dropout on embeddings, attention weights and residual branches.
        norm_first: pre-norm blocks (plus a final LayerNormalization on each stack).
        positions: "learned" (book) or "sinusoidal".
        batch_size: sentence pairs per training step.
        epochs: maximum number of epochs (early stopping may end training sooner).
        patience: early-stopping patience (epochs without a better validation loss).
        learning_rate: peak learning rate, reached after `warmup_steps`.
        warmup_steps: linear warm-up steps; afterwards the rate decays as 1/sqrt(step).
        weight_decay: AdamW weight decay.
        label_smoothing: share of probability mass spread over the vocabulary in the loss.
        token_dropout: share of the source and decoder-input subwords replaced by [UNK] in
            each training batch (word dropout, a strong regulariser on small corpora).
        average_best: average the weights of this many best epochs at the end of training,
            kept when they validate better (checkpoint averaging; 0 = off).
        jit_compile: compile the training step with XLA. Off by default: the training batches
            are trimmed to their longest row, so shapes vary and XLA would recompile for each.
        beam_size: default beam width for `Translator.translate(method="beam")`.
        length_penalty: default GNMT length-penalty exponent alpha (>= 0) for beam search. 1.5,
            chosen on the Tatoeba validation split (`benchmarks/translator_validation.py`): chrF,
            which weighs recall twice as much as precision, rewards the longer translations that
            a larger alpha prefers (0.6, the GNMT value, gave 0.7 chrF less).
        precision: "float32", "mixed_bfloat16" or "mixed_float16" (computations in 16 bits,
            variables in float32; float16 with Keras's dynamic loss scaling).
        seed: seeds the split, shuffling and weights.
    """

    dataset: str = "tatoeba"
    synthetic_pairs: int = 6000
    extra_data: bool = False
    tatoeba_repeats: int = 1
    extra_repeats: dict = dataclasses.field(default_factory=dict)
    extra_caps: dict = dataclasses.field(default_factory=dict)
    init_from: str = ""
    architecture: str = "transformer"
    rnn_units: int = 512
    source_vocab_size: int = 600
    target_vocab_size: int = 1200
    sequence_length: int = 48
    embed_dim: int = 256
    dense_dim: int = 512
    num_heads: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.3
    norm_first: bool = True
    positions: str = "learned"
    batch_size: int = 64
    epochs: int = 100
    patience: int = 10
    learning_rate: float = 1e-3
    warmup_steps: int = 400
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    token_dropout: float = 0.2
    average_best: int = 5
    jit_compile: bool = False
    beam_size: int = 4
    length_penalty: float = 1.5
    precision: str = "float32"
    seed: int = 1337

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_positive_int("rnn_units", self.rnn_units)
        check_choice("positions", self.positions, POSITION_KINDS)
        if self.tatoeba_repeats < 1:
            raise ValueError(f"tatoeba_repeats={self.tatoeba_repeats} must be at least 1.")
        check_rate("token_dropout", self.token_dropout)
        check_average_best(self.average_best)
        check_length_penalty(self.length_penalty, "length_penalty")
        check_precision(self.precision)
        head_width(self.embed_dim, self.num_heads)

    @classmethod
    def quick(cls, **overrides):
        """A tiny model and a few steps, for CI and smoke tests (seconds)."""
        quick = dict(
            target_vocab_size=1000,  # Korean needs >= its distinct syllables (~450 in 600 pairs)
            source_vocab_size=500, embed_dim=32, dense_dim=64, num_heads=2, batch_size=32,
            epochs=2, patience=2, warmup_steps=20, average_best=2,
        )
        return cls(**{**SMALL_TRANSLATOR, **quick, **overrides})

    @classmethod
    def demo(cls, **overrides):
        """The offline demo: a small model that learns the synthetic pairs in about a minute."""
        demo = dict(dataset="synthetic", synthetic_pairs=6000, source_vocab_size=200,
                    target_vocab_size=300, embed_dim=64, dense_dim=128, num_heads=4,
                    batch_size=64, epochs=10, patience=3, learning_rate=2e-3, warmup_steps=100,
                    weight_decay=0.0, average_best=0)
        return cls(**{**SMALL_TRANSLATOR, **demo, **overrides})
