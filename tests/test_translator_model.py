"""Seq2SeqTransformer: shapes, masking, saving, the cached step, and the training objects."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer import decoding
from kdl_transformer.models.translator import (
    END_ID,
    START_ID,
    MaskedAccuracy,
    MaskedSparseCrossentropy,
    Seq2SeqTransformer,
    TranslatorConfig,
    WarmupSchedule,
    build_translator_model,
    compile_translator,
)

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


def test_loss_ignores_padding_and_applies_label_smoothing():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 7)).astype("float32")
    targets = np.array([[3, 4, 5, 0], [6, 0, 0, 0]], "int32")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_p, targets[..., None], -1)[..., 0]
    mask = targets != 0
    expected = nll[mask].mean()
    loss = MaskedSparseCrossentropy()
    np.testing.assert_allclose(loss(targets, logits), expected, rtol=1e-5)
    # More padding (and a Keras mask on the logits) changes nothing.
    padded_targets = np.pad(targets, ((0, 0), (0, 3)))
    padded_logits = np.pad(logits, ((0, 0), (0, 3), (0, 0)))
    masked_logits = tf.constant(padded_logits)
    masked_logits._keras_mask = tf.constant(padded_targets != 0)
    np.testing.assert_allclose(loss(padded_targets, masked_logits), expected, rtol=1e-5)
    smoothed = MaskedSparseCrossentropy(label_smoothing=0.1)
    expected_smooth = (0.9 * nll + 0.1 * -log_p.mean(-1))[mask].mean()
    np.testing.assert_allclose(smoothed(targets, logits), expected_smooth, rtol=1e-5)
    assert MaskedSparseCrossentropy.from_config(smoothed.get_config()).label_smoothing == 0.1


def test_accuracy_ignores_padding():
    logits = np.zeros((1, 4, 5), "float32")
    logits[0, 0, 3] = logits[0, 1, 1] = 1.0  # predicts 3, 1, 0, 0
    metric = MaskedAccuracy()
    metric.update_state(np.array([[3, 2, 0, 0]]), logits)
    assert float(metric.result()) == pytest.approx(0.5)  # padding "hits" are not counted


def test_warmup_schedule_shape_and_serialization():
    schedule = WarmupSchedule(1e-3, 100)
    rates = [float(schedule(step)) for step in (0, 49, 99, 399)]
    assert rates[0] == pytest.approx(1e-5)
    assert rates[1] == pytest.approx(5e-4)
    assert rates[2] == pytest.approx(1e-3)  # the peak
    assert rates[3] == pytest.approx(5e-4)  # 1/sqrt decay: 4x the steps, half the rate
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert float(restored(399)) == pytest.approx(rates[3])


def test_compiled_model_trains_and_reloads_with_optimizer(tmp_path):
    config = TranslatorConfig.quick()
    model = compile_translator(build_translator_model(config, 40, 50), config)
    targets = np.array([[11, 12, 13, END_ID], [14, END_ID, 0, 0]], "int32")
    history = model.fit([SOURCE, DECODER_INPUTS], targets, epochs=40, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert "WarmupSchedule" in json.dumps(reloaded.optimizer.get_config()["learning_rate"])
    np.testing.assert_allclose(reloaded.evaluate([SOURCE, DECODER_INPUTS], targets, verbose=0)[0],
                               model.evaluate([SOURCE, DECODER_INPUTS], targets, verbose=0)[0], rtol=1e-5)


def test_config_validation():
    with pytest.raises(ValueError, match="num_heads=3 does not divide embed_dim=256"):
        TranslatorConfig(num_heads=3)
    with pytest.raises(ValueError, match="dataset="):
        TranslatorConfig(dataset="wmt")
    with pytest.raises(ValueError, match="token_dropout=1.0"):
        TranslatorConfig(token_dropout=1.0)
    with pytest.raises(ValueError, match="average_best=1"):
        TranslatorConfig(average_best=1)


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
