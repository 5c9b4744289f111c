"""Length bucketing: every row kept, windows sorted, each tensor trimmed to its longest row."""

import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer.batching import length_bucketed_dataset, trim_padding


def padded_rows(lengths, width=10, seed=0, start=2):
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), width), dtype="int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(start, 50, size=length)
    return ids


def real(row):
    return tuple(row[row != 0])


def length(ids):
    return (ids != 0).sum(axis=1)


LENGTHS = [1, 10, 3, 7, 2, 9, 5, 0, 4, 6, 8, 10, 3]  # 13 rows: 4 batches of 4, windows of 8


def test_classifier_layout_sorts_windows_trims_ids_and_keeps_labels_whole():
    ids = padded_rows(LENGTHS)
    labels = (np.arange(len(ids)) % 2).astype("float32").reshape(-1, 1)
    dataset = length_bucketed_dataset(ids, labels, batch_size=4, window_batches=2)
    assert len(dataset) == 4  # ceil(13 / 4)
    batches = [(x.numpy(), y.numpy()) for x, y in dataset]
    for x, y in batches:
        assert x.shape[1] == max(length(x).max(), 1)  # cut to its longest row
        assert y.shape == (len(x), 1) and y.dtype == np.float32  # labels never trimmed
    rows = [(real(r), float(v)) for x, y in batches for r, v in zip(x, y[:, 0])]
    for window in range(2):  # each window of 8 rows, sorted by length
        part = slice(8 * window, 8 * window + 8)
        got = rows[part]
        want = [(real(r), float(v)) for r, v in zip(ids[part], labels[part, 0])]
        assert [len(r) for r, _ in got] == sorted(len(r) for r, _ in want)
        assert sorted(got) == sorted(want)


def test_training_batches_are_reshuffled_sorted_within_and_keep_every_row():
    ids = padded_rows(LENGTHS)
    labels = np.arange(len(ids), dtype="float32").reshape(-1, 1)  # the row's own index
    dataset = length_bucketed_dataset(ids, labels, batch_size=4, shuffle=True, seed=3,
                                      window_batches=2)
    epochs = []
    for _ in range(2):
        seen = []
        for x, y in dataset:
            x = x.numpy()
            assert x.shape[1] == max(length(x).max(), 1)
            assert list(length(x)) == sorted(length(x))  # a slice of a sorted window
            seen += [(real(r), int(v)) for r, v in zip(x, y.numpy()[:, 0])]
        assert sorted(seen) == sorted((real(r), i) for i, r in enumerate(ids))
        epochs.append([i for _, i in seen])
    assert epochs[0] != epochs[1]  # another order every epoch
    again = [int(v) for _, y in length_bucketed_dataset(
        ids, labels, batch_size=4, shuffle=True, seed=3, window_batches=2) for v in y.numpy()[:, 0]]
    assert again == epochs[0]  # the same seed, the same batches


def test_translator_layout_sorts_by_target_and_trims_each_tensor_on_its_own():
    source = padded_rows([9, 2, 5, 1, 7, 3], seed=1)
    target_input = padded_rows([2, 6, 3, 4, 1, 5], seed=2)
    target_output = padded_rows([2, 6, 3, 4, 1, 5], seed=3)
    dataset = length_bucketed_dataset((source, target_input), target_output, batch_size=2,
                                      window_batches=3, sort_by="labels")
    assert len(dataset) == 3
    triples = []
    for (s, t_in), t_out in dataset:
        s, t_in, t_out = s.numpy(), t_in.numpy(), t_out.numpy()
        for ids in (s, t_in, t_out):
            assert ids.shape == (2, length(ids).max())  # each cut to its own longest row
        triples += [(real(a), real(b), real(c)) for a, b, c in zip(s, t_in, t_out)]
    assert [len(c) for _, _, c in triples] == [1, 2, 3, 4, 5, 6]  # sorted by target length
    assert sorted(triples) == sorted(  # the three tensors of a row stay together
        (real(a), real(b), real(c)) for a, b, c in zip(source, target_input, target_output))


def test_augment_applies_to_training_features_only():
    ids = padded_rows([3, 5, 2, 4])
    targets = padded_rows([2, 2, 3, 1], seed=5)

    def hide_all(features):  # every real token becomes 1
        return tuple(tf.where(x != 0, tf.ones_like(x), x) for x in features)

    kwargs = dict(batch_size=2, augment=hide_all, sort_by="labels", seed=0)
    for (s, t), y in length_bucketed_dataset((ids, ids), targets, shuffle=True, **kwargs):
        assert set(np.unique(s.numpy())) <= {0, 1} and set(np.unique(t.numpy())) <= {0, 1}
        assert (y.numpy() > 1).any()  # the labels are left alone
    for (s, _), _ in length_bucketed_dataset((ids, ids), targets, **kwargs):
        assert (s.numpy() > 1).any()  # no augmentation at validation


def test_trim_padding_keeps_one_column_and_leaves_floats():
    ids = tf.constant([[0, 0, 0], [0, 0, 0]])
    assert trim_padding(ids).shape == (2, 1)  # an all-padding batch keeps a column
    ids, scores = trim_padding(tf.constant([[4, 0, 0], [5, 6, 0]]), tf.zeros((2, 3)))
    assert ids.shape == (2, 2) and scores.shape == (2, 3)


def test_bad_arguments_are_clear_errors():
    ids = padded_rows([1, 2])
    with pytest.raises(ValueError, match="sort_by='targets'"):
        length_bucketed_dataset(ids, ids, batch_size=2, sort_by="targets")
    with pytest.raises(ValueError, match="batch_size=0"):
        length_bucketed_dataset(ids, ids, batch_size=0)


def test_drop_remainder_gives_full_batches_of_a_static_size():
    """What tf.distribute needs to split each batch exactly over the replicas."""
    ids = padded_rows(LENGTHS)
    labels = np.arange(len(LENGTHS), dtype="float32")[:, None]
    dataset = length_bucketed_dataset(ids, labels, batch_size=4, shuffle=True, seed=3,
                                      window_batches=2, drop_remainder=True)
    assert dataset.element_spec[0].shape[0] == 4 and len(dataset) == len(LENGTHS) // 4
    for epoch in range(2):
        seen = [int(v) for _, batch_labels in dataset for v in batch_labels.numpy().ravel()]
        assert len(seen) == 12 and len(set(seen)) == 12  # one partial batch's row left out
