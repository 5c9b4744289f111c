"""The BERT pretraining pipeline on made-up token ids: sentence starts, NSP pairs, segment ids,
the 15% / 80-10-10 masking, and masks that change every epoch (but not for validation)."""

import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer.text.pretraining_data import (
    PretrainingCorpus,
    make_pretraining_dataset,
    sentence_starts,
)
from kdl_transformer.text.wordpiece import CLS_ID, MASK_ID, PAD_ID, SEP_ID

FIRST_ID = 10  # ids below are reserved or unused here


def _corpus(reviews, length, starts=(0,)):
    """Review i holds the ids FIRST_ID + i * length + k, k < length: every id names its place."""
    tokens = FIRST_ID + np.arange(reviews * length, dtype="int32").reshape(reviews, length)
    return PretrainingCorpus(
        tf.RaggedTensor.from_tensor(tokens),
        tf.RaggedTensor.from_tensor(np.tile(np.asarray(starts, "int64"), (reviews, 1))),
    )


def _place(token, length):
    return (token - FIRST_ID) // length, (token - FIRST_ID) % length  # (review, offset)


def _examples(dataset, epochs=1):
    """Per example: the input ids, the original ids, segment ids, chosen positions, NSP label."""
    rows = []
    for _ in range(epochs):
        for x, y in dataset:
            ids, segments = x["token_ids"].numpy(), x["segment_ids"].numpy()
            positions, targets = x["mask_positions"].numpy(), y["mlm"].numpy()
            labels = y["nsp"].numpy()[:, 0] if "nsp" in y else [None] * len(ids)
            for row in range(len(ids)):
                chosen = positions[row][targets[row] != 0]
                original = ids[row].copy()
                original[chosen] = targets[row][targets[row] != 0]
                rows.append((ids[row], original, segments[row], chosen, labels[row]))
    return rows


def test_sentence_starts_follow_end_tokens():
    tokens = tf.ragged.constant([[7, 9, 5, 8, 5, 5, 6], [8], [5, 6, 5]])
    assert sentence_starts(tokens, [5]).to_list() == [[0, 3, 6], [0], [0, 1]]


def test_nsp_pairs_are_half_next_half_random_with_the_right_labels_and_segments():
    length, starts = 40, (0, 10, 20, 30)
    corpus = _corpus(200, length, starts)
    dataset = make_pretraining_dataset(corpus, FIRST_ID + 200 * length, sequence_length=32,
                                       batch_size=50, nsp=True, seed=3)
    examples = _examples(dataset, epochs=2)
    labels = np.array([label for *_, label in examples])
    assert len(examples) == 400 and 0.4 < labels.mean() < 0.6
    for _, original, segments, chosen, label in examples:
        assert original[0] == CLS_ID
        sep = np.flatnonzero(original == SEP_ID)
        assert len(sep) == 2 and sep[1] < 32
        a, b = original[1 : sep[0]], original[sep[0] + 1 : sep[1]]
        assert len(a) and len(b) and np.all(original[sep[1] + 1 :] == PAD_ID)
        np.testing.assert_array_equal(segments[: sep[0] + 1], 0)  # [CLS] A [SEP]
        np.testing.assert_array_equal(segments[sep[0] + 1 : sep[1] + 1], 1)  # B [SEP]
        np.testing.assert_array_equal(segments[sep[1] + 1 :], 0)  # padding
        assert not set(chosen) & {0, *sep}  # [CLS], [SEP] and padding are never chosen
        (review_a, offsets_a), (review_b, offsets_b) = _place(a, length), _place(b, length)
        assert len(set(review_a)) == 1 and len(set(review_b)) == 1  # each from one review
        assert np.all(np.diff(offsets_a) == 1) and np.all(np.diff(offsets_b) == 1)  # contiguous
        assert offsets_a[-1] + 1 in starts and offsets_b[0] in starts  # cut at sentence starts
        if label == 1:  # B is the text right after A
            assert review_b[0] == review_a[0] and offsets_b[0] == offsets_a[-1] + 1
        else:
            assert review_b[0] != review_a[0]


