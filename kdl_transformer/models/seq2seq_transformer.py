"""`Seq2SeqTransformer`: the English->Korean translation model (시퀀스 투 시퀀스).

    English subword ids (B, S) -> PositionalEmbedding -> N x TransformerEncoder  (인코더)
                                                              | encoder outputs (B, S, D)
    [START] + Korean ids (B, T) -> PositionalEmbedding -> M x TransformerDecoder (디코더:
        masked self-attention, then cross-attention 크로스 어텐션 over the encoder outputs)
                                -> Dense(target vocabulary) -> logits (B, T, V)

The network only: `call([source_ids, decoder_input_ids])` -> logits for training with teacher
forcing; `encode`, `init_cache` and the pure cached step `next(token_ids, cache, index) ->
(logits, cache)` for decoding (see `kdl_transformer.decoding`); `forward(...,
return_attention_scores=True)` for attention maps. `models.architectures.build_translator_model`
shapes one from a `TranslatorConfig`. What trains it is in `kdl_transformer.objectives`; what turns it into a
translator (tokenizers + search) is `kdl_transformer.translator.Translator`.
"""

import keras
from keras import ops

from kdl_transformer.layers import PositionalEmbedding, TransformerDecoder, TransformerEncoder
from kdl_transformer.layers import masking
from kdl_transformer.text.special_tokens import PAD_ID


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
        tie_embeddings: bool, one token table for the source embedding, the target embedding
            and the output projection (logits = hidden states x table^T, no bias): for a
            vocabulary shared by both languages (`text.directions`), so the two vocabulary
            sizes must be equal. The position embeddings stay separate.

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

    # The cache entries `next` changes; beam search reorders only these (the rest is per sentence).
    step_cache_keys = ("self_attention",)

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
        tie_embeddings=False,
        **kwargs,
    ):
        if tie_embeddings and source_vocab_size != target_vocab_size:
            raise ValueError(
                f"tie_embeddings=True needs one vocabulary, but source_vocab_size="
                f"{source_vocab_size} and target_vocab_size={target_vocab_size}; train a shared "
                "vocabulary (TranslatorConfig.shared_vocab_size) or leave tie_embeddings off."
            )
        # === Layers ===
        self.source_embedding = PositionalEmbedding(
            source_sequence_length, source_vocab_size, embed_dim, positions=positions,
            name="source_embedding",
        )
        if tie_embeddings:  # the target side uses the source side's token table
            self.source_embedding.build()
        self.target_embedding = PositionalEmbedding(
            target_sequence_length, target_vocab_size, embed_dim, positions=positions,
            token_embedding=self.source_embedding.token_embedding if tie_embeddings else None,
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
        self.logits_dense = None if tie_embeddings else keras.layers.Dense(
            target_vocab_size, dtype="float32", name="logits")

        # === Config (read by the graph below) ===
        self.norm_first = norm_first
        self.tie_embeddings = tie_embeddings

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
        logits = self.project(x)  # (B, T, V)
        if not return_attention_scores:
            return logits
        return {
            "logits": logits,
            "encoder_self_attention": encoded[2],
            "decoder_self_attention": self_scores,
            "cross_attention": cross_scores,
        }

    def project(self, x):
        """Decoder states (B, T, D) -> float32 logits (B, T, V): the Dense layer, or the tied table."""
        if not self.tie_embeddings:
            return self.logits_dense(x)
        x = ops.copy(x)  # drop the Keras padding mask: the reversed table does not take one
        logits = self.target_embedding.token_embedding(x, reverse=True)
        return ops.cast(logits, "float32")  # the softmax over the vocabulary needs float32

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
        logits = self.project(x)[:, -1, :]  # (B, V)
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
            "tie_embeddings": self.tie_embeddings,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
