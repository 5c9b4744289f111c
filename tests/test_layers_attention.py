import keras
import numpy as np
import pytest
from keras import ops

from kdl_transformer.layers import MultiHeadAttention, scaled_dot_product_attention
from kdl_transformer.layers.attention import large_negative_number


def test_weights_are_softmax_of_scaled_scores():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 4)).astype("float32") for _ in range(3))
    output, weights = scaled_dot_product_attention(q, k, v)
    logits = q @ k.transpose(0, 2, 1) / np.sqrt(4)
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, rtol=1e-5)
    np.testing.assert_allclose(output, expected @ v, rtol=1e-5)


def test_masked_keys_get_exactly_zero_weight():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(1, 3, 4)).astype("float32") for _ in range(3))
    mask = np.array([[[1, 1, 0]]], dtype=bool)  # the third key is padding
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    weights = ops.convert_to_numpy(weights)
    assert np.all(weights[..., 2] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("num_heads", [1, 4])
def test_equals_keras_multi_head_attention(num_heads):
    """Our heads, projections and mask give what keras.layers.MultiHeadAttention gives."""
    rng = np.random.default_rng(num_heads)
    query = rng.normal(size=(2, 5, 16)).astype("float32")
    value = rng.normal(size=(2, 7, 16)).astype("float32")
    mask = np.ones((2, 5, 7), dtype=bool)
    mask[1, :, 4:] = False  # padding in the second example

    ours = MultiHeadAttention(num_heads=num_heads, key_dim=16 // num_heads)
    reference = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=16 // num_heads)
    expected, expected_scores = reference(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    ours(query, value)  # build
    # Both keep kernels as (D, H, k) for q/k/v and (H, k, D) for the output: copy across.
    for ours_dense, keras_dense in [
        (ours.query_dense, reference._query_dense),
        (ours.key_dense, reference._key_dense),
        (ours.value_dense, reference._value_dense),
        (ours.output_dense, reference._output_dense),
    ]:
        # Our head-first layout keeps the bias as (H, 1, k) where Keras has (H, k): reshape.
        ours_dense.set_weights(
            [w.reshape(v.shape) for w, v in zip(keras_dense.get_weights(), ours_dense.weights)]
        )
    output, scores = ours(query, value, attention_mask=mask[:, None])
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)


def test_multi_head_attention_config_and_shapes():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1)
    output, scores = layer(np.ones((2, 3, 8), "float32"), np.ones((2, 5, 8), "float32"))
    assert output.shape == (2, 3, 8) and scores.shape == (2, 2, 3, 5)
    revived = MultiHeadAttention.from_config(layer.get_config())
    assert revived.get_config() == layer.get_config()
    assert revived.dropout == 0.1


def test_self_attention_cache_step_matches_full_pass():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 8)).astype("float32")
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    causal = np.tril(np.ones((4, 4), bool))[None, None]
    full, _ = layer(x, x, attention_mask=causal)
    cache = np.zeros((2, 2, 2, 4, 4), "float32")
    for i in range(4):
        step_mask = (np.arange(4) <= i)[None, None, None, :]
        out, _, cache = layer(x[:, i : i + 1], x[:, i : i + 1], attention_mask=step_mask,
                              cache=cache, cache_update_index=i)
        np.testing.assert_allclose(out[:, 0], full[:, i], atol=1e-5)


def _projection_kernels(layer):
    return {
        name: ops.convert_to_numpy(dense.kernel)
        for name, dense in [("query", layer.query_dense), ("key", layer.key_dense),
                            ("value", layer.value_dense)]
    }


def test_projections_start_with_distinct_kernels():
    """One shared unseeded initializer gave the query, key and value kernels equal values."""
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    layer(np.ones((1, 3, 16), "float32"))
    kernels = _projection_kernels(layer)
    assert not np.allclose(kernels["query"], kernels["key"])
    assert not np.allclose(kernels["query"], kernels["value"])
    assert not np.allclose(kernels["key"], kernels["value"])
    output = ops.convert_to_numpy(layer.output_dense.kernel)  # (H, k, D) against (D, H, k)
    assert not np.allclose(output, np.transpose(kernels["query"], (1, 2, 0)))


def test_set_random_seed_still_makes_initialisation_reproducible():
    def build(seed):
        keras.utils.set_random_seed(seed)
        layer = MultiHeadAttention(num_heads=2, key_dim=8)
        layer(np.ones((1, 3, 16), "float32"))
        return [ops.convert_to_numpy(w) for w in layer.weights]

    first, again, other = build(7), build(7), build(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_large_negative_number_is_finite_and_exp_is_zero_in_each_dtype():
    for dtype in ("float16", "bfloat16", "float32"):
        value = ops.cast(large_negative_number(dtype), dtype)
        assert np.isfinite(ops.convert_to_numpy(ops.cast(value, "float32")))
        assert float(ops.convert_to_numpy(ops.cast(ops.exp(value), "float32"))) == 0.0


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_masked_keys_get_zero_weight_under_mixed_precision(policy):
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dtype=policy)
    query = np.random.default_rng(3).normal(size=(1, 3, 8)).astype("float32")
    mask = np.array([[[[1, 1, 0]]]], bool)
    output, scores = layer(query, query, attention_mask=mask)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(output.dtype) == compute_dtype
    scores = ops.convert_to_numpy(ops.cast(scores, "float32"))
    assert np.all(scores[..., 2] == 0.0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-2)
    assert layer.query_dense.kernel.dtype == "float32"


@pytest.mark.parametrize("with_cache", [False, True])
def test_multi_head_attention_on_symbolic_inputs(with_cache):
    query = keras.Input((None, 8))
    value = keras.Input((5, 8))
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    if with_cache:
        cache = keras.Input((2, 2, 6, 4))
        output, scores, new_cache = layer(query, query, cache=cache, cache_update_index=0)
        assert new_cache.shape == (None, 2, 2, 6, 4)
        assert scores.shape == (None, 2, None, 6)
    else:
        output, scores = layer(query, value)
        assert scores.shape == (None, 2, None, 5)
    assert output.shape == (None, None, 8)
