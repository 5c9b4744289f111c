"""What the encoder and decoder blocks share: their arguments, sublayers and residual wiring."""

import keras

from kdl_transformer.layers.multi_head_attention import MultiHeadAttention, head_width


class TransformerBlock(keras.layers.Layer):
    """The common base of `TransformerEncoder` and `TransformerDecoder` (not a layer to use alone).

    Every sub-block (attention, feed-forward) is wrapped the same way, in a residual
    connection and a LayerNorm, after it (post-norm, the book and the paper) or before it
    (pre-norm, `norm_first=True`, which trains more stably for deep stacks):

        post-norm:  x = LayerNorm(x + Dropout(SubBlock(x)))
        pre-norm:   x = x + Dropout(SubBlock(LayerNorm(x)))

    Args:
        embed_dim: int, width of inputs and outputs.
        dense_dim: int, hidden width of the feed-forward network.
        num_heads: int, number of heads; must divide `embed_dim` (each head gets
            `embed_dim // num_heads` features, as in the paper).
        dropout: float, dropout rate (attention weights and residual branches).
        norm_first: bool, pre-norm instead of post-norm.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: float.
    """

    def __init__(
        self,
        embed_dim,
        dense_dim,
        num_heads,
        dropout=0.0,
        norm_first=False,
        activation="relu",
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.key_dim = head_width(embed_dim, num_heads)
        self.embed_dim = embed_dim
        self.dense_dim = dense_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.supports_masking = True

    # ------------------------------------------------------------------ sublayers
    def _attention(self, name):
        return MultiHeadAttention(
            self.num_heads, self.key_dim, dropout=self.dropout, dtype=self.dtype_policy, name=name
        )

    def _feed_forward(self, inputs_shape):
        """The position-wise feed-forward network: Dense(dense_dim) -> Dense(embed_dim)."""
        network = keras.Sequential(
            [
                keras.layers.Dense(self.dense_dim, activation=self.activation, dtype=self.dtype_policy),
                keras.layers.Dense(self.embed_dim, dtype=self.dtype_policy),
            ],
            name="feed_forward",
        )
        network.build(inputs_shape)
        return network

    def _norm(self, name, inputs_shape):
        norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(inputs_shape)
        return norm

    def _residual(self, norm, inputs, sublayer, training):
        """inputs + Dropout(sublayer(x)), with the LayerNorm before (pre-norm) or after (post-norm).

        `sublayer` returns a tuple whose first element is its output; the rest (attention
        scores, caches) is passed through.
        """
        if self.norm_first:
            outputs, *rest = sublayer(norm(inputs))
            return (inputs + self.residual_dropout(outputs, training=training), *rest)
        outputs, *rest = sublayer(inputs)
        return (norm(inputs + self.residual_dropout(outputs, training=training)), *rest)

    # ------------------------------------------------------------------ Keras
    def compute_mask(self, inputs, mask=None):
        return mask  # the padding mask of the inputs is that of the outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embed_dim": self.embed_dim,
                "dense_dim": self.dense_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "norm_first": self.norm_first,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
