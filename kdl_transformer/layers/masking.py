"""Mask helpers shared by every attention layer.

Convention (the same as Keras): a mask value of 1 / True means "attend to this
position", 0 / False means "ignore it". Padding masks are (batch, length); attention
masks are broadcastable to (batch, heads, query_length, key_length).
"""

from keras import ops


def causal_mask(query_length, key_length, start_index=0):
    """Lower-triangular mask: query `i` sees keys `0 .. start_index + i`.

    `start_index` is the absolute position of the first query, so the same
    helper serves the full pass (start_index=0, square mask) and a cached
    decoding step (one query at position `start_index` over a cache of
    `key_length` slots, the unfilled ones in the future and hence masked).

    Returns:
        A boolean tensor of shape (query_length, key_length).
    """
    query_positions = ops.arange(query_length)[:, None] + start_index  # (Tq, 1)
    key_positions = ops.arange(key_length)[None, :]  # (1, Tk)
    return ops.greater_equal(query_positions, key_positions)  # (Tq, Tk)


def key_padding_mask(padding_mask):
    """Turn a (batch, key_length) padding mask into a (batch, 1, 1, key_length) attention mask."""
    if padding_mask is None:
        return None
    return ops.cast(padding_mask, "bool")[:, None, None, :]


def merge_masks(*masks):
    """Logical AND of the masks that are not None (None if all are)."""
    merged = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        merged = mask if merged is None else ops.logical_and(merged, mask)
    return merged


def without_keras_mask(tensor, mask):
    """`tensor` as a new tensor that carries no Keras mask, when it may carry one (`mask`).

    Keras hands a layer the mask of its inputs through the public route, the `mask=` (or
    `<argument>_mask=`) call argument. A block that consumes that mask itself, as an
    attention mask, passes its sublayers a mask-free copy (`ops.copy`, free inside a
    compiled graph); otherwise sublayers that do not support masking (the projections of
    multi-head attention) would warn that they "will destroy the mask".
    """
    if tensor is None or mask is None:
        return tensor
    return ops.copy(tensor)
