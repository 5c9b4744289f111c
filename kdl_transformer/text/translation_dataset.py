"""Padded (encoder input, decoder input, decoder target) batches for the translator.

Every sentence pair becomes three rows of `max_length` int32 ids:

    source        = src_ids[:max_length]                          + [PAD]...
    target_input  = [START] + tgt_ids[:max_length - 1]            + [PAD]...
    target_output =           tgt_ids[:max_length - 1] + [END]    + [PAD]...

so `target_output` is `target_input` shifted left by one (teacher forcing) and always
ends in `[END]`, even when the sentence was truncated, so that the model learns to stop.

All pairs are tokenized once, up front, into fixed-shape arrays: the `tf.data` pipeline
then only shuffles and batches. Padding to a fixed `max_length` (rather than per batch)
keeps every batch the same shape, so a `jit_compile=True` model traces once; per-batch
padding would retrace for every new length. Subword regularisation (BPE-dropout) is the
exception: its training pipeline tokenizes every window of pairs anew,
`encode_translation_batch(..., sampling=...)` inside `tf.data`.
"""

import numpy as np
import tensorflow as tf

from kdl_transformer.quiet import filtered_stderr


def encode_translation_pairs(pairs, source_tokenizer, target_tokenizer, max_length):
    """Tokenize and pad sentence pairs into numpy arrays.

    Args:
        pairs: sequence of `(source, target)` str pairs.
        source_tokenizer, target_tokenizer: `SubwordTokenizer`s (or anything with
            `tokenize`, `start_id`, `end_id`, `pad_id` = 0).
        max_length: int >= 2, length of every row.

    Returns:
        `(source, target_input, target_output)`: int32 arrays of shape (n, max_length).
    """
    _check_max_length(max_length)
    if not pairs:
        empty = np.zeros((0, max_length), dtype="int32")
        return empty, empty.copy(), empty.copy()
    sources = tf.constant([s for s, _ in pairs], dtype=tf.string)
    targets = tf.constant([t for _, t in pairs], dtype=tf.string)
    rows = encode_translation_batch(sources, targets, source_tokenizer, target_tokenizer, max_length)
    return tuple(row.numpy() for row in rows)


def encode_translation_batch(sources, targets, source_tokenizer, target_tokenizer, max_length,
                             sampling=0.0):
    """`encode_translation_pairs` as TensorFlow ops on (n,) string tensors, e.g. in `tf.data`.

    `sampling` > 0 tokenizes both sides with BPE-dropout (`SubwordTokenizer.tokenize`): a
    new segmentation at every call, for subword regularisation in a training pipeline.

    Returns:
        `(source, target_input, target_output)`: int32 tensors of shape (n, max_length).
    """
    _check_max_length(max_length)
    tokenize = {"sampling": sampling} if sampling else {}
    src = source_tokenizer.tokenize(sources, **tokenize)  # (n, None)
    tgt = target_tokenizer.tokenize(targets, **tokenize)[:, : max_length - 1]  # (n, None)
    n = tf.shape(sources)[0]
    start = tf.fill([n, 1], tf.constant(target_tokenizer.start_id, tf.int32))
    end = tf.fill([n, 1], tf.constant(target_tokenizer.end_id, tf.int32))
    with filtered_stderr():  # oneDNN's one-off "supports DT_INT64 only ..." line (see quiet.py)
        target_input = tf.concat([start, tgt], axis=1)  # (n, <= max_length)
        target_output = tf.concat([tgt, end], axis=1)  # (n, <= max_length)
    shape = [None, max_length]
    return (
        src[:, :max_length].to_tensor(default_value=0, shape=shape),
        target_input.to_tensor(default_value=0, shape=shape),
        target_output.to_tensor(default_value=0, shape=shape),
    )


def _check_max_length(max_length):
    if int(max_length) < 2:
        raise ValueError(f"max_length={max_length} must be at least 2 ([START] and [END] need room).")


def make_translation_dataset(
    pairs,
    source_tokenizer,
    target_tokenizer,
    batch_size=64,
    max_length=32,
    shuffle=True,
    seed=1337,
    drop_remainder=False,
):
    """A `tf.data.Dataset` of `((source, target_input), target_output)` batches.

    Args:
        pairs: sequence of `(source, target)` str pairs (e.g. English, Korean).
        source_tokenizer: `SubwordTokenizer` for the source language.
        target_tokenizer: `SubwordTokenizer` for the target language.
        batch_size: int, pairs per batch.
        max_length: int, every row is padded (id 0) or truncated to this length.
        shuffle: bool, reshuffle the pairs every epoch.
        seed: int, seed of the shuffle (same order on every run).
        drop_remainder: bool, drop the last, smaller batch (fully static shapes).

    Returns:
        dataset of `((source (B, max_length), target_input (B, max_length)),
        target_output (B, max_length))`, all int32, 0 = padding.

    Example:

    >>> ds = make_translation_dataset(pairs, en_tok, ko_tok, batch_size=32, max_length=20)
    >>> model.fit(ds, epochs=10)  # doctest: +SKIP
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1.")
    source, target_input, target_output = encode_translation_pairs(
        pairs, source_tokenizer, target_tokenizer, max_length
    )
    dataset = tf.data.Dataset.from_tensor_slices(((source, target_input), target_output))
    if shuffle:
        dataset = dataset.shuffle(len(source) or 1, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