def test_without_nsp_one_segment_per_example():
    corpus = _corpus(20, 12)
    dataset = make_pretraining_dataset(corpus, 1000, sequence_length=16, batch_size=8, nsp=False)
    x, y = next(iter(dataset))
    assert set(y) == {"mlm"}
    examples = _examples(dataset)
    for _, original, segments, _, _ in examples:
        assert (original == SEP_ID).sum() == 1 and original[0] == CLS_ID
        assert np.all(segments == 0)
        review, offsets = _place(original[1:13], 12)
        assert len(set(review)) == 1 and list(offsets) == list(range(12))  # the whole review
    assert len(examples) == 20


def test_masking_rates_on_a_big_batch():
    """15% of the real tokens chosen; of those, 80% [MASK], 10% random, 10% unchanged."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(FIRST_ID, 5000, size=(1024, 60)).astype("int32")  # 9 chosen of 60
    corpus = PretrainingCorpus(tf.RaggedTensor.from_tensor(tokens),
                               tf.ragged.constant([[0]] * 1024, dtype=tf.int64))
    dataset = make_pretraining_dataset(corpus, 5000, sequence_length=64, batch_size=1024,
                                       nsp=False, seed=1)
    examples = _examples(dataset)
    real = sum(int(((original != PAD_ID) & (original != CLS_ID) & (original != SEP_ID)).sum())
               for _, original, *_ in examples)
    chosen = [(ids[c], original[c]) for ids, original, _, positions, _ in examples
              for c in positions]
    inputs, originals = np.array(chosen).T
    assert 0.14 < len(chosen) / real < 0.16
    assert 0.77 < np.mean(inputs == MASK_ID) < 0.83
    assert 0.08 < np.mean(inputs == originals) < 0.12
    assert 0.08 < np.mean((inputs != MASK_ID) & (inputs != originals)) < 0.12


def test_masks_change_every_epoch_but_not_for_validation():
    corpus = _corpus(64, 20)

    def masks_by_review(dataset):
        return {int(original[1]): tuple(positions)
                for _, original, _, positions, _ in _examples(dataset)}

    training = make_pretraining_dataset(corpus, 2000, 24, 16, nsp=False, mask_rate=0.3, seed=5)
    first, second = masks_by_review(training), masks_by_review(training)
    assert first.keys() == second.keys() and len(first) == 64
    assert sum(first[review] == second[review] for review in first) < 8
    validation = make_pretraining_dataset(corpus, 2000, 24, 16, nsp=False, mask_rate=0.3,
                                          training=False, seed=5)
    assert masks_by_review(validation) == masks_by_review(validation)


def test_nsp_needs_two_reviews():
    with pytest.raises(ValueError, match="at least 2 reviews"):
        make_pretraining_dataset(_corpus(1, 10), 100, 16, 4, nsp=True)


def test_describe_example_reads_back_segments_masks_and_the_label():
    from kdl_transformer.text.pretraining_data import describe_example, join_pieces

    length = 40
    corpus = _corpus(8, length, starts=(0, 10, 20, 30))
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocabulary += [f"w{i}" for i in range(5, FIRST_ID)]
    vocabulary += [f"t{i}" if i % 2 else f"##t{i}" for i in range(FIRST_ID, FIRST_ID + 8 * length)]
    dataset = make_pretraining_dataset(corpus, len(vocabulary), sequence_length=32, batch_size=8,
                                       nsp=True, mask_rate=0.3, seed=2)
    x, y = next(iter(dataset))
    [(ids, original, segments, chosen, label)] = _examples([(x, y)])[:1]
    described = describe_example(x, y, vocabulary)
    n = int((original != PAD_ID).sum())
    assert described["tokens"] == [vocabulary[i] for i in original[:n]]
    assert described["inputs"] == [vocabulary[i] for i in ids[:n]]
    assert described["segment_ids"] == list(segments[:n]) and described["is_next"] == (label == 1)
    assert [row["position"] for row in described["masked"]] == sorted(chosen)
    for row in described["masked"]:
        before, after = original[row["position"]], ids[row["position"]]
        assert (row["original"], row["became"]) == (vocabulary[before], vocabulary[after])
        kind = "[MASK]" if after == MASK_ID else "kept" if after == before else "random"
        assert row["kind"] == kind
    sep = described["tokens"].index("[SEP]")
    assert described["segment_a"] == join_pieces(described["tokens"][1:sep])
    end = described["tokens"].index("[SEP]", sep + 1)
    assert described["segment_b"] == join_pieces(described["tokens"][sep + 1 : end]) != ""
    assert join_pieces(["a", "##b", "c"]) == "ab c"
