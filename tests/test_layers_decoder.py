import keras
import numpy as np
import pytest
from keras import ops

from kdl_transformer.layers import PositionalEmbedding, TransformerDecoder, TransformerEncoder
from tests.layer_test_case import run_layer_test

rng = np.random.default_rng(0)


def decode_step_by_step(decoder, embedding, target_ids, source_mask, cache, cross_cache):
    """Feed `target_ids` one token at a time through the caches: the outputs, float32 (B, T, D)."""
    steps = []
    for i in range(target_ids.shape[1]):
        step, cache, cross_cache = decoder(
            embedding(target_ids[:, i : i + 1], start_index=i),
            encoder_padding_mask=source_mask,
            self_attention_cache=cache,
            self_attention_cache_update_index=i,
            cross_attention_cache=cross_cache,
        )
        steps.append(ops.convert_to_numpy(ops.cast(step[:, 0], "float32")))
    return np.stack(steps, axis=1)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_checks(norm_first):
    run_layer_test(
        TransformerDecoder,
        {"embed_dim": 8, "dense_dim": 16, "num_heads": 2, "dropout": 0.1, "norm_first": norm_first},
        {
            "decoder_inputs": rng.normal(size=(2, 4, 8)).astype("float32"),
            "encoder_outputs": rng.normal(size=(2, 6, 8)).astype("float32"),
        },
        expected_output_shape=(2, 4, 8),
    )


def test_causal_mask_holds_in_training_mode_with_dropout():
    """keras#23038: the causal mask was dropped with dropout > 0 and scores requested."""
    decoder = TransformerDecoder(16, 32, 4, dropout=0.5)
    target = rng.normal(size=(2, 6, 16)).astype("float32")
    source = rng.normal(size=(2, 3, 16)).astype("float32")
    _, self_scores, cross_scores = decoder(target, source, training=True, return_attention_scores=True)
    self_scores = np.asarray(self_scores)
    future = np.triu(np.ones((6, 6), bool), k=1)
    assert self_scores.shape == (2, 4, 6, 6)
    assert np.all(self_scores[..., future] == 0.0)
    assert np.all(self_scores[..., ~future] > 0.0)
    assert cross_scores.shape == (2, 4, 6, 3)


def test_cross_attention_uses_source_padding_with_unequal_lengths():
    """The reference tutorials masked cross-attention with the target mask: wrong when lengths differ."""
    source_ids = np.array([[4, 5, 6, 7, 8, 9, 0], [4, 5, 0, 0, 0, 0, 0]])  # lengths 6 and 2
    target_ids = np.array([[2, 7, 8, 0], [2, 9, 0, 0]])
    encoder_outputs = TransformerEncoder(16, 32, 2)(PositionalEmbedding(10, 20, 16)(source_ids))
    decoder_inputs = PositionalEmbedding(10, 20, 16)(target_ids)
    decoder = TransformerDecoder(16, 32, 2)
    outputs, _, cross = decoder(decoder_inputs, encoder_outputs, return_attention_scores=True)
    cross = np.asarray(cross)
    assert cross.shape == (2, 2, 4, 7)
    assert np.all(cross[0, ..., 6:] == 0.0) and np.all(cross[1, ..., 2:] == 0.0)
    assert np.all(cross[1, ..., :2] > 0.0)

    # More source padding changes nothing, and explicit masks give the implicit masks' result.
    padded = np.pad(np.asarray(encoder_outputs), ((0, 0), (0, 5), (0, 0)))
    again = decoder(
        np.asarray(decoder_inputs),
        padded,
        decoder_padding_mask=target_ids != 0,
        encoder_padding_mask=np.pad(source_ids, ((0, 0), (0, 5))) != 0,
    )
    np.testing.assert_allclose(again, outputs, atol=1e-5)


def test_cached_step_by_step_decoding_equals_full_pass():
    decoder = TransformerDecoder(16, 32, 4, dropout=0.2)
    embedding = PositionalEmbedding(10, 30, 16)
    source = rng.normal(size=(3, 5, 16)).astype("float32")
    source_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool)
    target_ids = rng.integers(1, 30, size=(3, 6))
    full = decoder(embedding(target_ids), source, encoder_padding_mask=source_mask)

    cache = decoder.init_self_attention_cache(3, 6)
    cross_cache = decoder.compute_cross_attention_cache(source)
    assert cache.shape == (3, 2, 4, 6, 4) and cross_cache.shape == (3, 2, 4, 5, 4)
    steps = decode_step_by_step(decoder, embedding, target_ids, source_mask, cache, cross_cache)
    assert np.max(np.abs(steps - np.asarray(full))) < 1e-5


def test_cache_without_index_is_a_clear_error():
    decoder = TransformerDecoder(8, 16, 2)
    x = np.zeros((1, 1, 8), "float32")
    with pytest.raises(ValueError, match="self_attention_cache_update_index"):
        decoder(x, x, self_attention_cache=decoder.init_self_attention_cache(1, 4))


@pytest.mark.parametrize("return_attention_scores", [False, True])
def test_every_return_mode_works_on_symbolic_inputs(return_attention_scores):
    target, source = keras.Input((None, 16)), keras.Input((7, 16))
    decoder = TransformerDecoder(16, 32, 4)
    outputs = decoder(target, source, return_attention_scores=return_attention_scores)
    if return_attention_scores:
        outputs, self_scores, cross_scores = outputs
        assert self_scores.shape == (None, 4, None, None)
        assert cross_scores.shape == (None, 4, None, 7)
    assert outputs.shape == (None, None, 16)

    # Cached step on symbolic caches: (outputs, self cache, cross cache[, scores]).
    step = keras.Input((1, 16))
    self_cache, cross_cache = keras.Input((2, 4, 9, 4)), keras.Input((2, 4, 7, 4))
    results = decoder(
        step,
        self_attention_cache=self_cache,
        self_attention_cache_update_index=0,
        cross_attention_cache=cross_cache,
        return_attention_scores=return_attention_scores,
    )
    assert len(results) == (5 if return_attention_scores else 3)
    assert results[0].shape == (None, 1, 16)
    assert results[1].shape == (None, 2, 4, 9, 4) and results[2].shape == (None, 2, 4, 7, 4)
    if return_attention_scores:
        assert results[3].shape == (None, 4, 1, 9) and results[4].shape == (None, 4, 1, 7)


@pytest.mark.parametrize("policy, atol", [("mixed_float16", 1e-2), ("mixed_bfloat16", 6e-2)])
def test_cached_decoding_equals_full_pass_under_mixed_precision(policy, atol):
    decoder = TransformerDecoder(16, 32, 4, dtype=policy)
    embedding = PositionalEmbedding(10, 30, 16, dtype=policy)
    source = rng.normal(size=(2, 5, 16)).astype("float32")
    source_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
    target_ids = rng.integers(1, 30, size=(2, 6))
    full = decoder(embedding(target_ids), source, encoder_padding_mask=source_mask)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(full.dtype) == compute_dtype

    cache = decoder.init_self_attention_cache(2, 6)
    assert keras.backend.standardize_dtype(cache.dtype) == compute_dtype  # the default
    cross_cache = decoder.compute_cross_attention_cache(source)
    steps = decode_step_by_step(decoder, embedding, target_ids, source_mask, cache, cross_cache)
    assert np.all(np.isfinite(steps))
    np.testing.assert_allclose(steps, ops.convert_to_numpy(ops.cast(full, "float32")), atol=atol)
