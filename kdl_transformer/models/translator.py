"""The English->Korean translator: a sequence-to-sequence Transformer (시퀀스 투 시퀀스).

    English subword ids (B, S) -> PositionalEmbedding -> N x TransformerEncoder  (인코더)
                                                              | encoder outputs (B, S, D)
    [START] + Korean ids (B, T) -> PositionalEmbedding -> M x TransformerDecoder (디코더:
        masked self-attention, then cross-attention 크로스 어텐션 over the encoder outputs)
                                -> Dense(target vocabulary) -> logits (B, T, V)

Pieces:

- `TranslatorConfig`: every number of a run (data, tokenizers, model, training, decoding),
  saved as `config.json`; `quick()` for CI, `demo()` for the synthetic offline demo.
- `Seq2SeqTransformer`: the Keras model. `call([source_ids, decoder_input_ids])` -> logits for
  training with teacher forcing; `encode`, `init_cache` and the pure cached step
  `next(token_ids, cache, index) -> (logits, cache)` for decoding (see `kdl_transformer.decoding`);
  `forward(..., return_attention_scores=True)` for attention maps.
- Training objects, all serializable: `MaskedSparseCrossentropy` (label smoothing, padding
  ignored), `MaskedAccuracy`, `WarmupSchedule` (linear warm-up, then 1/sqrt(step) decay, as in
  the paper), and `compile_translator`.
- `Translator`: two tokenizers + the model + search, with `translate`, `score` and `attention`.
  It holds everything it uses (no globals) and compiles each search once.
"""

import dataclasses
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kdl_transformer import decoding
from kdl_transformer.layers import PositionalEmbedding, TransformerDecoder, TransformerEncoder
from kdl_transformer.layers import masking

PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
SEARCH_METHODS = ("greedy", "beam")


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
            ~35,700 extra pairs.
        init_from: a finished translator run directory to start from: its tokenizers and
            trained weights are this run's starting point (fine-tuning, e.g. on Tatoeba alone
            after training on Tatoeba plus the extra pairs). Its model sizes must match.
        source_vocab_size: English subword vocabulary size (reserved tokens included).
        target_vocab_size: Korean subword vocabulary size.
        sequence_length: most English subwords per sentence (longer input is cut), and most
            decoder positions (Korean subwords + 1 for [START] / [END]); training pairs are
            padded or cut to it.
        embed_dim: width of embeddings and of every block.
        dense_dim: hidden width of the feed-forward networks.
        num_heads: attention heads; each has width `embed_dim // num_heads`.
        num_encoder_layers: stacked TransformerEncoder blocks.
        num_decoder_layers: stacked TransformerDecoder blocks.
        dropout: dropout on embeddings, attention weights and residual branches.
        norm_first: pre-norm blocks (plus a final LayerNormalization on each stack).
        positions: "learned" (book) or "sinusoidal".
        batch_size: sentence pairs per training step.
        epochs: maximum number of epochs (EarlyStopping may stop sooner).
        patience: EarlyStopping patience (epochs without a better validation loss).
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
        seed: seeds the split, shuffling and weights.
    """

    dataset: str = "tatoeba"
    synthetic_pairs: int = 6000
    extra_data: bool = False
    tatoeba_repeats: int = 1
    init_from: str = ""
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
    seed: int = 1337

    def __post_init__(self):
        if self.dataset not in ("tatoeba", "synthetic"):
            raise ValueError(f"dataset={self.dataset!r} is not 'tatoeba' or 'synthetic'.")
        if self.positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions={self.positions!r} is not 'learned' or 'sinusoidal'.")
        if self.tatoeba_repeats < 1:
            raise ValueError(f"tatoeba_repeats={self.tatoeba_repeats} must be at least 1.")
        if not 0.0 <= self.token_dropout < 1.0:
            raise ValueError(f"token_dropout={self.token_dropout} must be in [0, 1).")
        if self.average_best == 1 or self.average_best < 0:
            raise ValueError(
                f"average_best={self.average_best} must be 0 (off) or the number (>= 2) of best "
                "epochs to average."
            )
        decoding.check_length_penalty(self.length_penalty, "length_penalty")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} does not divide embed_dim={self.embed_dim}; choose "
                "a number of heads that divides the embedding width."
            )

    @classmethod
    def quick(cls, **overrides):
        """A tiny model and a few steps, for CI and smoke tests (seconds)."""
        values = dict(
            source_vocab_size=500,
            target_vocab_size=1000,  # Korean needs >= its distinct syllables (~450 in 600 pairs)
            sequence_length=24,
            embed_dim=32,
            dense_dim=64,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            dropout=0.1,
            batch_size=32,
            epochs=2,
            patience=2,
            warmup_steps=20,
            token_dropout=0.0,
            average_best=2,
        )
        values.update(overrides)
        return cls(**values)

    @classmethod
    def demo(cls, **overrides):
        """The offline demo: a small model that learns the synthetic pairs in about a minute."""
        values = dict(
            dataset="synthetic",
            synthetic_pairs=6000,
            source_vocab_size=200,
            target_vocab_size=300,
            sequence_length=24,
            embed_dim=64,
            dense_dim=128,
            num_heads=4,
            num_encoder_layers=1,
            num_decoder_layers=1,
            dropout=0.1,
            batch_size=64,
            epochs=10,
            patience=3,
            learning_rate=2e-3,
            warmup_steps=100,
            weight_decay=0.0,
            token_dropout=0.0,
            average_best=0,
        )
        values.update(overrides)
        return cls(**values)


# ------------------------------------------------------------------------------------- model
@keras.saving.register_keras_serializable(package="kdl_transformer")
class Seq2SeqTransformer(keras.Model):
    """Encoder-decoder Transformer for translation, with a cached decoding step.

    Built as a functional model over two inputs (keras-hub backbone style), so it has a
    summary with shapes and reloads from `.keras` files with no `custom_objects`.

    Masking: token id 0 is padding on both sides. The encoder ignores padded source
    tokens; decoder self-attention is causal and ignores padded target tokens;
    cross-attention ignores padded *source* tokens (the source mask, never the target's).
    Logits at padded target positions are meaningless; the loss and accuracy skip them.

    Args:
        source_vocab_size: int, English vocabulary size.
        target_vocab_size: int, Korean vocabulary size.
        source_sequence_length: int, longest source the position embedding covers.
        target_sequence_length: int, longest decoder input (and generated sequence).
        embed_dim: int, model width.
        dense_dim: int, feed-forward hidden width.
        num_heads: int, heads per attention layer (must divide `embed_dim`).
        num_encoder_layers: int.
        num_decoder_layers: int.
        dropout: float.
        norm_first: bool, pre-norm blocks plus a final LayerNormalization per stack.
        positions: "learned" or "sinusoidal".

    Call arguments:
        inputs: `[source_ids (B, S), decoder_input_ids (B, T)]`, int; decoder inputs start
            with `[START]` (teacher forcing: the targets are the same ids shifted left).
        training: bool, enables dropout.

    Returns:
        logits (B, T, target_vocab_size).

    Example:

    >>> model = Seq2SeqTransformer(100, 120, 16, 16, embed_dim=32, dense_dim=64, num_heads=2)
    >>> model([np.ones((2, 5), "int32"), np.ones((2, 7), "int32")]).shape
    (2, 7, 120)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - Chollet, Deep Learning with Python, 2nd ed., section 11.5.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        source_sequence_length,
        target_sequence_length,
        embed_dim=256,
        dense_dim=1024,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dropout=0.1,
        norm_first=True,
        positions="learned",
        **kwargs,
    ):
        # === Layers ===
        self.source_embedding = PositionalEmbedding(
            source_sequence_length, source_vocab_size, embed_dim, positions=positions,
            name="source_embedding",
        )
        self.target_embedding = PositionalEmbedding(
            target_sequence_length, target_vocab_size, embed_dim, positions=positions,
            name="target_embedding",
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.encoder_layers = [
            TransformerEncoder(
                embed_dim, dense_dim, num_heads, dropout=dropout, norm_first=norm_first,
                name=f"encoder_{i}",
            )
            for i in range(num_encoder_layers)
        ]
        self.decoder_layers = [
            TransformerDecoder(
                embed_dim, dense_dim, num_heads, dropout=dropout, norm_first=norm_first,
                name=f"decoder_{i}",
            )
            for i in range(num_decoder_layers)
        ]
        # Pre-norm stacks end un-normalised; the final norms make both outputs well scaled.
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")
        # float32 logits under mixed precision too: the softmax over the vocabulary needs them.
        self.logits_dense = keras.layers.Dense(target_vocab_size, dtype="float32", name="logits")

        # === Config (read by the graph below) ===
        self.norm_first = norm_first

        # === Functional model ===
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        target = keras.Input(shape=(None,), dtype="int32", name="decoder_inputs")
        logits = self.forward(source, target)
        super().__init__(inputs=[source, target], outputs=logits, **kwargs)

        # === Config ===
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.source_sequence_length = source_sequence_length
        self.target_sequence_length = target_sequence_length
        self.embed_dim = embed_dim
        self.dense_dim = dense_dim
        self.num_heads = num_heads
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.dropout = dropout
        self.positions = positions

    # --------------------------------------------------------------------------- passes
    def encode(self, source_ids, training=False, return_attention_scores=False):
        """Run the encoder once per sentence.

        Returns:
            `(encoder_outputs (B, S, D), source_padding_mask (B, S) bool)`, plus a list of
            per-layer self-attention scores (B, H, S, S) when `return_attention_scores`.
        """
        source_mask = ops.not_equal(source_ids, PAD_ID)  # (B, S)
        x = self.embedding_dropout(self.source_embedding(source_ids), training=training)
        scores = []
        for layer in self.encoder_layers:
            x = layer(
                x, padding_mask=source_mask, training=training,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, layer_scores = x
                scores.append(layer_scores)
        if self.norm_first:
            x = self.encoder_norm(x)
        return (x, source_mask, scores) if return_attention_scores else (x, source_mask)

    def forward(self, source_ids, decoder_input_ids, training=None, return_attention_scores=False):
        """The teacher-forced pass behind `call`, optionally with every attention map.

        Returns:
            logits (B, T, V); with `return_attention_scores`, a dict with "logits",
            "encoder_self_attention" (per layer (B, H, S, S)), "decoder_self_attention"
            (per layer (B, H, T, T)) and "cross_attention" (per layer (B, H, T, S)).
        """
        encoded = self.encode(source_ids, training, return_attention_scores)
        encoder_outputs, source_mask = encoded[0], encoded[1]
        target_mask = ops.not_equal(decoder_input_ids, PAD_ID)  # (B, T)
        x = self.embedding_dropout(self.target_embedding(decoder_input_ids), training=training)
        self_scores, cross_scores = [], []
        for layer in self.decoder_layers:
            x = layer(
                x, encoder_outputs, decoder_padding_mask=target_mask,
                encoder_padding_mask=source_mask, training=training,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, layer_self, layer_cross = x
                self_scores.append(layer_self)
                cross_scores.append(layer_cross)
        if self.norm_first:
            x = self.decoder_norm(x)
        logits = self.logits_dense(x)  # (B, T, V)
        if not return_attention_scores:
            return logits
        return {
            "logits": logits,
            "encoder_self_attention": encoded[2],
            "decoder_self_attention": self_scores,
            "cross_attention": cross_scores,
        }

    def init_cache(self, source_ids, max_length):
        """Encode a batch and prepare the decoding cache for `next`.

        The encoder output and each decoder layer's cross-attention keys/values are computed
        here, once per sentence; the self-attention caches start empty.

        Args:
            source_ids: int (B, S) English ids, 0-padded.
            max_length: int, the most decoder positions the search will feed.

        Returns:
            dict: "self_attention" (per layer (B, 2, H, max_length, key_dim) zeros),
            "cross_attention" (per layer (B, 2, H, S, key_dim)), "source_padding_mask" (B, S).
        """
        encoder_outputs, source_mask = self.encode(source_ids)
        encoder_outputs = masking.without_keras_mask(encoder_outputs, source_mask)  # passed explicitly
        batch_size = ops.shape(source_ids)[0]
        return {
            "self_attention": tuple(
                layer.init_self_attention_cache(batch_size, max_length)
                for layer in self.decoder_layers
            ),
            "cross_attention": tuple(
                layer.compute_cross_attention_cache(encoder_outputs)
                for layer in self.decoder_layers
            ),
            "source_padding_mask": source_mask,
        }

    def next(self, token_ids, cache, index):
        """One cached decoding step: the pure step function the searches loop over.

        Args:
            token_ids: int (B, 1), the decoder input at position `index`.
            cache: dict from `init_cache` (or a previous `next`).
            index: int32 scalar, the position of `token_ids`.

        Returns:
            `(logits (B, V) for position index + 1, updated cache)`.
        """
        x = self.target_embedding(token_ids, start_index=index)  # (B, 1, D)
        self_caches = []
        for layer, self_cache, cross_cache in zip(
            self.decoder_layers, cache["self_attention"], cache["cross_attention"]
        ):
            x, self_cache, _ = layer(
                x,
                None,
                encoder_padding_mask=cache["source_padding_mask"],
                self_attention_cache=self_cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_cache,
            )
            self_caches.append(self_cache)
        if self.norm_first:
            x = self.decoder_norm(x)
        logits = self.logits_dense(x)[:, -1, :]  # (B, V)
        return logits, {**cache, "self_attention": tuple(self_caches)}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "source_sequence_length": self.source_sequence_length,
            "target_sequence_length": self.target_sequence_length,
            "embed_dim": self.embed_dim,
            "dense_dim": self.dense_dim,
            "num_heads": self.num_heads,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "dropout": self.dropout,
            "norm_first": self.norm_first,
            "positions": self.positions,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_translator_model(config, source_vocab_size, target_vocab_size):
    """A `Seq2SeqTransformer` shaped by a `TranslatorConfig` and the actual vocabulary sizes."""
    return Seq2SeqTransformer(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        source_sequence_length=config.sequence_length,
        target_sequence_length=config.sequence_length,
        embed_dim=config.embed_dim,
        dense_dim=config.dense_dim,
        num_heads=config.num_heads,
        num_encoder_layers=config.num_encoder_layers,
        num_decoder_layers=config.num_decoder_layers,
        dropout=config.dropout,
        norm_first=config.norm_first,
        positions=config.positions,
        name="seq2seq_transformer",
    )


# ---------------------------------------------------------------------------- training
@keras.saving.register_keras_serializable(package="kdl_transformer")
class MaskedSparseCrossentropy(keras.losses.Loss):
    """Token cross-entropy with label smoothing, averaged over the non-padding targets.

    `loss = (1 - eps) * -log p(y) + eps * mean_v(-log p(v))` per target token; padded targets
    (id `pad_token_id`) count neither in the sum nor in the number of tokens, so the value does
    not depend on how much padding a batch has. The mask comes from `y_true` itself, so the
    result is the same whether or not Keras attached a padding mask to the logits (the loss is
    already a mean, hence `reduction="sum"` over the pre-divided per-token terms).

    Args:
        label_smoothing: float in [0, 1).
        pad_token_id: int, the padding id of the targets.
    """

    def __init__(self, label_smoothing=0.0, pad_token_id=PAD_ID, name="masked_crossentropy", dtype=None):
        super().__init__(name=name, reduction="sum", dtype=dtype)
        self.label_smoothing = label_smoothing
        self.pad_token_id = pad_token_id

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")  # (B, T)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)  # (B, T, V)
        nll = -ops.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]  # (B, T)
        smooth = -ops.mean(log_probs, axis=-1)  # (B, T)
        eps = self.label_smoothing
        losses = (1.0 - eps) * nll + eps * smooth
        mask = ops.cast(ops.not_equal(y_true, self.pad_token_id), "float32")
        return losses * mask / ops.maximum(ops.sum(mask), 1.0)

    def get_config(self):
        return {
            "name": self.name,
            "label_smoothing": self.label_smoothing,
            "pad_token_id": self.pad_token_id,
            "dtype": self.dtype,
        }


@keras.saving.register_keras_serializable(package="kdl_transformer")
class MaskedAccuracy(keras.metrics.Metric):
    """Next-token accuracy over non-padding targets (padding would inflate it).

    Args:
        pad_token_id: int, the padding id of the targets.
    """

    def __init__(self, pad_token_id=PAD_ID, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.pad_token_id = pad_token_id
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        mask = ops.cast(ops.not_equal(y_true, self.pad_token_id), "float32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        hits = ops.cast(ops.equal(predicted, y_true), "float32") * mask
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "pad_token_id": self.pad_token_id}


@keras.saving.register_keras_serializable(package="kdl_transformer")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak_learning_rate`, then decay as 1/sqrt(step) (the paper's shape).

    `lr(step) = peak * min(s / warmup, sqrt(warmup / s))` with `s = step + 1`.

    Args:
        peak_learning_rate: float, the rate reached at the end of warm-up.
        warmup_steps: int >= 1.
    """

    def __init__(self, peak_learning_rate, warmup_steps):
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps={warmup_steps} must be at least 1.")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return self.peak_learning_rate * ops.minimum(s / warmup, ops.sqrt(warmup / s))

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps}


def compile_translator(model, config):
    """Compile with AdamW (beta_2=0.98) on the warm-up schedule, masked loss and accuracy."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=WarmupSchedule(config.learning_rate, config.warmup_steps),
        weight_decay=config.weight_decay,
        beta_1=0.9,
        beta_2=0.98,
        epsilon=1e-9,
        clipnorm=1.0,
    )
    model.compile(
        optimizer=optimizer,
        loss=MaskedSparseCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[MaskedAccuracy()],
        jit_compile=config.jit_compile,
    )
    return model


# ---------------------------------------------------------------------------- translator
def _as_list(texts):
    if isinstance(texts, (str, bytes)):
        return [texts], True
    return list(texts), False


def _decode(strings):
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in strings]


class Translator:
    """English->Korean translation: tokenizers + `Seq2SeqTransformer` + search.

    Holds everything it uses; each search is compiled once per (method, beam size) into one
    `tf.function` with a graph loop, and reused across calls.

    Args:
        model: a trained `Seq2SeqTransformer`.
        source_tokenizer: English `SubwordTokenizer` (lowercasing).
        target_tokenizer: Korean `SubwordTokenizer`.
        beam_size: default beam width.
        length_penalty: default GNMT alpha.
        batch_size: sentences per search call.

    Example:

    >>> from kdl_transformer.workflows.translator import load_translator
    >>> translator = load_translator("runs/translator")  # doctest: +SKIP
    >>> translator.translate(["I told Tom to buy a new computer."], method="beam")  # doctest: +SKIP
    ['난 톰한테 새 컴퓨터를 사라고 말했어.']  # what a well-trained model says (illustrative)
    """

    def __init__(
        self, model, source_tokenizer, target_tokenizer, beam_size=4, length_penalty=1.5,
        batch_size=64,
    ):
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.beam_size = beam_size
        self.length_penalty = length_penalty
        self.batch_size = batch_size
        self._searches = {}

    @property
    def max_length(self):
        """The most Korean tokens a translation can have ([END] included)."""
        return int(self.model.target_sequence_length)

    # ------------------------------------------------------------------ tokens
    def encode_source(self, texts):
        """English strings -> 0-padded ids (B, S) int32, cut to the model's source length.

        Warns (once per call) when a sentence is longer than the model accepts.
        """
        ids = self.source_tokenizer.tokenize(tf.constant(texts, tf.string))  # ragged (B, None)
        limit = int(self.model.source_sequence_length)
        lengths = ids.row_lengths().numpy()
        if len(lengths) and lengths.max() > limit:
            warnings.warn(
                f"{int((lengths > limit).sum())} input sentence(s) have more than {limit} "
                f"subwords (longest: {int(lengths.max())}); they were truncated to the model's "
                f"source_sequence_length={limit}.",
                stacklevel=3,
            )
        return ids[:, :limit].to_tensor(default_value=PAD_ID)

    def encode_target(self, texts):
        """Korean strings -> (B, T) ids ending with [END], 0-padded, cut to `max_length`."""
        ids = self.target_tokenizer.tokenize(tf.constant(texts, tf.string))
        ids = ids[:, : self.max_length - 1]
        end = tf.fill([ids.nrows(), 1], END_ID)
        return tf.concat([ids, end], axis=1).to_tensor(default_value=PAD_ID)

    # ------------------------------------------------------------------ search
    def search_fn(self, method="greedy", beam_size=None):
        """The compiled search `(source_ids (B, S), max_length, alpha) -> dict of tensors`.

        The dict has "tokens" (B, T) of the best hypothesis ([END] included, 0-padded),
        "log_probs" (B,), "scores" (B,) (length-normalised with alpha) and "lengths" (B,).
        """
        if method not in SEARCH_METHODS:
            raise ValueError(f"method={method!r} is not one of {SEARCH_METHODS}.")
        beam_size = int(self.beam_size if beam_size is None else beam_size)
        key = (method, beam_size if method == "beam" else None)
        if key not in self._searches:
            self._searches[key] = tf.function(
                lambda ids, max_length, alpha: self._search(ids, max_length, alpha, *key),
                input_signature=[
                    tf.TensorSpec([None, None], tf.int32),
                    tf.TensorSpec([], tf.int32),
                    tf.TensorSpec([], tf.float32),
                ],
            )
        return self._searches[key]

    def _search(self, source_ids, max_length, alpha, method, beam_size):
        """Graph-mode search over `self.model.next` (also used by the SavedModel export)."""
        cache = self.model.init_cache(source_ids, max_length)
        start = tf.fill([tf.shape(source_ids)[0]], START_ID)
        if method == "greedy":
            tokens, log_probs, lengths = decoding.greedy_search(
                self.model.next, cache, start, END_ID, max_length
            )
            scores = decoding.normalized_score(log_probs, lengths, alpha)
        else:
            # The beams of a sentence share its encoder output and cross-attention keys/values:
            # repeat those once for the beams and keep them out of the loop state, so that beam
            # search reorders (gathers) only the self-attention cache at each step.
            shared = {key: value for key, value in cache.items() if key != "self_attention"}
            shared = tf.nest.map_structure(lambda x: tf.repeat(x, beam_size, axis=0), shared)

            def step(token_ids, self_attention_cache, index):
                logits, cache = self.model.next(
                    token_ids, {**shared, "self_attention": self_attention_cache}, index
                )
                return logits, cache["self_attention"]

            tokens, scores, log_probs, lengths = decoding.beam_search(
                step, cache["self_attention"], start, END_ID, max_length, beam_size=beam_size,
                alpha=alpha,
            )
            tokens, scores, log_probs, lengths = (
                tokens[:, 0], scores[:, 0], log_probs[:, 0], lengths[:, 0]
            )
        return {"tokens": tokens, "log_probs": log_probs, "scores": scores, "lengths": lengths}

    def _check_max_length(self, max_length):
        if max_length is None:
            return self.max_length
        if not 1 <= int(max_length) <= self.max_length:
            raise ValueError(
                f"max_length={max_length} is outside 1..{self.max_length}, the decoder's "
                "target_sequence_length; pass a smaller max_length."
            )
        return int(max_length)

    def search(self, texts, method="greedy", beam_size=None, length_penalty=None, max_length=None):
        """Search translations as token ids (the arguments are those of `translate`).

        Returns:
            dict of numpy arrays: "tokens" (N, T) int32 (0-padded, [END] included), "log_probs"
            (N,), "scores" (N,), "lengths" (N,). Empty or whitespace-only sentences get no
            tokens, log_prob 0 and length 0.
        """
        texts, _ = _as_list(texts)
        max_length = self._check_max_length(max_length)
        alpha = float(self.length_penalty if length_penalty is None else length_penalty)
        decoding.check_length_penalty(alpha, "length_penalty")
        run = self.search_fn(method, beam_size)
        n = len(texts)
        out = {
            "tokens": np.zeros((n, max_length), np.int32),
            "log_probs": np.zeros(n, np.float32),
            "scores": np.zeros(n, np.float32),
            "lengths": np.zeros(n, np.int32),
        }
        for start in range(0, n, self.batch_size):
            batch = texts[start : start + self.batch_size]
            source = self.encode_source(batch)
            nonempty = np.flatnonzero(np.any(source.numpy() != PAD_ID, axis=1))
            if nonempty.size == 0:
                continue  # nothing to translate in this batch
            if nonempty.size < len(batch):
                source = tf.gather(source, nonempty)
            result = run(source, tf.constant(max_length), tf.constant(alpha))
            rows = start + nonempty
            tokens = result["tokens"].numpy()
            out["tokens"][rows, : tokens.shape[1]] = tokens
            for name in ("log_probs", "scores", "lengths"):
                out[name][rows] = result[name].numpy()
        return out

    def detokenize(self, tokens):
        """(N, T) Korean ids -> list of N strings."""
        if len(tokens) == 0:
            return []
        return _decode(self.target_tokenizer.detokenize(tf.constant(tokens, tf.int32)).numpy())

    def translate(self, texts, method="greedy", beam_size=None, length_penalty=None, max_length=None):
        """Translate English sentences into Korean.

        Args:
            texts: a string or a list of strings.
            method: "greedy" (탐욕 탐색) or "beam" (빔 서치).
            beam_size: beam width for "beam" (default: the translator's, 4).
            length_penalty: GNMT alpha >= 0 for ranking beams (default: the translator's, 1.5
                for a run with the default config; 0 = raw log-probability).
            max_length: the most Korean tokens per sentence (default: the decoder's maximum).

        Returns:
            a string for a string, a list of strings for a list. Empty input gives "".
        """
        texts, single = _as_list(texts)
        found = self.search(texts, method, beam_size, length_penalty, max_length)
        translations = self.detokenize(found["tokens"])
        return translations[0] if single else translations

    # ------------------------------------------------------------------ scores
    def score_ids(self, source_ids, target_ids):
        """log P(target | source) for id tensors; targets end with [END] and are 0-padded.

        Returns:
            `(log_probs (B,), lengths (B,))` as numpy arrays.
        """
        log_probs, lengths = decoding.score_sequences(
            lambda decoder_inputs: self.model([source_ids, decoder_inputs], training=False),
            target_ids,
            START_ID,
        )
        return log_probs.numpy(), lengths.numpy()

    def score(self, source_texts, target_texts, length_penalty=None):
        """log P(target | source) of each pair under the model (teacher forcing).

        The target is scored as the model would generate it: its subwords followed by [END].

        Args:
            source_texts: English strings.
            target_texts: Korean strings, one per source.
            length_penalty: None for the raw log-probability; a float alpha to divide by the
                GNMT length penalty, as beam search ranks hypotheses.

        Returns:
            numpy float32 array (N,).
        """
        source_texts, _ = _as_list(source_texts)
        target_texts, _ = _as_list(target_texts)
        if len(source_texts) != len(target_texts):
            raise ValueError(
                f"score got {len(source_texts)} source and {len(target_texts)} target sentences; "
                "pass one target per source."
            )
        results = []
        for start in range(0, len(source_texts), self.batch_size):
            end = start + self.batch_size
            source = self.encode_source(source_texts[start:end])
            target = self.encode_target(target_texts[start:end])
            log_probs, lengths = self.score_ids(source, target)
            if length_penalty is not None:
                log_probs = decoding.normalized_score(log_probs, lengths, length_penalty).numpy()
            results.append(log_probs)
        return np.concatenate(results) if results else np.zeros(0, np.float32)

    # ------------------------------------------------------------------ attention
    def attention(self, source_text, target_text=None, method="greedy"):
        """Attention maps of one translation, with the token strings for the axes.

        Args:
            source_text: one English sentence.
            target_text: a Korean sentence to force; None translates `source_text` first.
            method: search used when `target_text` is None.

        Returns:
            dict with "translation" (str), "source_tokens" (English subwords),
            "decoder_input_tokens" ("[START]" then the Korean subwords),
            "output_tokens" (the Korean subwords then "[END]": the token each decoder
            position predicts), and numpy float32 maps per layer, each (heads, rows, columns):
            "cross_attention" (output tokens x source tokens), "decoder_self_attention"
            (decoder inputs x decoder inputs, lower-triangular), "encoder_self_attention".
        """
        source = self.encode_source([source_text])  # (1, S)
        if source.shape[1] == 0:
            raise ValueError(
                f"attention needs an English sentence with at least one token, got {source_text!r}."
            )
        if target_text is None:
            found = self.search([source_text], method=method)
            target = tf.constant(found["tokens"][:, : max(int(found["lengths"][0]), 1)])
        else:
            target = self.encode_target([target_text])
        target = target.numpy()[0]
        target = target[target != PAD_ID]
        if target.size == 0 or target[-1] != END_ID:
            target = np.append(target, END_ID)[: self.max_length]
        decoder_inputs = np.concatenate([[START_ID], target[:-1]]).astype("int32")
        maps = self.model.forward(
            source, tf.constant(decoder_inputs[None]), training=False, return_attention_scores=True
        )
        source_ids = source.numpy()[0]
        source_ids = source_ids[source_ids != PAD_ID]
        s, t = len(source_ids), len(decoder_inputs)

        def crop(scores, rows, columns):
            return [np.asarray(layer)[0, :, :rows, :columns] for layer in scores]

        return {
            "translation": self.detokenize(target[None])[0],
            "source_tokens": [self.source_tokenizer.id_to_token(i) for i in source_ids],
            "decoder_input_tokens": [self.target_tokenizer.id_to_token(i) for i in decoder_inputs],
            "output_tokens": [self.target_tokenizer.id_to_token(i) for i in target],
            "cross_attention": crop(maps["cross_attention"], t, s),
            "decoder_self_attention": crop(maps["decoder_self_attention"], t, t),
            "encoder_self_attention": crop(maps["encoder_self_attention"], s, s),
        }

