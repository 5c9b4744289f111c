"""Scaled dot-product attention, written out step by step.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + mask) V

This is the computation at the heart of every layer in this package (셀프 어텐션,
크로스 어텐션 alike). The query asks "what am I looking for?", each key says "what
do I contain?", and the softmax-normalised similarities decide how much of each
value flows into the output.
"""

import keras
from keras import ops


def large_negative_number(dtype):
    """A value whose exp() is exactly 0 in `dtype`, finite in `dtype` (so no inf - inf = NaN).

    -1e9 overflows float16 (largest finite value 65504) to -inf; -3e4 fits float16 and
    bfloat16 alike, and exp(-3e4) is 0 in every float type.
    """
    if keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16"):
        return -3e4
    return -1e9


def scaled_dot_product_attention(query, key, value, mask=None, dropout=None, training=None):
    """Compute attention outputs and weights.

    Args:
        query: tensor of shape (..., query_length, key_dim).
        key: tensor of shape (..., key_length, key_dim).
        value: tensor of shape (..., key_length, value_dim).
        mask: optional boolean/int tensor broadcastable to
            (..., query_length, key_length); 1 / True = attend (the Keras
            convention), 0 / False = masked out.
        dropout: optional `keras.layers.Dropout` applied to the weights
            before they multiply the values (the returned weights are the
            ones before dropout, as in `keras.layers.MultiHeadAttention`).
        training: Python bool or None, passed to `dropout`.

    Returns:
        `(output, weights)`: output (..., query_length, value_dim) and
        weights (..., query_length, key_length), each row summing to 1, both in the
        dtype of `query`. Under mixed precision the softmax itself runs in float32, so
        the sum over the keys does not lose the small weights.

    Example:

    >>> q = k = v = keras.random.normal((2, 5, 8))
    >>> output, weights = scaled_dot_product_attention(q, k, v)
    >>> output.shape, weights.shape
    ((2, 5, 8), (2, 5, 5))
    """
    key_dim = ops.shape(query)[-1]
    scale = ops.cast(1.0 / ops.sqrt(ops.cast(key_dim, "float32")), query.dtype)
    scores = ops.matmul(query * scale, ops.swapaxes(key, -1, -2))  # (..., Tq, Tk)
    if mask is not None:
        # A large negative number where the mask is 0: exp() of it is exactly 0.
        blocked = ops.cast(large_negative_number(scores.dtype), scores.dtype)
        scores = ops.where(ops.cast(mask, "bool"), scores, blocked)
    weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)  # (..., Tq, Tk)
    weights = ops.cast(weights, query.dtype)
    attended = weights if dropout is None else dropout(weights, training=training)
    output = ops.matmul(attended, value)  # (..., Tq, dv)
    return output, weights
