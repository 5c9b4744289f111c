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


class _SetWeightsEachEpoch(keras.callbacks.Callback):
    """Puts the model at a chosen point in each epoch (training itself is frozen, lr=0)."""

    def __init__(self, points):
        super().__init__()
        self.points = points

    def on_epoch_begin(self, epoch, logs=None):
        kernel, bias = self.model.get_weights()
        self.model.set_weights([self.points[epoch].reshape(kernel.shape), bias])


@pytest.mark.parametrize(
    "offsets, used",
    [([1.0, -1.0, 2.0, -2.0], True),  # the two best epochs sit either side of the optimum
     ([1.0, 2.0, 3.0, 4.0], False)],  # their mean is worse than the best epoch alone
)
@pytest.mark.parametrize("monitor, mode", [("val_loss", "min"), ("val_r2_score", "max")])
def test_best_epochs_average_keeps_the_mean_of_the_k_best_epochs_if_it_validates_better(
    tmp_path, offsets, used, monitor, mode
):
    optimum, direction = np.ones(4, "float32"), np.array([1, -1, 1, 0], "float32")
    points = [optimum + offset * direction for offset in offsets]
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=[keras.metrics.R2Score()])
    training.fit(model, data(), data(), tmp_path, epochs=len(points), monitor=monitor, mode=mode,
                 patience=10, verbose=0, extra_callbacks=[_SetWeightsEachEpoch(points)],
                 average_best=2)
    run = training.RunDir(tmp_path)
    outcome = run.read_json("metrics.json")["checkpoint_average"]
    assert outcome["epochs"] == [1, 2] and outcome["used"] is used
    expected = (points[0] + points[1]) / 2 if used else points[0]
    np.testing.assert_allclose(model.get_weights()[0][:, 0], expected, atol=1e-6)
    saved = keras.saving.load_model(run.model_path).get_weights()[0][:, 0]
    np.testing.assert_allclose(saved, expected, atol=1e-6)
    average, best = outcome[f"average_{monitor}"], outcome[f"best_epoch_{monitor}"]
    assert (average < best if mode == "min" else average > best) is used
    assert not (tmp_path / "best_epochs").exists()


def test_best_epochs_average_needs_two_epochs(tmp_path):
    with pytest.raises(ValueError, match="at least 2"):
        training.BestEpochsAverage(training.RunDir(tmp_path), data(), k=1)


def test_best_epochs_average_survives_an_interruption(tmp_path):
    # The two best epochs (offsets +1 and -1) both run before the interruption; the resumed
    # session must still average them, from the weights kept on disk in best_epochs/.
    optimum, direction = np.ones(4, "float32"), np.array([1, -1, 1, 0], "float32")
    points = [optimum + offset * direction for offset in (1.0, -1.0, 2.0, -2.0)]

    def run(extra):
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
        training.fit(model, data(), data(), tmp_path, epochs=len(points), patience=10, verbose=0,
                     extra_callbacks=[_SetWeightsEachEpoch(points), *extra], average_best=2)
        return model

    with pytest.raises(Interrupt):
        run([InterruptAfterEpoch(1)])
    assert len(list((tmp_path / "best_epochs").glob("*.weights.h5"))) == 2
    recorder = RecordEpochs()
    model = run([recorder])
    assert recorder.epochs == [2, 3]
    outcome = training.RunDir(tmp_path).read_json("metrics.json")["checkpoint_average"]
    assert outcome["epochs"] == [1, 2] and outcome["used"] is True
    np.testing.assert_allclose(model.get_weights()[0][:, 0], optimum, atol=1e-6)


