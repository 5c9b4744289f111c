"""Token embeddings plus position information, the first block of every model here."""

import keras
from keras import ops

from kdl_transformer.layers.sinusoidal_encoding import SinusoidalPositionalEncoding

POSITION_KINDS = ("learned", "sinusoidal")


@keras.saving.register_keras_serializable(package="kdl_transformer")
class PositionalEmbedding(keras.layers.Layer):
    """Token embedding + position embedding (위치 임베딩), as in the book.

    Self-attention is blind to order: shuffle the tokens and every output is
    shuffled the same way. Adding a vector that depends on the position
    breaks that symmetry. `positions="learned"` learns one vector per position
    (the book's choice); `"sinusoidal"` uses the fixed encodings of the paper.

    Masking: with `mask_zero=True`, token id 0 is padding and the layer
    attaches a (batch, length) padding mask to its output, which downstream
    Keras layers (and this package's encoder/decoder) honour.

    Args:
        sequence_length: int, the longest sequence the layer accepts.
        vocab_size: int, number of token ids.
        embed_dim: int, width of the embeddings.
        mask_zero: bool, whether id 0 is padding.
        positions: `"learned"` or `"sinusoidal"`.
        token_embedding: None, or an existing `keras.layers.ReversibleEmbedding` of the same
            sizes to use as this layer's token table (tying, as in
            `Seq2SeqTransformer(tie_embeddings=True)`). Not part of `get_config`: the owner
            passes it again when it is rebuilt from its own config.

    Call arguments:
        inputs: int tensor (batch, length) of token ids.
        start_index: int or int tensor, position of the first token; a cached
            decoding step passes the index of the token it feeds.

    Attributes (once built):
        token_embedding: the (vocab_size, embed_dim) token table, a
            `keras.layers.ReversibleEmbedding`; `token_embedding(x, reverse=True)`
            projects hidden states (..., embed_dim) onto vocabulary logits with the same
            table (weight tying).

    Example:

    >>> layer = PositionalEmbedding(sequence_length=8, vocab_size=100, embed_dim=16)
    >>> layer(ops.array([[5, 7, 9, 0]])).shape
    (1, 4, 16)
    """

    def __init__(
        self,
        sequence_length,
        vocab_size,
        embed_dim,
        mask_zero=True,
        positions="learned",
        token_embedding=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.shared_token_embedding = token_embedding
        if positions not in POSITION_KINDS:
            raise ValueError(f"positions={positions!r} is not one of {POSITION_KINDS}.")
        self.sequence_length = sequence_length
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.mask_zero = mask_zero
        self.positions = positions
        self.supports_masking = mask_zero

    def build(self, inputs_shape=None):
        # A ReversibleEmbedding is a keras Embedding (the same single `embeddings` table, the
        # same look-up and initializer, so earlier .keras files load unchanged) that can also
        # project hidden states back onto the vocabulary with that table transposed,
        # `token_embedding(x, reverse=True)`: what a weight-tied output layer needs, e.g.
        # keras_hub's MaskedLMHead(token_embedding=...) in `models.bert`.
        token_embedding = self.shared_token_embedding
        if token_embedding is None:
            token_embedding = keras.layers.ReversibleEmbedding(
                self.vocab_size, self.embed_dim, tie_weights=True, dtype=self.dtype_policy,
                name="token_embedding",
            )
        if not token_embedding.built:
            token_embedding.build((None, None))
        self.token_embedding = token_embedding
        if self.positions == "learned":
            self.position_embedding = keras.layers.Embedding(
                self.sequence_length,
                self.embed_dim,
                dtype=self.dtype_policy,
                name="position_embedding",
            )
            self.position_embedding.build((None,))
        else:
            self.position_embedding = SinusoidalPositionalEncoding(
                dtype=self.dtype_policy, name="position_encoding"
            )

    def _check_length(self, inputs):
        length = inputs.shape[-1]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                f"The input has {length} tokens but this PositionalEmbedding accepts at most "
                f"sequence_length={self.sequence_length}; truncate the input or build the "
                "layer with a larger sequence_length."
            )

    def call(self, inputs, start_index=0):
        self._check_length(inputs)
        tokens = self.token_embedding(inputs)  # (B, T, D)
        if self.positions == "learned":
            # Rows start_index .. start_index + T - 1 of the table, as a slice, not a look-up: a
            # slice's gradient is dense, so it sums over tf.distribute replicas to exactly the
            # one-device gradient (a look-up's sparse rows, one set per replica, would reach
            # Adam's second moment as separate duplicates).
            table = ops.cast(self.position_embedding.embeddings, self.compute_dtype)
            length = ops.shape(inputs)[-1]
            positions = ops.slice(table, (start_index, 0), (length, self.embed_dim))  # (T, D)
            return tokens + positions[None, :, :]
        return tokens + self.position_embedding(tokens, start_index=start_index)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embed_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim,
                "mask_zero": self.mask_zero,
                "positions": self.positions,
            }
        )
        return config
