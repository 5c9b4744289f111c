"""Seq2SeqGRU (with and without additive attention): shapes, masking, saving, the cached step."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer import decoding
from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.models import Seq2SeqGRU, Seq2SeqTransformer, build_translator_model
from kdl_transformer.objectives import compile_translator
from kdl_transformer.text.special_tokens import END_ID, START_ID
from tests.test_seq2seq_transformer import DECODER_INPUTS, SOURCE, uncached_next

BOTH = pytest.mark.parametrize("attention", [False, True], ids=["context_vector", "attention"])


def tiny_model(attention, **kwargs):
    args = dict(embed_dim=16, units=24, num_encoder_layers=2, num_decoder_layers=2, dropout=0.1)
    args.update(kwargs)
    return Seq2SeqGRU(40, 50, 12, 16, attention=attention, **args)


@BOTH
def test_call_shape_and_save_round_trip_in_a_fresh_process(tmp_path, attention):
    model = tiny_model(attention)
    logits = model([SOURCE, DECODER_INPUTS])
    assert logits.shape == (2, 4, 50)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)  # no custom_objects needed
    assert reloaded.get_config() == model.get_config()
    json.dumps(model.get_config())
    script = (
        "import json, sys\n"
        "import keras, numpy as np\n"
        "import kdl_transformer.models  # noqa: F401  (registers the classes)\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "source, target = (np.array(a, 'int32') for a in json.loads(sys.argv[2]))\n"
        "print(json.dumps(np.asarray(model([source, target])).tolist()))\n"
    )
    inputs = json.dumps([SOURCE.tolist(), DECODER_INPUTS.tolist()])
    result = subprocess.run([sys.executable, "-c", script, str(path), inputs],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    fresh = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(fresh, logits, atol=1e-5)


@BOTH
def test_source_padding_does_not_change_the_output(attention):
    """The encoder GRUs skip padded steps in both directions; attention gives them weight 0."""
    model = tiny_model(attention)
    wider = np.pad(SOURCE, ((0, 0), (0, 4)))
    np.testing.assert_allclose(model([wider, DECODER_INPUTS]), model([SOURCE, DECODER_INPUTS]),
                               atol=1e-5)


@BOTH
def test_the_source_changes_the_output_and_future_targets_do_not(attention):
    model = tiny_model(attention)
    a = model([SOURCE, DECODER_INPUTS])
    other_source = SOURCE.copy()
    other_source[0, 0] = 30  # the first word: the one a context vector keeps worst
    assert not np.allclose(model([other_source, DECODER_INPUTS])[0], a[0], atol=1e-6)
    changed = DECODER_INPUTS.copy()
    changed[0, 3] = 30
    b = model([SOURCE, changed])
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert not np.allclose(a[0, 3], b[0, 3])


def test_the_context_vector_model_passes_one_vector_and_the_attention_model_every_state():
    plain, attending = tiny_model(False), tiny_model(True)
    assert set(plain.init_cache(SOURCE, 8)) == {"decoder_states"}
    cache = attending.init_cache(SOURCE, 8)
    assert cache["encoder_states"].shape == (2, 6, 24)
    assert cache["projected_values"].shape == (2, 6, 24)
    for state in plain.init_cache(SOURCE, 8)["decoder_states"]:
        assert state.shape == (2, 24)  # the whole sentence in 24 numbers


@BOTH
def test_cached_steps_equal_the_full_pass(attention):
    model = tiny_model(attention)
    full = model([SOURCE, DECODER_INPUTS]).numpy()  # (B, T, V)
    cache = model.init_cache(SOURCE, max_length=8)
    for index in range(DECODER_INPUTS.shape[1]):
        token = tf.constant(DECODER_INPUTS[:, index : index + 1])
        logits, cache = model.next(token, cache, tf.constant(index))
        rows = DECODER_INPUTS[:, index] != 0
        np.testing.assert_allclose(logits.numpy()[rows], full[rows, index], atol=1e-5)


@BOTH
def test_cached_search_equals_uncached_search_token_for_token(attention):
    keras.utils.set_random_seed(7)
    model = tiny_model(attention, dropout=0.0)
    source, max_length, start = tf.constant(SOURCE), 10, tf.fill([2], START_ID)
    prefix = {"prefix": tf.zeros([2, max_length], tf.int32), "source": source}
    cached = decoding.greedy_search(model.next, model.init_cache(source, max_length), start,
                                    END_ID, max_length)
    uncached = decoding.greedy_search(uncached_next(model), prefix, start, END_ID, max_length)
    np.testing.assert_array_equal(cached[0].numpy(), uncached[0].numpy())
    np.testing.assert_allclose(cached[1], uncached[1], rtol=1e-4)
    beam_cached = decoding.beam_search(model.next, model.init_cache(source, max_length), start,
                                       END_ID, max_length, beam_size=3)
    beam_uncached = decoding.beam_search(uncached_next(model), prefix, start, END_ID, max_length,
                                         beam_size=3)
    np.testing.assert_array_equal(beam_cached[0].numpy(), beam_uncached[0].numpy())
    log_probs, lengths = decoding.score_sequences(
        lambda d: model([source, d], training=False), cached[0], START_ID)
    np.testing.assert_allclose(log_probs, cached[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(lengths, cached[2])


def test_attention_weights_are_zero_on_padding_and_sum_to_one():
    maps = tiny_model(True).forward(tf.constant(SOURCE), tf.constant(DECODER_INPUTS),
                                    return_attention_scores=True)
    weights = maps["cross_attention"][0].numpy()  # (B, 1, T, S)
    assert weights.shape == (2, 1, 4, 6)
    assert np.all(weights[0, :, :, 4:] == 0) and np.all(weights[1, :, :, 2:] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert maps["decoder_self_attention"] == [] and maps["encoder_self_attention"] == []


def test_the_context_vector_model_refuses_attention_maps():
    with pytest.raises(ValueError, match="no attention map.*gru_attention"):
        tiny_model(False).forward(tf.constant(SOURCE), tf.constant(DECODER_INPUTS),
                                  return_attention_scores=True)


@pytest.mark.parametrize("architecture,cls", [
    ("transformer", Seq2SeqTransformer), ("gru", Seq2SeqGRU), ("gru_attention", Seq2SeqGRU)])
def test_the_config_picks_the_architecture(architecture, cls):
    config = TranslatorConfig.quick(architecture=architecture, rnn_units=40)
    model = build_translator_model(config, 40, 50)
    assert isinstance(model, cls) and model.name == f"seq2seq_{architecture}"
    if cls is Seq2SeqGRU:
        assert model.units == 40 and model.attention == (architecture == "gru_attention")
    with pytest.raises(ValueError, match="architecture='lstm' is not one of"):
        TranslatorConfig(architecture="lstm")


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_logits_and_loss_are_float32_under_mixed_precision(global_dtype_policy, policy):
    global_dtype_policy(policy)
    config = TranslatorConfig.quick(architecture="gru_attention", rnn_units=16)
    model = compile_translator(build_translator_model(config, 40, 50), config)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert model.get_layer("decoder_0").compute_dtype == compute_dtype
    logits = model([SOURCE, DECODER_INPUTS])
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    targets = np.array([[11, 12, 13, END_ID], [14, END_ID, 0, 0]], "int32")
    assert np.all(np.isfinite(model.train_on_batch([SOURCE, DECODER_INPUTS], targets)))
    cache = model.init_cache(SOURCE, max_length=4)
    step_logits, cache = model.next(DECODER_INPUTS[:, :1], cache, 0)
    assert keras.backend.standardize_dtype(step_logits.dtype) == "float32"
    assert keras.backend.standardize_dtype(cache["decoder_states"][0].dtype) == compute_dtype
