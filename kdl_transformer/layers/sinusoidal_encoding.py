"""Fixed sine/cosine position encodings (사인파 위치 인코딩) of the original Transformer."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kdl_transformer")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Sinusoidal position encoding, to be added to token embeddings.

        PE(pos, 2i)   = sin(pos / max_wavelength^(2i / d))
        PE(pos, 2i+1) = cos(pos / max_wavelength^(2i / d))

    Each pair of features rotates at its own frequency, so every position gets
    a unique pattern and relative offsets are linear functions of it. Nothing
    is learned, and any length works.

    Args:
        max_wavelength: float, the longest wavelength (10000 in the paper).

    Call arguments:
        inputs: (batch, length, dim) embeddings; only their shape is used.
        start_index: int or int tensor, position of the first token (for
            cached decoding steps).

    Returns:
        The encoding, shaped like `inputs`.

    Example:

    >>> embeddings = keras.random.normal((2, 10, 16))
    >>> x = embeddings + SinusoidalPositionalEncoding()(embeddings)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        length, dim = shape[-2], shape[-1]
        positions = ops.cast(ops.arange(length) + start_index, "float32")  # (T,)
        pair_index = ops.cast(ops.arange(dim) // 2 * 2, "float32")  # 2i for features 2i and 2i+1
        frequencies = ops.power(float(self.max_wavelength), -pair_index / ops.cast(dim, "float32"))
        angles = positions[:, None] * frequencies[None, :]  # (T, D)
        is_even = ops.equal(ops.arange(dim) % 2, 0)
        encoding = ops.where(is_even, ops.sin(angles), ops.cos(angles))  # (T, D)
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
