"""The Transformer encoder block (트랜스포머 인코더)."""

import keras

from kdl_transformer.layers import masking
from kdl_transformer.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="kdl_transformer")
class TransformerEncoder(TransformerBlock):
    """Self-attention + feed-forward, each wrapped in a residual and a LayerNorm.

    Post-norm, as in the book and the paper (`norm_first=False`):

        x = LayerNorm(inputs + Dropout(SelfAttention(inputs)))
        y = LayerNorm(x + Dropout(FeedForward(x)))

    Pre-norm (`norm_first=True`) normalises before each sub-block instead,
    which trains more stably for deep stacks.

    Masking: padded tokens are excluded as attention keys. The padding mask
    comes from `padding_mask` when given, else from the implicit Keras mask of
    `inputs` (e.g. from `PositionalEmbedding(mask_zero=True)`), which Keras
    passes as the `mask` call argument; the mask is passed on to the next
    layer.

    Args:
        embed_dim: int, width of inputs and outputs.
        dense_dim: int, hidden width of the feed-forward network.
        num_heads: int, number of heads; must divide `embed_dim`.
        dropout: float, dropout rate (attention weights and residual branches).
        norm_first: bool, pre-norm instead of post-norm.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: float.

    Call arguments:
        inputs: (batch, length, embed_dim).
        padding_mask: optional (batch, length), 1/True for real tokens.
        mask: the implicit Keras mask of `inputs`; Keras fills it in.
        training: bool, enables dropout.
        return_attention_scores: bool; also return the attention weights,
            shaped (batch, num_heads, length, length).

    Example:

    >>> encoder = TransformerEncoder(embed_dim=16, dense_dim=32, num_heads=2)
    >>> encoder(keras.random.normal((2, 5, 16))).shape
    (2, 5, 16)

    In a functional model, with the attention maps as a second output:

    >>> tokens = keras.Input((None,), dtype="int32")
    >>> x = PositionalEmbedding(sequence_length=64, vocab_size=100, embed_dim=16)(tokens)
    >>> x, scores = encoder(x, return_attention_scores=True)
    >>> scores.shape
    (None, 2, None, None)
    """

    def build(self, inputs_shape):
        self.attention = self._attention("self_attention")
        self.attention.build(inputs_shape, inputs_shape)
        self.feed_forward = self._feed_forward(inputs_shape)
        self.attention_norm = self._norm("attention_norm", inputs_shape)
        self.feed_forward_norm = self._norm("feed_forward_norm", inputs_shape)
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def call(
        self, inputs, padding_mask=None, mask=None, training=None, return_attention_scores=False
    ):
        if padding_mask is None:
            padding_mask = mask  # the implicit Keras mask, handed over by Keras
        inputs = masking.without_keras_mask(inputs, padding_mask)  # consumed here, below
        attention_mask = masking.key_padding_mask(padding_mask)  # (B, 1, 1, T)
        x, scores = self._residual(
            self.attention_norm,
            inputs,
            lambda y: self.attention(y, y, attention_mask=attention_mask, training=training),
            training,
        )  # (B, T, D), (B, H, T, T)
        (outputs,) = self._residual(
            self.feed_forward_norm, x, lambda y: (self.feed_forward(y),), training
        )
        return (outputs, scores) if return_attention_scores else outputs

    def compute_output_spec(self, inputs, return_attention_scores=False, **kwargs):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, length = inputs.shape[0], inputs.shape[1]
        scores = keras.KerasTensor(
            (batch, self.num_heads, length, length), dtype=self.compute_dtype
        )
        return outputs, scores
