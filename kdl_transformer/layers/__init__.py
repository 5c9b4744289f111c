"""The Transformer's building blocks, written with `keras.ops`."""

from kdl_transformer.layers.additive_attention import AdditiveAttention
from kdl_transformer.layers.attention import scaled_dot_product_attention
from kdl_transformer.layers.masked_global_pooling import MaskedGlobalPooling1D
from kdl_transformer.layers.multi_head_attention import MultiHeadAttention
from kdl_transformer.layers.positional_embedding import PositionalEmbedding
from kdl_transformer.layers.sinusoidal_encoding import SinusoidalPositionalEncoding
from kdl_transformer.layers.transformer_decoder import TransformerDecoder
from kdl_transformer.layers.transformer_encoder import TransformerEncoder

__all__ = [
    "AdditiveAttention",
    "MaskedGlobalPooling1D",
    "MultiHeadAttention",
    "PositionalEmbedding",
    "SinusoidalPositionalEncoding",
    "TransformerDecoder",
    "TransformerEncoder",
    "scaled_dot_product_attention",
]
