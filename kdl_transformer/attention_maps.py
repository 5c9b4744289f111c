"""Attention maps of both models, read from the trained layers, as numpy arrays.

The layers return their attention weights when called with `return_attention_scores=True`
(they never store them); this module re-runs a trained model that way and turns the scores
into what a plot or an analysis needs. Plotting stays in `kdl_transformer.plotting`.

- classifier: `encoder_layers`, `encode_with_attention` (the last hidden states and every
  encoder block's (batch, heads, T, T) weights), `attention_scores`, and two per-token
  importances, `attention_rollout` (Abnar & Zuidema, 2020) and `max_pool_wins`;
- translator: `translation_attention`, the encoder self-attention, the causal decoder
  self-attention and the cross-attention (크로스 어텐션) of one translation, with the subword
  strings for the axes.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from kdl_transformer.layers import TransformerEncoder
from kdl_transformer.text.special_tokens import END_ID, PAD_ID, START_ID


# ------------------------------------------------------------------------------ classifier
def encoder_layers(model):
    """The TransformerEncoder blocks of a `build_classifier` model, in order."""
    return [layer for layer in model.layers if isinstance(layer, TransformerEncoder)]


def encode_with_attention(model, token_ids):
    """Run the embedding and encoder blocks of `model`, keeping every attention map.

    Args:
        model: a model from `build_classifier` (trained or not).
        token_ids: int array (batch, length), 0 = padding.

    Returns:
        `(hidden, scores)`: the last encoder's outputs (batch, length, embed_dim)
        as numpy, and a list with one numpy array (batch, heads, length, length)
        per encoder block (rows: queries, columns: keys; padded keys get 0).
    """
    token_ids = ops.convert_to_tensor(np.asarray(token_ids, dtype="int64"))
    padding_mask = ops.not_equal(token_ids, 0)  # (B, T)
    x = model.get_layer("positional_embedding")(token_ids)  # (B, T, D)
    scores = []
    for encoder in encoder_layers(model):
        x, layer_scores = encoder(
            x, padding_mask=padding_mask, training=False, return_attention_scores=True
        )  # (B, T, D), (B, H, T, T)
        scores.append(ops.convert_to_numpy(layer_scores))
    return ops.convert_to_numpy(x), scores


def attention_scores(model, token_ids):
    """Per-layer attention weights, a list of (batch, heads, length, length) numpy arrays."""
    return encode_with_attention(model, token_ids)[1]


def attention_rollout(scores, padding_mask):
    """Attention rollout (Abnar & Zuidema, 2020): how much each token feeds the last layer.

    Each layer's head-averaged weights get the identity added (the residual
    connection) and rows renormalised; the layers are multiplied together, and the
    rows of real tokens are averaged into one score per key token.

    Args:
        scores: list of (batch, heads, length, length) arrays, first layer first.
        padding_mask: (batch, length) bool, True for real tokens.

    Returns:
        (batch, length) numpy array, summing to 1 over real tokens (0 on padding).
    """
    padding_mask = np.asarray(padding_mask, dtype=bool)
    length = padding_mask.shape[1]
    rollout = np.broadcast_to(np.eye(length), (padding_mask.shape[0], length, length))
    for layer_scores in scores:
        mixed = np.asarray(layer_scores).mean(axis=1) + np.eye(length)  # (B, T, T)
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        rollout = mixed @ rollout  # (B, T, T)
    rows = padding_mask[:, :, None].astype(rollout.dtype)  # only real queries
    importance = (rollout * rows).sum(axis=1) * padding_mask  # (B, T)
    return importance / np.maximum(importance.sum(axis=1, keepdims=True), 1e-12)


def max_pool_wins(hidden, padding_mask):
    """Share of the channels whose global max-pool picks each position.

    Args:
        hidden: (batch, length, channels) outputs of the last encoder block.
        padding_mask: (batch, length) bool, True for real tokens.

    Returns:
        (batch, length) numpy array summing to 1 over positions (0 on padding and
        for a sequence with no real token).
    """
    hidden = np.asarray(hidden)
    padding_mask = np.asarray(padding_mask, dtype=bool)
    masked = np.where(padding_mask[:, :, None], hidden, -np.inf)  # (B, T, C)
    winners = masked.argmax(axis=1)  # (B, C)
    wins = np.zeros(padding_mask.shape, dtype="float64")
    for row, row_winners in enumerate(winners):
        if padding_mask[row].any():
            wins[row] = np.bincount(row_winners, minlength=padding_mask.shape[1])
    return wins / np.maximum(wins.sum(axis=1, keepdims=True), 1.0)


# ------------------------------------------------------------------------------ translator
def translation_attention(translator, source_text, target_text=None, method="greedy"):
    """Attention maps of one translation, with the token strings for the axes.

    `Translator.attention` calls this. The forced (or searched) translation is run once more
    through the model's `forward(..., return_attention_scores=True)`, and each map is
    cropped to the real tokens. A GRU with attention has one cross-attention "layer" with one
    "head" (its additive attention) and no self-attention (empty lists); a GRU without
    attention has no map at all (its `forward` says so).

    Args:
        translator: a `kdl_transformer.translator.Translator`.
        source_text: one English sentence.
        target_text: a Korean sentence to force; None translates `source_text` first.
        method: search used when `target_text` is None.

    Returns:
        dict with "translation" (str), "source_tokens" (English subwords),
        "decoder_input_tokens" ("[START]" then the Korean subwords),
        "output_tokens" (the Korean subwords then "[END]": the token each decoder
        position predicts), and numpy float32 maps per layer, each (heads, rows, columns):
        "cross_attention" (output tokens x source tokens), "decoder_self_attention"
        (decoder inputs x decoder inputs, lower-triangular), "encoder_self_attention".
    """
    source = translator.encode_source([source_text])  # (1, S)
    if source.shape[1] == 0:
        raise ValueError(
            f"attention needs an English sentence with at least one token, got {source_text!r}."
        )
    if target_text is None:
        found = translator.search([source_text], method=method)
        target = tf.constant(found["tokens"][:, : max(int(found["lengths"][0]), 1)])
    else:
        target = translator.encode_target([target_text])
    target = target.numpy()[0]
    target = target[target != PAD_ID]
    if target.size == 0 or target[-1] != END_ID:
        target = np.append(target, END_ID)[: translator.max_length]
    decoder_inputs = np.concatenate([[START_ID], target[:-1]]).astype("int32")
    maps = translator.model.forward(
        source, tf.constant(decoder_inputs[None]), training=False, return_attention_scores=True
    )
    source_ids = source.numpy()[0]
    source_ids = source_ids[source_ids != PAD_ID]
    s, t = len(source_ids), len(decoder_inputs)

    def crop(scores, rows, columns):
        return [np.asarray(layer)[0, :, :rows, :columns] for layer in scores]

    english, korean = translator.source_tokenizer, translator.target_tokenizer
    return {
        "translation": translator.detokenize(target[None])[0],
        "source_tokens": [english.id_to_token(i) for i in source_ids],
        "decoder_input_tokens": [korean.id_to_token(i) for i in decoder_inputs],
        "output_tokens": [korean.id_to_token(i) for i in target],
        "cross_attention": crop(maps["cross_attention"], t, s),
        "decoder_self_attention": crop(maps["decoder_self_attention"], t, t),
        "encoder_self_attention": crop(maps["encoder_self_attention"], s, s),
    }
