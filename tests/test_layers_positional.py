import keras
import numpy as np
import pytest
from keras import ops

from kdl_transformer.layers import (
    MaskedGlobalPooling1D,
    PositionalEmbedding,
    SinusoidalPositionalEncoding,
)
from tests.layer_test_case import run_layer_test


def numpy_sinusoid(length, dim, start=0, max_wavelength=10000):
    encoding = np.zeros((length, dim))
    for pos in range(length):
        for i in range(0, dim, 2):
            angle = (start + pos) / max_wavelength ** (i / dim)
            encoding[pos, i] = np.sin(angle)
            if i + 1 < dim:
                encoding[pos, i + 1] = np.cos(angle)
    return encoding


@pytest.mark.parametrize("dim", [6, 16])
def test_sinusoid_matches_the_paper_formula(dim):
    encoding = SinusoidalPositionalEncoding()(np.zeros((2, 9, dim), "float32"))
    np.testing.assert_allclose(encoding[0], numpy_sinusoid(9, dim), atol=1e-5)
    np.testing.assert_allclose(encoding[1], encoding[0])


def test_sinusoid_start_index_continues_the_sequence():
    full = SinusoidalPositionalEncoding()(np.zeros((1, 10, 8), "float32"))
    step = SinusoidalPositionalEncoding()(np.zeros((1, 1, 8), "float32"), start_index=7)
    np.testing.assert_allclose(step[0, 0], full[0, 7], atol=1e-6)
    np.testing.assert_allclose(step[0, 0], numpy_sinusoid(1, 8, start=7)[0], atol=1e-5)


def test_sinusoidal_layer_checks():
    run_layer_test(
        SinusoidalPositionalEncoding,
        {"max_wavelength": 500},
        np.ones((2, 5, 8), "float32"),
        expected_output_shape=(2, 5, 8),
        run_training_step=False,  # nothing to train
    )


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_positional_embedding_layer_checks(positions):
    run_layer_test(
        PositionalEmbedding,
        {"sequence_length": 6, "vocab_size": 20, "embed_dim": 8, "mask_zero": True, "positions": positions},
        np.array([[3, 4, 5, 0], [7, 0, 0, 0]], "int32"),
        expected_output_shape=(2, 4, 8),
    )


def test_positional_embedding_propagates_padding_mask():
    ids = np.array([[3, 4, 0, 0], [5, 6, 7, 0]])
    layer = PositionalEmbedding(6, 20, 8)
    np.testing.assert_array_equal(layer.compute_mask(ids), ids != 0)
    tokens = keras.Input((None,), dtype="int32")
    embedded = layer(tokens)
    pooled = MaskedGlobalPooling1D("mean")(embedded)  # reads the mask through `mask=`
    mean = keras.Model(tokens, [embedded, pooled]).predict(ids, verbose=0)
    np.testing.assert_allclose(mean[1][0], mean[0][0, :2].mean(0), atol=1e-6)
    assert PositionalEmbedding(6, 20, 8, mask_zero=False).compute_mask(ids) is None


def test_positional_embedding_start_index_matches_full_pass():
    ids = np.array([[3, 4, 5, 6, 7]])
    layer = PositionalEmbedding(8, 20, 8)
    full = layer(ids)
    for i in range(5):
        np.testing.assert_allclose(layer(ids[:, i : i + 1], start_index=i)[0, 0], full[0, i], atol=1e-6)


def test_positions_make_order_matter():
    layer = PositionalEmbedding(8, 20, 8)
    forward, backward = layer(np.array([[3, 4]])), layer(np.array([[4, 3]]))
    assert not np.allclose(forward[0, 0], backward[0, 1])


def test_too_long_input_names_both_lengths():
    with pytest.raises(ValueError, match=r"12 tokens.*sequence_length=6"):
        PositionalEmbedding(6, 20, 8)(np.ones((1, 12), "int32"))


def test_unknown_position_kind_is_rejected():
    with pytest.raises(ValueError, match="positions='rotary'"):
        PositionalEmbedding(6, 20, 8, positions="rotary")
