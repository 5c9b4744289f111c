"""`TranslatorConfig`: the English->Korean translator run (data, tokenizers, model, training, decoding)."""

import dataclasses

from kdl_transformer.configs.checks import (
    check_average_best,
    check_choice,
    check_positive_int,
    check_rate,
)
from kdl_transformer.decoding import check_length_penalty, check_no_repeat_ngram_size
from kdl_transformer.distribute import check_precision
from kdl_transformer.layers.multi_head_attention import head_width
from kdl_transformer.layers.positional_embedding import POSITION_KINDS

DATASETS = ("tatoeba", "synthetic")
ARCHITECTURES = ("transformer", "gru", "gru_attention")  # see models.architectures
# What TranslatorConfig.quick() and .demo() share: one block per stack over short sentences,
# light dropout and no word dropout (the synthetic pairs are learnt in a few epochs).
SMALL_TRANSLATOR = dict(sequence_length=24, num_encoder_layers=1, num_decoder_layers=1,
                        dropout=0.1, token_dropout=0.0)


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
        shared_vocab_size: 0: the two vocabularies above. Above 0: one vocabulary of this
            size trained on both languages (`kdl_transformer.text.directions`), and one token
            table for the source embedding, the target embedding and the output projection
            (tied embeddings; Transformer only). The two sizes above are then unused.
        both_directions: with a shared vocabulary, train one model on English -> Korean and
            Korean -> English (each pair both ways), the source starting with a tag for the
            language to write ("<2ko>", "<2en>"). Validation and evaluation: English -> Korean.
        subword_sampling: BPE-dropout rate of the training pairs (subword regularisation:
            every epoch sees other segmentations of the same sentences); 0 = off.
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
        no_repeat_ngram_size: default repeat guard of both searches: n > 0 never writes the same
            n subwords twice in one translation; 0 allows every repeat. 3, chosen on the Tatoeba
            validation split (`benchmarks/results/translator_validation_no_repeat_*.json`, the
            extra-data model and the default): it removes nearly every run-on repeat
            ("2년 동안 2년 동안 ...") at the same or a slightly higher chrF (+0.01 / +0.11 beam).
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
    shared_vocab_size: int = 0
    both_directions: bool = False
    subword_sampling: float = 0.0
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
    no_repeat_ngram_size: int = 3
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
        check_rate("subword_sampling", self.subword_sampling)
        if self.shared_vocab_size < 0:
            raise ValueError(f"shared_vocab_size={self.shared_vocab_size} must be 0 (two "
                             "vocabularies) or the size of the shared one.")
        if self.shared_vocab_size and self.architecture != "transformer":
            raise ValueError(f"shared_vocab_size ties the Transformer's embeddings; "
                             f"architecture={self.architecture!r} has no tied version; set "
                             "shared_vocab_size=0.")
        if self.both_directions and not self.shared_vocab_size:
            raise ValueError("both_directions=True needs one vocabulary for both languages; "
                             "set shared_vocab_size too (e.g. 4000).")
        check_average_best(self.average_best)
        check_length_penalty(self.length_penalty, "length_penalty")
        check_no_repeat_ngram_size(self.no_repeat_ngram_size)
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
