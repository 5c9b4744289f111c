"""The Transformer decoder block (트랜스포머 디코더), with a key/value cache for fast decoding."""

import keras
from keras import ops

from kdl_transformer.layers import masking
from kdl_transformer.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="kdl_transformer")
class TransformerDecoder(TransformerBlock):
    """Causal self-attention, cross-attention over the encoder, then feed-forward.

    Post-norm, as in the book (`norm_first=False`):

        x = LayerNorm(y + Dropout(CausalSelfAttention(y)))        # 마스크드 셀프 어텐션
        z = LayerNorm(x + Dropout(CrossAttention(x, encoder)))    # 인코더-디코더 어텐션
        out = LayerNorm(z + Dropout(FeedForward(z)))

    Masking: self-attention is causal (position i sees positions <= i) and
    skips padded target tokens; cross-attention skips padded *source* tokens,
    using the encoder's padding mask, so source and target lengths are
    independent. Explicit masks win over the implicit Keras masks of the
    inputs (which Keras passes as `decoder_inputs_mask` / `encoder_outputs_mask`).

    Caching: decoding one token at a time, pass `self_attention_cache`
    (from `init_self_attention_cache`) and `self_attention_cache_update_index`
    (the position of the token being fed), plus `cross_attention_cache` (from
    `compute_cross_attention_cache`, computed once per sentence). Each step
    then costs one token, and the outputs equal those of the full pass.

    Args:
        embed_dim: int, width of inputs and outputs.
        dense_dim: int, hidden width of the feed-forward network.
        num_heads: int, number of heads; must divide `embed_dim`.
        dropout: float, dropout rate.
        norm_first: bool, pre-norm instead of post-norm.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: float.

    Call arguments:
        decoder_inputs: (batch, target_length, embed_dim).
        encoder_outputs: (batch, source_length, embed_dim); may be None when
            `cross_attention_cache` is given.
        decoder_padding_mask: optional (batch, target_length).
        encoder_padding_mask: optional (batch, source_length).
        decoder_inputs_mask, encoder_outputs_mask: the implicit Keras masks of
            the two inputs; Keras fills them in, and the explicit masks above
            win over them.
        self_attention_cache: optional (batch, 2, heads, max_length, key_dim).
        self_attention_cache_update_index: int or int tensor.
        cross_attention_cache: optional (batch, 2, heads, source_length, key_dim).
        training: bool, enables dropout.
        return_attention_scores: bool; also return self- and cross-attention
            weights, (batch, heads, target_length, key_length) each.

    Returns:
        Without caches: `outputs`, or `(outputs, self_scores, cross_scores)`.
        With caches: `(outputs, self_attention_cache, cross_attention_cache)`,
        followed by `(self_scores, cross_scores)` when asked.

    Example:

    >>> decoder = TransformerDecoder(embed_dim=16, dense_dim=32, num_heads=2)
    >>> target, source = keras.random.normal((2, 4, 16)), keras.random.normal((2, 7, 16))
    >>> decoder(target, source).shape
    (2, 4, 16)
    """

    def build(self, decoder_inputs_shape, encoder_outputs_shape=None):
        if encoder_outputs_shape is None:
            encoder_outputs_shape = decoder_inputs_shape
        self.self_attention = self._attention("self_attention")
        self.self_attention.build(decoder_inputs_shape, decoder_inputs_shape)
        self.cross_attention = self._attention("cross_attention")
        self.cross_attention.build(decoder_inputs_shape, encoder_outputs_shape)
        self.feed_forward = self._feed_forward(decoder_inputs_shape)
        self.norms = [
            self._norm(name, decoder_inputs_shape)
            for name in ("self_attention_norm", "cross_attention_norm", "feed_forward_norm")
        ]
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def init_self_attention_cache(self, batch_size, max_length, dtype=None):
        """Zeros shaped (batch, 2, heads, max_length, key_dim): an empty self-attention cache.

        `dtype` defaults to the layer's compute dtype (bfloat16 under `mixed_bfloat16`).
        """
        shape = (batch_size, 2, self.num_heads, max_length, self.key_dim)
        return ops.zeros(shape, dtype=dtype or self.compute_dtype)

    def compute_cross_attention_cache(self, encoder_outputs):
        """Cross-attention keys/values, (batch, 2, heads, source_length, key_dim), once per sentence."""
        return self.cross_attention.compute_key_value(encoder_outputs)

    def call(
        self,
        decoder_inputs,
        encoder_outputs=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        training=None,
        return_attention_scores=False,
        decoder_inputs_mask=None,
        encoder_outputs_mask=None,
    ):
        # Explicit masks win; else the implicit Keras masks, which Keras hands over as
        # `<argument>_mask`. Both are consumed here, so the sublayers get mask-free copies.
        if decoder_padding_mask is None:
            decoder_padding_mask = decoder_inputs_mask
        if encoder_padding_mask is None:
            encoder_padding_mask = encoder_outputs_mask
        decoder_inputs = masking.without_keras_mask(decoder_inputs, decoder_padding_mask)
        encoder_outputs = masking.without_keras_mask(encoder_outputs, encoder_padding_mask)
        use_cache = self_attention_cache is not None
        if use_cache and self_attention_cache_update_index is None:
            raise ValueError(
                "self_attention_cache was given without self_attention_cache_update_index; pass "
                "the position of the token being decoded."
            )
        if encoder_outputs is None and cross_attention_cache is None:
            raise ValueError(
                "TransformerDecoder needs encoder_outputs or a cross_attention_cache computed "
                "with compute_cross_attention_cache(encoder_outputs)."
            )

        # Causal self-attention: query i sees keys <= i (its absolute position when cached).
        target_length = ops.shape(decoder_inputs)[1]
        if use_cache:
            start, key_length = self_attention_cache_update_index, ops.shape(self_attention_cache)[3]
            self_mask = masking.causal_mask(target_length, key_length, start)[None, None]
        else:
            self_mask = masking.merge_masks(
                masking.causal_mask(target_length, target_length)[None, None],  # (1, 1, T, T)
                masking.key_padding_mask(decoder_padding_mask),  # (B, 1, 1, T)
            )
        x, self_scores, *updated_cache = self._residual(  # the updated cache when decoding
            self.norms[0],
            decoder_inputs,
            lambda y: self.self_attention(
                y,
                y,
                attention_mask=self_mask,
                cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index,
                training=training,
            ),
            training,
        )

        # Cross-attention over the source, masked with the *source* padding mask.
        cross_mask = masking.key_padding_mask(encoder_padding_mask)  # (B, 1, 1, S)
        x, cross_scores, *_ = self._residual(
            self.norms[1],
            x,
            lambda y: self.cross_attention(
                y,
                encoder_outputs,
                attention_mask=cross_mask,
                cache=cross_attention_cache,
                training=training,
            ),
            training,
        )

        outputs, = self._residual(self.norms[2], x, lambda y: (self.feed_forward(y),), training)

        if use_cache:
            if cross_attention_cache is None:
                cross_attention_cache = self.compute_cross_attention_cache(encoder_outputs)
            results = (outputs, updated_cache[0], cross_attention_cache)
        else:
            results = (outputs,)
        if return_attention_scores:
            results += (self_scores, cross_scores)
        return results[0] if len(results) == 1 else results

    def compute_output_spec(
        self,
        decoder_inputs,
        encoder_outputs=None,
        self_attention_cache=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        **kwargs,
    ):
        """Symbolic outputs in every return mode (see `call`), for `keras.Input`s."""
        batch, target_length = decoder_inputs.shape[0], decoder_inputs.shape[1]
        outputs = keras.KerasTensor(decoder_inputs.shape, dtype=self.compute_dtype)
        if cross_attention_cache is not None:
            source_length = cross_attention_cache.shape[3]
        else:
            source_length = encoder_outputs.shape[1]
        results = (outputs,)
        if self_attention_cache is not None:
            cross_shape = (batch, 2, self.num_heads, source_length, self.key_dim)
            results += (
                keras.KerasTensor(self_attention_cache.shape, dtype=self_attention_cache.dtype),
                keras.KerasTensor(cross_shape, dtype=self.compute_dtype),
            )
        if return_attention_scores:
            self_length = target_length
            if self_attention_cache is not None:
                self_length = self_attention_cache.shape[3]
            scores = (batch, self.num_heads, target_length)
            results += (
                keras.KerasTensor(scores + (self_length,), dtype=self.compute_dtype),
                keras.KerasTensor(scores + (source_length,), dtype=self.compute_dtype),
            )
        return results[0] if len(results) == 1 else results