def test_a_resumed_run_keeps_the_best_epoch_and_the_patience_of_the_first_session(tmp_path):
    optimum, direction = np.ones(4, "float32"), np.array([1, -1, 1, 0], "float32")
    points = [optimum + offset * direction for offset in (1.0, 0.5, 2.0, 3.0)]  # best: epoch 2

    def run(extra):
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
        training.fit(model, data(), data(), tmp_path, epochs=len(points), patience=1, verbose=0,
                     extra_callbacks=[_SetWeightsEachEpoch(points), *extra])
        return model

    with pytest.raises(Interrupt):
        run([InterruptAfterEpoch(1)])
    recorder = RecordEpochs()
    model = run([recorder])
    assert recorder.epochs == [2]  # epoch 3 is worse than epoch 2: patience 1 is used up
    np.testing.assert_allclose(model.get_weights()[0][:, 0], points[1], atol=1e-6)
    saved = keras.saving.load_model(tmp_path / "model.keras").get_weights()[0][:, 0]
    np.testing.assert_allclose(saved, points[1], atol=1e-6)  # not overwritten by epoch 3


def test_is_finished_needs_a_model_a_history_the_end_of_training_and_no_backup(tmp_path):
    run = training.RunDir(tmp_path)
    assert not training.is_finished(tmp_path)
    run.model_path.write_bytes(b"")
    run.write_json("history.json", {"loss": [1.0]})
    assert not training.is_finished(tmp_path)  # e.g. killed while averaging checkpoints
    run.update_metrics(epochs_trained=1)
    assert training.is_finished(tmp_path)
    run.backup_dir.mkdir()
    assert not training.is_finished(run)  # interrupted: BackupAndRestore's state is pending
    run.backup_dir.rmdir()
    run.history_path.unlink()
    assert not training.is_finished(run)


@dataclasses.dataclass
class RunConfig:
    embed_dim: int = 8
    epochs: int = 3
    patience: int = 2
    beam_size: int = 4


def test_a_resume_may_change_only_the_epoch_budget_and_the_decoding_defaults(tmp_path):
    training.check_resumable(tmp_path, RunConfig(embed_dim=99))  # nothing saved yet
    training.save_config(tmp_path, RunConfig())
    training.check_resumable(tmp_path, RunConfig(epochs=10, patience=5, beam_size=8))
    with pytest.raises(ValueError, match=r"different settings \(embed_dim\).*only epochs, "
                                         r"patience, beam_size may change.*another --out"):
        training.check_resumable(tmp_path, RunConfig(embed_dim=16, epochs=10))
    with pytest.raises(ValueError, match=r"different settings \(epochs\)"):
        training.check_resumable(tmp_path, RunConfig(epochs=10), resumable_fields={"patience"})


def test_worker_run_dir_on_one_process_is_the_run_dir(tmp_path):
    prepared = []
    with training.worker_run_dir(tmp_path / "run", None, prepared.append) as run_dir:
        assert run_dir.path == tmp_path / "run" and prepared == [run_dir]


def test_training_log_has_one_verbose_2_line_per_epoch():
    log = training.format_training_log({"loss": [0.9, 0.5], "val_loss": [0.8, 0.6], "epoch_seconds": [31.2, 30.8]})
    assert log.splitlines() == ["Epoch 1/2 - 31s - loss: 0.9000 - val_loss: 0.8000",
                                "Epoch 2/2 - 31s - loss: 0.5000 - val_loss: 0.6000"]


def test_finished_run_prints_its_training_log_instead_of_training(tmp_path, capsys):
    ds = data()
    training.fit(tiny_model(), ds, ds, tmp_path, epochs=3, patience=10, verbose=0)
    curves = training.RunDir(tmp_path).learning_curves_path
    curves.unlink()
    capsys.readouterr()
    recorder = RecordEpochs()
    history = training.fit(tiny_model(), ds, ds, tmp_path, epochs=3, patience=10, verbose=0,
                           extra_callbacks=[recorder], metric_labels={"loss": "mean squared error"})
    printed = capsys.readouterr().out
    assert recorder.epochs == []  # nothing trained again
    assert [line.split(" - ")[0] for line in printed.splitlines()[1:]] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert f"loss: {history['loss'][2]:.4f}" in printed.splitlines()[-1]
    assert curves.exists()  # redrawn
