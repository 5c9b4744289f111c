"""Additive (Bahdanau) attention: the decoder state asks, every encoder state answers.

    score(s, h_i) = vᵀ tanh(W₁ s + W₂ h_i)        a = softmax(score)        c = Σ_i a_i h_i

Before the Transformer, an RNN decoder looked at the encoder this way (어텐션이 처음 쓰인
방식): the query is the decoder's state s, the keys and values are the encoder states h_i, and
the similarity is a small one-hidden-layer network instead of a scaled dot product.
"""

import keras
from keras import ops

from kdl_transformer.layers.attention import large_negative_number


@keras.saving.register_keras_serializable(package="kdl_transformer")
class AdditiveAttention(keras.layers.Layer):
    """Bahdanau attention of queries over a sequence of values, masked on the values' padding.

    Args:
        units: int, width of the hidden layer of the score (the size of W₁ s and W₂ h_i).
        **kwargs: `keras.layers.Layer` arguments (name, dtype).

    Call arguments:
        query: (batch, query_dim) for one decoder state, or (batch, Tq, query_dim) for several.
        values: (batch, Tk, value_dim), the encoder states (keys and values alike).
        values_mask: optional bool (batch, Tk), True for real source tokens (e.g.
            `source_ids != 0`). Padded positions get weight exactly 0.
        return_attention_scores: also return the weights.
        projected_values: optional (batch, Tk, units), `project_values(values)` computed
            once: a decoder asks at every step, and W₂ h_i does not change between steps.

    Returns:
        The context vectors (batch, value_dim) or (batch, Tq, value_dim); with
        `return_attention_scores`, `(context, weights)`, weights (batch, [Tq,] Tk) summing to 1
        over the real positions.

    Example:

    >>> attention = AdditiveAttention(units=16)
    >>> state, encoded = np.ones((2, 32)), np.ones((2, 7, 64))
    >>> context, weights = attention(state, encoded, return_attention_scores=True)
    >>> context.shape, weights.shape
    ((2, 64), (2, 7))
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, query_shape, values_shape=None):
        values_shape = values_shape or query_shape
        self.query_projection = keras.layers.Dense(  # W₁
            self.units, use_bias=False, dtype=self.dtype_policy, name="query_projection")
        self.query_projection.build(query_shape)
        self.values_projection = keras.layers.Dense(  # W₂ (its bias is the score's bias)
            self.units, dtype=self.dtype_policy, name="values_projection")
        self.values_projection.build(values_shape)
        self.score = keras.layers.Dense(  # vᵀ
            1, use_bias=False, dtype=self.dtype_policy, name="score")
        self.score.build(tuple(values_shape[:-1]) + (self.units,))

    def project_values(self, values):
        """W₂ h_i (batch, Tk, units): the half of the score that does not depend on the query."""
        return self.values_projection(values)

    def call(self, query, values, values_mask=None, return_attention_scores=False,
             projected_values=None):
        single = len(query.shape) == 2
        if single:
            query = query[:, None, :]  # (B, 1, Dq)
        if projected_values is None:
            projected_values = self.project_values(values)
        hidden = ops.tanh(  # (B, Tq, 1, U) + (B, 1, Tk, U) -> (B, Tq, Tk, U)
            self.query_projection(query)[:, :, None, :] + projected_values[:, None, :, :]
        )
        scores = self.score(hidden)[..., 0]  # (B, Tq, Tk)
        if values_mask is not None:
            blocked = ops.cast(large_negative_number(scores.dtype), scores.dtype)
            scores = ops.where(ops.cast(values_mask, "bool")[:, None, :], scores, blocked)
        weights = ops.cast(ops.softmax(ops.cast(scores, "float32"), axis=-1), values.dtype)
        context = ops.matmul(weights, values)  # (B, Tq, Dv)
        if single:
            context, weights = context[:, 0], weights[:, 0]
        return (context, weights) if return_attention_scores else context

    def compute_output_spec(self, query, values, values_mask=None, return_attention_scores=False,
                            projected_values=None):
        batch = tuple(query.shape[:-1])
        context = keras.KerasTensor(batch + (values.shape[-1],), dtype=self.compute_dtype)
        if not return_attention_scores:
            return context
        weights = keras.KerasTensor(batch + (values.shape[1],), dtype=self.compute_dtype)
        return context, weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}
