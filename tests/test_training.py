"""The shared training loop: run directory contents, interruption and resume, config I/O."""

import dataclasses

import keras
import numpy as np
import pytest

from kdl_transformer import training
from tests.callbacks import Interrupt, InterruptAfterEpoch, RecordEpochs


def tiny_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1, keepdims=True))).batch(16)


def test_interrupted_run_resumes_without_losing_an_epoch(tmp_path):
    ds = data()
    with pytest.raises(Interrupt):
        training.fit(tiny_model(), ds, ds, tmp_path, epochs=5, patience=10, verbose=0,
                     extra_callbacks=[InterruptAfterEpoch(1)])
    assert (tmp_path / "backup").exists()
    assert len(training.RunDir(tmp_path).read_json("history.json")["loss"]) == 2

    recorder = RecordEpochs()
    history = training.fit(tiny_model(), ds, ds, tmp_path, epochs=5, patience=10, verbose=0,
                           extra_callbacks=[recorder])
    assert recorder.epochs == [2, 3, 4]  # resumed after the two finished epochs
    assert len(history["loss"]) == 5
    assert history["loss"][-1] < history["loss"][0]
    run = training.RunDir(tmp_path)
    assert run.model_path.exists() and run.learning_curves_path.exists()
    assert not run.backup_dir.exists()  # removed once training finished
    metrics = run.read_json("metrics.json")
    assert metrics["epochs_trained"] == 5 and metrics["train_seconds"] > 0

    # A finished run is loaded, not retrained.
    fresh, recorder = tiny_model(), RecordEpochs()
    again = training.fit(fresh, ds, ds, tmp_path, epochs=5, verbose=0, extra_callbacks=[recorder])
    assert recorder.epochs == [] and again == history
    np.testing.assert_allclose(fresh.get_weights()[0], keras.saving.load_model(run.model_path).get_weights()[0])


@dataclasses.dataclass
class ToyConfig:
    embed_dim: int = 8
    dropout: float = 0.1
    positions: str = "learned"
    norm_first: bool = False


def test_config_round_trip_and_overrides(tmp_path):
    config = training.apply_overrides(ToyConfig(), {"embed_dim": "16", "norm_first": "true", "dropout": "0.3"})
    assert config == ToyConfig(embed_dim=16, dropout=0.3, norm_first=True)
    training.save_config(tmp_path, config)
    assert training.load_config(tmp_path, ToyConfig) == config


def test_bad_override_and_foreign_config_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no field 'width'"):
        training.apply_overrides(ToyConfig(), {"width": "3"})
    with pytest.raises(ValueError, match="expected a value of type int"):
        training.apply_overrides(ToyConfig(), {"embed_dim": "large"})
    training.RunDir(tmp_path).write_json("config.json", {"kind": "ToyConfig", "embed_dim": 8, "rotary": True})
    with pytest.raises(ValueError, match="another version"):
        training.load_config(tmp_path, ToyConfig)


def test_missing_run_directory_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one first"):
        training.RunDir(tmp_path).require_model()
