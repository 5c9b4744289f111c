"""Additive (Bahdanau) attention: the shared layer checks, a numpy reference, the padding mask."""

import keras
import numpy as np
import pytest

from kdl_transformer.layers import AdditiveAttention
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 6)).astype("float32")  # one decoder state per sentence
VALUES = RNG.normal(size=(2, 5, 4)).astype("float32")  # 5 encoder states


@pytest.mark.parametrize("query", [QUERY, RNG.normal(size=(2, 3, 6)).astype("float32")])
def test_additive_attention_layer_checks(query):
    run_layer_test(
        AdditiveAttention,
        {"units": 8},
        {"query": query, "values": VALUES},
        expected_output_shape=query.shape[:-1] + (4,),
    )


def test_matches_a_numpy_reference_with_padding():
    layer = AdditiveAttention(units=8)
    mask = np.array([[True, True, True, False, False], [True] * 5])
    context, weights = layer(QUERY, VALUES, values_mask=mask, return_attention_scores=True)
    w1 = keras.ops.convert_to_numpy(layer.query_projection.kernel)
    w2 = keras.ops.convert_to_numpy(layer.values_projection.kernel)
    b2 = keras.ops.convert_to_numpy(layer.values_projection.bias)
    v = keras.ops.convert_to_numpy(layer.score.kernel)[:, 0]
    # score_i = vᵀ tanh(W₁ s + W₂ h_i), softmax over the real positions only
    scores = np.tanh((QUERY @ w1)[:, None, :] + VALUES @ w2 + b2) @ v  # (B, Tk)
    scores = np.where(mask, scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(context),
                               np.einsum("bk,bkd->bd", expected, VALUES), atol=1e-5)
    assert (weights[0, 3:] == 0).all()  # exactly 0 on padding
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    padded = np.concatenate([VALUES[:1, :3], 100 * np.ones((1, 2, 4), "float32")], axis=1)
    same = layer(QUERY[:1], padded, values_mask=mask[:1])  # what sits on padding cannot leak
    np.testing.assert_allclose(keras.ops.convert_to_numpy(same),
                               keras.ops.convert_to_numpy(context)[:1], atol=1e-5)


def test_in_a_functional_model_with_its_weights_as_an_output(tmp_path):
    state, encoded = keras.Input((6,)), keras.Input((None, 4))
    context, weights = AdditiveAttention(units=8)(state, encoded, return_attention_scores=True)
    model = keras.Model([state, encoded], [context, weights])
    outputs = model.predict([QUERY, VALUES], verbose=0)
    assert outputs[0].shape == (2, 4) and outputs[1].shape == (2, 5)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    for a, b in zip(outputs, reloaded.predict([QUERY, VALUES], verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-6)
