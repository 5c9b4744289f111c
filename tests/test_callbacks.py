"""Our callbacks, driven epoch by epoch: BestEpoch (best model, patience, resume), JsonHistory."""

import keras
import numpy as np
import pytest

from kdl_transformer import training
from kdl_transformer.callbacks import BestEpoch, JsonHistory


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def kernel(model):
    return model.get_weights()[0][:, 0]


class Session:
    """One `fit` of a `BestEpoch`: the epochs `first`, `first + 1`, ... with given values."""

    def __init__(self, run_dir, model, patience, mode="min"):
        self.callback = BestEpoch(run_dir, "val_loss", mode, patience)
        self.callback.set_model(model)
        self.model = model
        model.stop_training = False
        self.callback.on_train_begin()

    def epochs(self, first, values):
        for epoch, value in enumerate(values, start=first):
            self.callback.on_epoch_begin(epoch)
            self.model.set_weights([np.full((2, 1), epoch, "float32"), np.zeros(1, "float32")])
            self.callback.on_epoch_end(epoch, {"val_loss": value})
            if self.model.stop_training:
                return epoch
        return None


def test_best_model_is_kept_when_a_later_epoch_is_worse_and_restored_at_the_end(tmp_path):
    run, model = training.RunDir(tmp_path), tiny_model()
    session = Session(run, model, patience=5)
    assert session.epochs(0, [3.0, 1.0, 2.0, 1.0]) is None  # 1.0 again is not better
    saved = keras.saving.load_model(run.model_path, compile=False)
    np.testing.assert_array_equal(kernel(saved), [1, 1])  # epoch 1, not overwritten later
    state = run.read_json("best_epoch.json")
    assert (state["best"], state["best_epoch"], state["wait"]) == (1.0, 1, 2)
    assert state["values"] == [3.0, 1.0, 2.0, 1.0]
    session.callback.on_train_end()
    np.testing.assert_array_equal(kernel(model), [1, 1])  # the best weights, not the last


def test_patience_is_counted_across_a_resume(tmp_path):
    run = training.RunDir(tmp_path)
    assert Session(run, tiny_model(), patience=2).epochs(0, [1.0, 2.0]) is None  # interrupted
    model = tiny_model()
    resumed = Session(run, model, patience=2)
    assert resumed.epochs(2, [3.0, 0.5]) == 2  # the second worse epoch in a row stops
    resumed.callback.on_train_end()
    np.testing.assert_array_equal(kernel(model), [0, 0])  # the first session's best epoch


def test_a_resume_forgets_epochs_that_were_never_backed_up(tmp_path):
    run = training.RunDir(tmp_path)
    Session(run, tiny_model(), patience=1).epochs(0, [2.0, 1.0, 0.5])
    # BackupAndRestore resumes at epoch 1: epochs 1 and 2 run again, epoch 0 stays the best.
    resumed = Session(run, tiny_model(), patience=1)
    assert resumed.epochs(1, [4.0]) == 1
    assert (resumed.callback.best_epoch, resumed.callback.values) == (0, [2.0, 4.0])


def test_max_mode_and_no_patience(tmp_path):
    session = Session(training.RunDir(tmp_path), tiny_model(), patience=0, mode="max")
    assert session.epochs(0, [0.5, 0.6, 0.7, 0.7]) == 3  # improving epochs never stop
    with pytest.raises(ValueError, match="mode='up'"):
        BestEpoch(training.RunDir(tmp_path), mode="up")


def test_json_history_keeps_the_epochs_before_the_resumed_one(tmp_path):
    run = training.RunDir(tmp_path)
    run.write_json("history.json", {"loss": [3.0, 2.0, 1.0]})
    history = JsonHistory(run)
    history.set_model(tiny_model())
    history.on_train_begin()
    assert history.history == {"loss": [3.0, 2.0, 1.0]}  # nothing left to train: all of it
    history.on_epoch_begin(2)  # BackupAndRestore resumed after two finished epochs
    history.on_epoch_end(2, {"loss": 0.5})
    assert run.read_json("history.json")["loss"] == [3.0, 2.0, 0.5]
