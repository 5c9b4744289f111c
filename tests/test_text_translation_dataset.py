"""make_translation_dataset: [START]/[END] placement, shift, padding, truncation, order."""

import warnings

import numpy as np
import pytest

from kdl_transformer.datasets import make_translation_pairs
from kdl_transformer.text import SubwordTokenizer, encode_translation_pairs, make_translation_dataset


@pytest.fixture(scope="module")
def setup():
    pairs = make_translation_pairs(300, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        en = SubwordTokenizer.train([e for e, _ in pairs], vocab_size=200, lowercase=True)
        ko = SubwordTokenizer.train([k for _, k in pairs], vocab_size=200)
    return pairs, en, ko


def test_rows_hold_start_end_and_shift(setup):
    pairs, en, ko = setup
    src, tgt_in, tgt_out = encode_translation_pairs(pairs[:20], en, ko, max_length=40)
    assert src.shape == tgt_in.shape == tgt_out.shape == (20, 40)
    assert src.dtype == np.int32
    for i, (english, korean) in enumerate(pairs[:20]):
        source_ids = en.tokenize([english]).to_list()[0]
        target_ids = ko.tokenize([korean]).to_list()[0]
        n = len(target_ids)
        assert src[i, : len(source_ids)].tolist() == source_ids and not src[i, len(source_ids):].any()
        assert tgt_in[i, : n + 1].tolist() == [ko.start_id, *target_ids]
        assert tgt_out[i, : n + 1].tolist() == [*target_ids, ko.end_id]
        assert not tgt_in[i, n + 1 :].any() and not tgt_out[i, n + 1 :].any()
        np.testing.assert_array_equal(tgt_in[i, 1 : n + 1], tgt_out[i, :n])  # teacher forcing shift
        assert ko.detokenize(tgt_out[i]).numpy().decode() == korean


def test_truncation_keeps_end_token(setup):
    pairs, en, ko = setup
    src, tgt_in, tgt_out = encode_translation_pairs(pairs[:50], en, ko, max_length=5)
    assert src.shape == (50, 5)
    assert (tgt_in[:, 0] == ko.start_id).all()
    long_rows = [i for i, (_, k) in enumerate(pairs[:50]) if len(ko.tokenize([k]).to_list()[0]) >= 4]
    assert long_rows
    assert (tgt_out[long_rows, -1] == ko.end_id).all()
    assert (src != 0).all()  # every synthetic source is longer than 5 pieces
    with pytest.raises(ValueError, match="max_length=1"):
        encode_translation_pairs(pairs[:2], en, ko, max_length=1)


def test_dataset_structure_and_static_shapes(setup):
    pairs, en, ko = setup
    ds = make_translation_dataset(pairs, en, ko, batch_size=32, max_length=24, shuffle=False)
    (src_spec, tgt_in_spec), tgt_out_spec = ds.element_spec
    assert src_spec.shape.as_list() == [None, 24] and tgt_out_spec.shape.as_list() == [None, 24]
    batches = list(ds)
    assert sum(int(b[1].shape[0]) for b in batches) == 300
    first_src = batches[0][0][0].numpy()
    expected, _, _ = encode_translation_pairs(pairs[:32], en, ko, max_length=24)
    np.testing.assert_array_equal(first_src, expected)  # no shuffle: pairs in order
    dropped = make_translation_dataset(pairs, en, ko, batch_size=32, max_length=24, drop_remainder=True)
    assert dropped.element_spec[1].shape.as_list() == [32, 24]


def test_shuffle_is_seeded_and_reshuffles_each_epoch(setup):
    pairs, en, ko = setup

    def epoch(ds):
        return np.concatenate([b[1].numpy() for b in ds])

    a = make_translation_dataset(pairs, en, ko, batch_size=64, max_length=24, seed=5)
    b = make_translation_dataset(pairs, en, ko, batch_size=64, max_length=24, seed=5)
    first_a, first_b = epoch(a), epoch(b)
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, epoch(a))  # second epoch, new order
    unshuffled = epoch(make_translation_dataset(pairs, en, ko, batch_size=64, max_length=24, shuffle=False))
    assert not np.array_equal(first_a, unshuffled)
    assert sorted(map(tuple, first_a)) == sorted(map(tuple, unshuffled))  # same rows


def test_empty_pairs_and_bad_batch_size(setup):
    _, en, ko = setup
    src, tgt_in, tgt_out = encode_translation_pairs([], en, ko, max_length=8)
    assert src.shape == (0, 8)
    with pytest.raises(ValueError, match="batch_size=0"):
        make_translation_dataset([("a", "가")], en, ko, batch_size=0)
