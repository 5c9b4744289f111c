"""Global pooling over time that respects the padding mask."""

import keras
from keras import ops

from kdl_transformer.layers.attention import large_negative_number

POOLINGS = ("max", "mean", "mean_max", "cls")


@keras.saving.register_keras_serializable(package="kdl_transformer")
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Global max / mean / mean+max pooling over time that skips padded positions.

    `keras.layers.GlobalMaxPooling1D` ignores the padding mask (and warns that it
    destroys it), so a padded position can win the max. Here padded positions are
    excluded; a sequence with no real token pools to zeros. `"cls"` keeps the vector of
    the first position, BERT's `[CLS]` token, which self-attention lets gather the whole
    sequence (the mask plays no part there: position 0 is always real).

    Args:
        mode: "max", "mean", "mean_max" (the two concatenated: mean first) or "cls"
            (the first position).

    Call arguments:
        inputs: (batch, length, channels).
        mask: optional (batch, length), True for real tokens; taken from the Keras
            mask when not given.

    Example:

    >>> pool = MaskedGlobalPooling1D("mean_max")
    >>> pool(np.ones((2, 5, 8)), mask=np.array([[1, 1, 0, 0, 0]] * 2, bool)).shape
    (2, 16)
    """

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"mode={mode!r} is not one of {POOLINGS}.")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if self.mode == "cls":
            return inputs[:, 0, :]  # (B, C)
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")[:, :, None]  # (B, T, 1)
        pooled = []
        if self.mode in ("mean", "mean_max"):
            weights = ops.cast(mask, inputs.dtype)
            total = ops.sum(ops.where(mask, inputs, 0.0), axis=1)  # (B, C)
            count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # (B, 1)
            pooled.append(total / count)
        if self.mode in ("max", "mean_max"):
            lowest = ops.cast(large_negative_number(inputs.dtype), inputs.dtype)
            largest = ops.max(ops.where(mask, inputs, lowest), axis=1)  # (B, C)
            any_token = ops.any(mask, axis=1)  # (B, 1)
            pooled.append(ops.where(any_token, largest, 0.0))
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if self.mode == "mean_max" and channels is not None:
            channels *= 2
        return (input_shape[0], channels)

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
