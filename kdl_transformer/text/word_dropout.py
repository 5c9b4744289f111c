"""Word dropout: hide a random share of the real tokens of a training batch behind `[UNK]`."""

import tensorflow as tf


def word_dropout(token_ids, rate, unk_id, seed=None, keep_first=False, pad_id=0, keep_ids=()):
    """Replace each real token of `token_ids` by `unk_id` with probability `rate`.

    A strong regulariser on small corpora: the model cannot rely on any single word being
    there. Padding is never replaced, and with `keep_first` neither is the first column (a
    decoder's `[START]`), nor any of `keep_ids` (BERT's `[CLS]` and `[SEP]`).

    Args:
        token_ids: int tensor (batch, length).
        rate: float in [0, 1), the share of real tokens to replace.
        unk_id: int, the id that replaces them.
        seed: int, op-level seed of the random draw.
        keep_first: bool, never replace position 0.
        pad_id: int, the padding id.
        keep_ids: ids never replaced.

    Returns:
        int tensor like `token_ids`.
    """
    hit = tf.random.uniform(tf.shape(token_ids), seed=seed) < rate  # (B, T)
    hit &= token_ids != pad_id
    if keep_first:
        hit &= tf.range(tf.shape(token_ids)[1]) > 0
    for keep_id in keep_ids:
        hit &= token_ids != keep_id
    return tf.where(hit, tf.constant(unk_id, token_ids.dtype), token_ids)
