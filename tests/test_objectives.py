"""The training objectives: masked loss and accuracy, the warm-up schedule, compile functions."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer.configs import ClassifierConfig, TranslatorConfig
from kdl_transformer.models.architectures import build_translator_model
from kdl_transformer.objectives import (
    MaskedAccuracy,
    MaskedSparseCrossentropy,
    WarmupSchedule,
    classifier_optimizer,
    compile_translator,
)
from kdl_transformer.text.special_tokens import END_ID, START_ID

SOURCE = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 0, 0, 0, 0]], "int32")
DECODER_INPUTS = np.array([[START_ID, 11, 12, 13], [START_ID, 14, 0, 0]], "int32")


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


def test_classifier_optimizer_warms_up_then_decays_to_zero():
    config = ClassifierConfig.quick(schedule="cosine", optimizer="adamw", epochs=2,
                                    learning_rate=1e-3, warmup_fraction=0.1)
    optimizer = classifier_optimizer(config, steps_per_epoch=50)  # 100 steps, 10 warming up
    assert isinstance(optimizer, keras.optimizers.AdamW)
    schedule = keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])
    rates = [float(schedule(step)) for step in (0, 10, 100)]
    assert rates[0] == pytest.approx(0.0)
    assert rates[1] == pytest.approx(1e-3)  # the peak, at the end of warm-up
    assert rates[2] == pytest.approx(0.0, abs=1e-9)
    assert isinstance(classifier_optimizer(ClassifierConfig.book(), 10), keras.optimizers.RMSprop)


def test_compiled_model_reloads_after_importing_only_the_model_module(tmp_path):
    """The objectives left the model's module: importing a model must still register them."""
    import subprocess
    import sys

    config = TranslatorConfig.quick()
    model = compile_translator(build_translator_model(config, 40, 50), config)
    model.save(tmp_path / "m.keras")
    script = (
        "import sys, keras, kdl_transformer.models.seq2seq_transformer\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "print(type(model.loss).__name__, type(model.optimizer.get_config()['learning_rate']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.keras")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MaskedSparseCrossentropy" in result.stdout
