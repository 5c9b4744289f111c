import numpy as np
import pytest

from kdl_transformer.layers import MaskedGlobalPooling1D, PositionalEmbedding
from tests.layer_test_case import run_layer_test


@pytest.mark.parametrize("mode", ["max", "mean", "mean_max", "cls"])
def test_pooling_layer_checks(mode):
    run_layer_test(
        MaskedGlobalPooling1D,
        {"mode": mode},
        np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32"),
        expected_output_shape=(2, 8 if mode == "mean_max" else 4),
        run_training_step=False,  # no weights
    )


def test_padded_positions_never_win_or_count():
    x = np.array([[[1.0], [2.0], [9.0]]], "float32")  # the 9 sits on a padded position
    mask = np.array([[True, True, False]])
    np.testing.assert_allclose(MaskedGlobalPooling1D("max")(x, mask=mask), [[2.0]])
    np.testing.assert_allclose(MaskedGlobalPooling1D("mean")(x, mask=mask), [[1.5]])


def test_cls_pooling_keeps_the_first_position():
    x = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_allclose(MaskedGlobalPooling1D("cls")(x, mask=np.array([[1, 0, 0]] * 2)), x[:, 0])


def test_uses_the_implicit_keras_mask():
    ids = np.array([[3, 4, 0, 0]])
    x = PositionalEmbedding(8, 10, 4)(ids)
    expected = np.asarray(x)[:, :2].max(axis=1)
    np.testing.assert_allclose(MaskedGlobalPooling1D("max")(x), expected, atol=1e-6)
