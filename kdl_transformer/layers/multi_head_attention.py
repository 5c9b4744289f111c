"""Multi-head attention (멀티 헤드 어텐션) built on `scaled_dot_product_attention`."""

import keras
from keras import ops

from kdl_transformer.layers.attention import scaled_dot_product_attention


@keras.saving.register_keras_serializable(package="kdl_transformer")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with an optional key/value cache.

    Each of the `num_heads` heads projects queries, keys and values to
    `key_dim` features, attends with `scaled_dot_product_attention`, and the
    heads' outputs are concatenated and projected back to the query width.
    The projection weights have the same shapes as those of
    `keras.layers.MultiHeadAttention`, so weights can be copied across.

    Masking: only through `attention_mask`. This layer does not read the
    implicit Keras masks of its inputs; the encoder and decoder blocks turn
    their padding masks into `attention_mask` before calling it.

    Caching: for autoregressive decoding pass `cache` of shape
    (batch, 2, num_heads, max_length, key_dim) (keys at index 0, values at 1).
    With `cache_update_index`, the keys/values of the new query tokens are
    written into the cache at that position and attention runs over the
    whole cache (self-attention while decoding). Without it, the cache is
    used as is (precomputed cross-attention keys/values).

    Args:
        num_heads: int, number of attention heads.
        key_dim: int, width of each head's queries and keys (and values).
        dropout: float, dropout rate on the attention weights.
        use_bias: bool, whether the projections have biases.
        kernel_initializer: initializer for the projection kernels; each of the four
            projections gets its own copy (`clone_initializer`), so their kernels differ.

    Call arguments:
        query: (batch, query_length, dim).
        value: (batch, key_length, dim); may be None when `cache` holds
            precomputed keys/values.
        key: optional (batch, key_length, dim); defaults to `value`.
        attention_mask: boolean, broadcastable to
            (batch, num_heads, query_length, key_length); True = attend.
        cache: optional key/value cache, see above.
        cache_update_index: int or int tensor, position of the first query
            token in the cache.
        training: bool, enables dropout.

    Returns:
        `(output, scores)`: output (batch, query_length, dim) and scores
        (batch, num_heads, query_length, key_length); with a `cache`,
        `(output, scores, cache)`, the cache updated (or returned as given
        for precomputed cross-attention keys/values).

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _projection(self, name, equation, output_shape, bias_axes):
        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        heads, width = self.num_heads, self.key_dim
        # (B, T, D) x (D, H, k) -> (B, H, T, k): heads first, ready for matmul.
        self.query_dense = self._projection("query", "btd,dhk->bhtk", (heads, None, width), "hk")
        self.key_dense = self._projection("key", "btd,dhk->bhtk", (heads, None, width), "hk")
        self.value_dense = self._projection("value", "btd,dhk->bhtk", (heads, None, width), "hk")
        # (B, H, T, k) x (H, k, D) -> (B, T, D): concatenate heads and project back.
        self.output_dense = self._projection(
            "attention_output", "bhtk,hkd->btd", (None, query_shape[-1]), "d"
        )
        self.query_dense.build(query_shape)
        self.key_dense.build(key_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build((query_shape[0], heads, query_shape[1], width))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def compute_key_value(self, value, key=None):
        """Project keys and values once, shaped as a cache (batch, 2, heads, length, key_dim)."""
        key = value if key is None else key
        return ops.stack([self.key_dense(key), self.value_dense(value)], axis=1)

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        query_heads = self.query_dense(query)  # (B, H, Tq, k)
        if cache is not None and cache_update_index is None:
            key_heads, value_heads = cache[:, 0], cache[:, 1]  # precomputed cross-attention
        else:
            value = query if value is None else value
            key_heads = self.key_dense(value if key is None else key)  # (B, H, Tk, k)
            value_heads = self.value_dense(value)  # (B, H, Tk, k)
            if cache is not None:  # write this step's keys/values, attend over the whole cache
                start = [0, 0, 0, cache_update_index, 0]
                cache = ops.slice_update(cache, start, ops.stack([key_heads, value_heads], axis=1))
                key_heads, value_heads = cache[:, 0], cache[:, 1]  # (B, H, max_length, k)
        output, scores = scaled_dot_product_attention(
            query_heads,
            key_heads,
            value_heads,
            mask=attention_mask,
            dropout=self.dropout_layer,
            training=training,
        )  # (B, H, Tq, k), (B, H, Tq, Tk)
        output = self.output_dense(output)  # (B, Tq, D)
        return (output, scores) if cache is None else (output, scores, cache)

    def compute_output_spec(self, query, value=None, key=None, cache=None, **kwargs):
        """Symbolic outputs, as `call` returns them, so the layer works on `keras.Input`s."""
        value = query if value is None else value
        key = value if key is None else key
        key_length = key.shape[1] if cache is None else cache.shape[3]
        batch, query_length = query.shape[0], query.shape[1]
        output = keras.KerasTensor(query.shape, dtype=self.compute_dtype)
        scores = keras.KerasTensor(
            (batch, self.num_heads, query_length, key_length), dtype=self.compute_dtype
        )
        if cache is None:
            return output, scores
        return output, scores, keras.KerasTensor(cache.shape, dtype=cache.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


def clone_initializer(initializer):
    """A fresh instance of `initializer`, for one sublayer.

    An unseeded Keras 3 initializer draws its seed once, when it is created, so one instance
    handed to several sublayers gives them identical kernels (four equal projections here).
    A new instance from the same config draws its own seed, and
    `keras.utils.set_random_seed` still makes the whole model reproducible.
    """
    return initializer.__class__.from_config(initializer.get_config())


def head_width(embed_dim, num_heads):
    """`embed_dim // num_heads`: the heads split the width, as in the paper."""
    if num_heads <= 0 or embed_dim % num_heads != 0:
        raise ValueError(
            f"num_heads={num_heads} does not divide embed_dim={embed_dim}; choose a number of "
            "heads that divides the embedding width (each head gets embed_dim // num_heads)."
        )
    return embed_dim // num_heads
