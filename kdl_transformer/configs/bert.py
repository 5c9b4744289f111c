"""`BertConfig`: BERT-style pretraining of the package's encoder on the IMDB training reviews."""

import dataclasses
import math

from kdl_transformer.configs.checks import check_positive_int, check_rate
from kdl_transformer.layers.multi_head_attention import head_width


@dataclasses.dataclass
class BertConfig:
    """Everything that defines a pretraining run; saved as `config.json` in the run directory.

    BERT (Devlin et al., 2019) at CPU size: token + learned position + segment embeddings,
    `num_layers` TransformerEncoder blocks, a masked-LM head tied to the token embedding
    (computed at the masked positions only) and, with `nsp`, a next-sentence head on [CLS].
    The pretraining text is the IMDB training reviews minus the classifier's validation
    split (`validation_fraction`, `seed`: the same split as `ClassifierConfig`'s, so that
    fine-tuning never validates on a pretrained review); the test reviews are never read.
    `validation_reviews` of the remaining reviews are held out to measure the masked-token
    accuracy with fixed masks; the rest are masked anew every epoch (dynamic masking).

    An epoch makes one example per pretraining review: with `nsp`, [CLS] A [SEP] B [SEP]
    where A ends at a sentence boundary and B is the text that follows it (label 1) or, half
    of the time, a passage of another review starting at a sentence (label 0); without
    `nsp` (the MLM-only ablation), [CLS] X [SEP], one window of the review. Each epoch picks
    new boundaries, partners and masks.

    The defaults fit the 90-minute budget of 2 CPU cores, after the lessons of "Cramming"
    (Geiping & Goldstein, 2023) for BERT on little compute: pre-norm blocks (stable at a high
    learning rate), no dropout while pretraining (the examples change every epoch; the
    fine-tuning run sets its own dropout), the MLM head computed only at the masked
    positions, a short sequence (256 WordPiece tokens: 55% of the reviews fit whole, the
    median review has 236), a linear warm-up then a cosine decay to 0 over the whole budget,
    and a small model for the few tokens that budget allows (width 256, 4 blocks of 4 heads,
    feed-forward 512: 2.1M weights besides the embeddings, 4.4M in all; 4 epochs are 24M
    positions, 18M of them real tokens). With XLA (fixed (64, 256) batches), one step took
    2.6 s on the 2 otherwise idle cores (`benchmarks/bert.py --step-timing`), so an epoch of
    23,250 reviews (364 steps) takes about 16 minutes and the 4 epochs about 65, plus 2-3
    minutes to learn the 8,192-token WordPiece vocabulary (the learner keeps pieces seen at
    least 10 times); another job on the same cores doubles that. XLA is about 15% faster
    here, but only without dropout (with dropout > 0 it is far slower on CPU); turn
    `jit_compile` off when setting `dropout`.

    Args:
        vocab_size: WordPiece vocabulary size asked for, reserved tokens included
            ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4); the learner may return fewer.
        sequence_length: WordPiece tokens per example, [CLS] and [SEP]s included; also the
            size of the position table, hence the longest input a fine-tuned model reads.
        embed_dim: width of the embeddings and of every encoder block.
        num_heads: attention heads; each has width `embed_dim // num_heads`.
        dense_dim: hidden width of each block's feed-forward network.
        num_layers: stacked TransformerEncoder blocks.
        dropout: dropout on the embeddings, attention weights and residual branches.
        norm_first: pre-norm blocks (plus a final LayerNormalization).
        nsp: also train next-sentence prediction on [CLS] (False: masked LM only).
        mask_rate: share of the real tokens ([CLS]/[SEP]/[PAD] excluded) chosen for
            prediction in each example (`ceil(mask_rate * n)` of its n tokens).
        mask_token_rate: share of the chosen tokens replaced by [MASK].
        random_token_rate: share of the chosen tokens replaced by a random token (the rest
            are kept as they are).
        batch_size: examples per training step.
        learning_rate: peak learning rate of AdamW.
        warmup_fraction: share of all training steps spent warming up linearly.
        weight_decay: AdamW weight decay.
        epochs: passes over the pretraining reviews (one example per review each).
        steps_per_epoch: training steps per epoch; 0 = one pass over the pretraining reviews.
        validation_reviews: pretraining reviews held out for the validation metrics.
        validation_fraction: share of the IMDB training reviews held out as the classifier's
            validation split (never pretrained on); must be the fine-tuning run's.
        jit_compile: compile the training step with XLA (batches then keep their full
            `sequence_length`: one shape to compile).
        seed: seeds the classifier split (as `ClassifierConfig.seed`), the held-out reviews,
            the example order and the weights.
    """

    vocab_size: int = 8192
    sequence_length: int = 256
    embed_dim: int = 256
    num_heads: int = 4
    dense_dim: int = 512
    num_layers: int = 4
    dropout: float = 0.0
    norm_first: bool = True
    nsp: bool = True
    mask_rate: float = 0.15
    mask_token_rate: float = 0.8
    random_token_rate: float = 0.1
    batch_size: int = 64
    learning_rate: float = 5e-4
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    epochs: int = 4
    steps_per_epoch: int = 0
    validation_reviews: int = 500
    validation_fraction: float = 0.05
    jit_compile: bool = True
    seed: int = 1337

    def __post_init__(self):
        for name in ("vocab_size", "sequence_length", "embed_dim", "num_heads", "dense_dim",
                     "num_layers", "batch_size", "epochs", "validation_reviews"):
            check_positive_int(name, getattr(self, name))
        head_width(self.embed_dim, self.num_heads)
        if self.vocab_size < 16:
            raise ValueError(f"vocab_size={self.vocab_size} must be at least 16 (5 are reserved).")
        if self.sequence_length < 8:
            raise ValueError(
                f"sequence_length={self.sequence_length} must be at least 8 "
                "([CLS] A [SEP] B [SEP] needs room for both segments)."
            )
        if not 0.0 < self.mask_rate < 1.0:
            raise ValueError(f"mask_rate={self.mask_rate!r} must be in (0, 1).")
        for name in ("mask_token_rate", "random_token_rate", "dropout", "warmup_fraction",
                     "validation_fraction"):
            check_rate(name, getattr(self, name))
        if self.mask_token_rate + self.random_token_rate > 1.0:
            raise ValueError(
                f"mask_token_rate + random_token_rate = "
                f"{self.mask_token_rate + self.random_token_rate:g} must be at most 1."
            )
        if not isinstance(self.steps_per_epoch, int) or self.steps_per_epoch < 0:
            raise ValueError(
                f"steps_per_epoch={self.steps_per_epoch!r} must be 0 (one pass over the "
                "reviews) or a positive number of steps."
            )

    @property
    def max_predictions(self):
        """Masked positions per example the head computes: `ceil(mask_rate * sequence_length)`.

        In a tf.data pipeline, the mask generator (keras_hub over tf-text's
        `RandomItemSelector`) chooses exactly `ceil(mask_rate * n)` of an example's n
        selectable tokens, so this many slots always suffice.
        """
        return math.ceil(self.mask_rate * self.sequence_length)

    @classmethod
    def quick(cls, **changes):
        """A tiny model and short sequences, for CI smoke runs (seconds per epoch).

        Its held-out split is that of `ClassifierConfig.quick()` (20%), so that a quick
        classifier fine-tunes from a quick pretraining run.
        """
        quick = dict(vocab_size=1000, sequence_length=64, embed_dim=32, num_heads=2,
                     dense_dim=64, num_layers=1, dropout=0.0, batch_size=16,
                     learning_rate=1e-3, warmup_fraction=0.1, epochs=2, validation_reviews=32,
                     validation_fraction=0.2, jit_compile=False)
        return cls(**{**quick, **changes})
