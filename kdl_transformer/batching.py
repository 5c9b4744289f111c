"""Length bucketing: batches of rows of similar lengths, each cut to its longest row.

Rows of token ids come padded (id 0) to one fixed length, but most are far shorter: IMDB
reviews are much shorter than the classifier's `sequence_length` on average, and Tatoeba
pairs are 7 subwords long. Sorting the rows by length within windows of a few batches, then
cutting each batch to its longest row, removes most of the padding, and with it most of the
attention's T x T work (2-3x less work on Tatoeba). Both models train on these batches; the
padding masks hide what is left of the padding, so the results are those of padded batches.

Shapes vary from batch to batch, so XLA (`jit_compile`) would recompile for every new
shape: keep it off with this pipeline.
"""

import tensorflow as tf

SORT_BY = ("features", "labels")


def row_lengths(token_ids):
    """Non-padding tokens per row: int32 (B,) of int ids (B, T) where 0 is padding."""
    return tf.reduce_sum(tf.cast(token_ids != 0, tf.int32), axis=-1)


def _trim(tensor):
    if not (tensor.dtype.is_integer and tensor.shape.rank == 2):
        return tensor  # e.g. float labels (B, 1)
    longest = tf.maximum(tf.reduce_max(row_lengths(tensor)), 1)
    return tensor[:, :longest]  # (B, T) -> (B, longest)


def trim_padding(*batch):
    """Cut every int (B, T) tensor of a batch to its own longest row (at least 1 column).

    Other tensors (float labels, anything not of rank 2) pass unchanged. Takes the element of a
    batched `tf.data.Dataset` (use it with `dataset.map(trim_padding)`) and returns it in the
    same structure.
    """
    trimmed = tf.nest.map_structure(_trim, batch)
    return trimmed[0] if len(batch) == 1 else trimmed


def length_bucketed_dataset(features, labels, batch_size, shuffle=False, seed=None,
                            window_batches=16, augment=None, sort_by="features",
                            drop_remainder=False, encode=None):
    """`(features, labels)` batches of rows of similar lengths, padding trimmed.

    Within windows of `window_batches * batch_size` rows, the rows are sorted by the
    non-padding length of one tensor (`sort_by`), then batched, and every int (B, T) tensor of a
    batch is cut to its own longest row (`trim_padding`). The number of batches stays
    `ceil(n / batch_size)` (asserted, so `len(dataset)` works; `n // batch_size` with
    `drop_remainder`). With `shuffle`, the rows are
    reshuffled every epoch before the windows are cut, the batches of each window are shuffled
    too (not fed shortest-first), and `augment` is applied to the features of each batch.

    Args:
        features: an int array (n, T), or a nested structure (tuple) of arrays with n rows.
        labels: array (n, ...) or a nested structure of them; float labels are never trimmed.
        batch_size: int, rows per batch.
        shuffle: bool, the training pipeline (reshuffled each epoch, `augment` applied).
        seed: int, op-level seed of the shuffles.
        window_batches: int, batches per sorting window.
        augment: `features -> features` on a trimmed batch (e.g. word dropout), training only.
        sort_by: "features", the first tensor of `features` (the classifier's token ids), or
            "labels", the first tensor of `labels` (the translator's decoder targets).
        drop_remainder: drop the last, partial batch, so that every batch has `batch_size`
            rows, statically (what `tf.distribute` needs to split batches over replicas).
        encode: None, or `(features, labels) -> (features, labels)` run on every window of
            rows before it is sorted: `features` and `labels` are then raw rows (e.g. the
            strings of sentence pairs) that `encode` turns into id tensors, anew each epoch
            (subword sampling). Its output structure is what the batches hold.

    Returns:
        a `tf.data.Dataset` of `(features, labels)` in the structure given.

    Example:

    >>> ids = np.array([[5, 6, 0, 0], [7, 0, 0, 0], [5, 6, 7, 8]])
    >>> ds = length_bucketed_dataset(ids, np.array([[1.0], [0.0], [1.0]]), batch_size=2)
    >>> [batch.shape for batch, _ in ds]  # doctest: +SKIP
    [TensorShape([2, 2]), TensorShape([1, 4])]
    """
    if sort_by not in SORT_BY:
        raise ValueError(f"sort_by={sort_by!r} must be one of {SORT_BY}.")
    if int(batch_size) < 1 or int(window_batches) < 1:
        raise ValueError(
            f"batch_size={batch_size} and window_batches={window_batches} must be at least 1."
        )
    rows = len(tf.nest.flatten(features)[0])

    def sort_window(features, labels):
        key = tf.nest.flatten(features if sort_by == "features" else labels)[0]
        order = tf.argsort(row_lengths(key))
        return tf.nest.map_structure(lambda tensor: tf.gather(tensor, order), (features, labels))

    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(rows, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size * window_batches)
    if encode is not None:
        dataset = dataset.map(encode)
    dataset = dataset.map(sort_window).unbatch()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).map(trim_padding)
    if shuffle and augment is not None:
        dataset = dataset.map(lambda features, labels: (augment(features), labels))
    if shuffle:  # do not feed each window's batches shortest-first
        dataset = dataset.shuffle(window_batches, seed=seed, reshuffle_each_iteration=True)
    batches = rows // batch_size if drop_remainder else -(-rows // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    # Under MultiWorkerMirroredStrategy every worker builds this same (seeded) pipeline and
    # keeps its share of each global batch; there are no files to shard by.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
