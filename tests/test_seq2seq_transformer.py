"""Seq2SeqTransformer: shapes, masking, saving, the cached step, mixed precision."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer import decoding
from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.models.architectures import build_translator_model
from kdl_transformer.models.seq2seq_transformer import Seq2SeqTransformer
from kdl_transformer.objectives import compile_translator
from kdl_transformer.text.special_tokens import END_ID, START_ID

SOURCE = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 0, 0, 0, 0]], "int32")
DECODER_INPUTS = np.array([[START_ID, 11, 12, 13], [START_ID, 14, 0, 0]], "int32")


def tiny_model(**kwargs):
    args = dict(embed_dim=16, dense_dim=32, num_heads=2, num_encoder_layers=2, num_decoder_layers=2)
    args.update(kwargs)
    return Seq2SeqTransformer(40, 50, 12, 16, **args)


@pytest.mark.parametrize("norm_first,positions", [(True, "learned"), (False, "sinusoidal")])
def test_call_shape_and_save_round_trip(tmp_path, norm_first, positions):
    model = tiny_model(norm_first=norm_first, positions=positions, dropout=0.1)
    logits = model([SOURCE, DECODER_INPUTS])
    assert logits.shape == (2, 4, 50)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)  # no custom_objects needed
    np.testing.assert_allclose(reloaded([SOURCE, DECODER_INPUTS]), logits, atol=1e-6)
    assert reloaded.get_config() == model.get_config()
    json.dumps(model.get_config())


def test_source_padding_does_not_change_the_output():
    """Cross-attention uses the source mask: extra source padding changes nothing."""
    model = tiny_model()
    wider = np.pad(SOURCE, ((0, 0), (0, 4)))
    np.testing.assert_allclose(
        model([wider, DECODER_INPUTS]), model([SOURCE, DECODER_INPUTS]), atol=1e-5
    )


def test_future_target_tokens_do_not_change_earlier_logits():
    model = tiny_model()
    changed = DECODER_INPUTS.copy()
    changed[0, 3] = 30
    a, b = model([SOURCE, DECODER_INPUTS]), model([SOURCE, changed])
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    assert not np.allclose(a[0, 3], b[0, 3])


@pytest.mark.parametrize("norm_first", [True, False])
def test_cached_steps_equal_the_full_pass(norm_first):
    model = tiny_model(norm_first=norm_first)
    full = model([SOURCE, DECODER_INPUTS]).numpy()  # (B, T, V)
    cache = model.init_cache(SOURCE, max_length=8)
    for index in range(DECODER_INPUTS.shape[1]):
        token = tf.constant(DECODER_INPUTS[:, index : index + 1])
        logits, cache = model.next(token, cache, tf.constant(index))
        rows = DECODER_INPUTS[:, index] != 0  # padded queries of row 1 are not compared
        np.testing.assert_allclose(logits.numpy()[rows], full[rows, index], atol=1e-5)


def uncached_next(model):
    """The book's way as a step function: re-run the whole model on the prefix every step."""

    def next_fn(token_ids, cache, index):
        prefix = decoding._write_column(cache["prefix"], index, token_ids[:, 0])
        logits = model([cache["source"], prefix], training=False)  # (B, T, V)
        return tf.gather(logits, index, axis=1), {**cache, "prefix": prefix}

    return next_fn


def test_cached_search_equals_uncached_search_token_for_token():
    keras.utils.set_random_seed(7)
    model = tiny_model()
    source = tf.constant(SOURCE)
    max_length = 10
    start = tf.fill([2], START_ID)
    prefix = {"prefix": tf.zeros([2, max_length], tf.int32), "source": source}
    cached = decoding.greedy_search(model.next, model.init_cache(source, max_length), start, END_ID, max_length)
    uncached = decoding.greedy_search(uncached_next(model), prefix, start, END_ID, max_length)
    np.testing.assert_array_equal(cached[0].numpy(), uncached[0].numpy())
    np.testing.assert_allclose(cached[1], uncached[1], rtol=1e-4)
    beam_cached = decoding.beam_search(
        model.next, model.init_cache(source, max_length), start, END_ID, max_length, beam_size=3
    )
    beam_uncached = decoding.beam_search(
        uncached_next(model), prefix, start, END_ID, max_length, beam_size=3
    )
    np.testing.assert_array_equal(beam_cached[0].numpy(), beam_uncached[0].numpy())
    # The searches' log-probabilities are those of one teacher-forced pass.
    tokens = cached[0]
    log_probs, lengths = decoding.score_sequences(
        lambda d: model([source, d], training=False), tokens, START_ID
    )
    np.testing.assert_allclose(log_probs, cached[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(lengths, cached[2])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_logits_and_loss_are_float32_under_mixed_precision(global_dtype_policy, policy):
    global_dtype_policy(policy)
    config = TranslatorConfig.quick()
    model = compile_translator(build_translator_model(config, 40, 50), config)
    assert model.get_layer("decoder_0").compute_dtype == keras.DTypePolicy(policy).compute_dtype
    logits = model([SOURCE, DECODER_INPUTS])
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    targets = np.array([[11, 12, 13, END_ID], [14, END_ID, 0, 0]], "int32")
    loss = model.train_on_batch([SOURCE, DECODER_INPUTS], targets)
    assert np.all(np.isfinite(loss))
    # The cached step: float32 logits, caches in the compute dtype.
    cache = model.init_cache(SOURCE, max_length=4)
    step_logits, cache = model.next(DECODER_INPUTS[:, :1], cache, 0)
    assert keras.backend.standardize_dtype(step_logits.dtype) == "float32"
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(cache["self_attention"][0].dtype) == compute_dtype
