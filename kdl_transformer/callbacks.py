"""The Keras callbacks of our training loop, each owning state that survives a resume.

Keras callbacks start every `fit` afresh; ours keep what they know in the run directory, and
learn where a resumed session starts from public information only: the `epoch` argument of
the session's first `on_epoch_begin`, which `BackupAndRestore` sets to the number of epochs
already finished (0 on a fresh run).

- `JsonHistory`: per-epoch metrics in history.json, across sessions.
- `BestEpoch`: the best epoch by a monitored metric: `model.keras`, patience (early
  stopping), best weights restored at the end.
- `BestEpochsAverage`: checkpoint averaging of the k best epochs.
"""

import json
import math
import shutil
import time
import warnings

import keras


class _SessionCallback(keras.callbacks.Callback):
    """Calls `resume(epoch)` once per `fit`, at its first epoch: `epoch` epochs are finished."""

    def on_train_begin(self, logs=None):
        self._session_started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._session_started:
            self._session_started = True
            self.resume(epoch)

    def resume(self, finished_epochs):
        raise NotImplementedError


class JsonHistory(_SessionCallback):
    """Appends each epoch's logs (and its duration) to RUN_DIR/history.json, across resumes.

    `history` holds the metrics of every finished epoch of the run (also when a resumed
    session has no epoch left to train).
    """

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.history = self.run_dir.read_json("history.json", default={})

    def resume(self, finished_epochs):
        # Drops what a fresh run finds there, or an epoch logged but never backed up.
        self.history = {key: values[:finished_epochs] for key, values in self.history.items()}

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs["epoch_seconds"] = time.perf_counter() - self._start
        lr = getattr(self.model.optimizer, "learning_rate", None)
        if lr is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self.run_dir.write_json("history.json", self.history)


class BestEpoch(_SessionCallback):
    """The best epoch by `monitor`: saved as `model.keras`, early stopping, restored at the end.

    In place of Keras' `ModelCheckpoint(save_best_only=True)` and
    `EarlyStopping(restore_best_weights=True)`, with the same rules (an epoch is better only
    when strictly better; training stops once `patience` epochs in a row were not better,
    never at the first epoch of the run), and with state of its own that a resumed run continues:
    RUN_DIR/best_epoch.json, written at each epoch end, holds the monitored value of every
    finished epoch and, derived from them, the best value, the best epoch (0-based) and the
    epochs waited since. A resumed session replays the values of the epochs already finished,
    so it keeps the best epoch, `model.keras` and the patience of the earlier sessions; at the
    end the best weights are restored, from memory or, when the best epoch belongs to an
    earlier session, from `model.keras`. Put it before `BackupAndRestore`, so that an epoch
    counted as done has its checkpoint written.

    Args:
        run_dir: `RunDir` of the run.
        monitor: the metric to watch (a validation metric of `fit`).
        mode: "min" or "max".
        patience: epochs without a better value before training stops (>= 0).
    """

    FILE = "best_epoch.json"

    def __init__(self, run_dir, monitor="val_loss", mode="min", patience=3):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r} must be 'min' or 'max'.")
        if int(patience) < 0:
            raise ValueError(f"patience={patience} must be at least 0.")
        self.run_dir, self.monitor, self.mode, self.patience = run_dir, monitor, mode, int(patience)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        state = self.run_dir.read_json(self.FILE, default={})
        same_rule = (state.get("monitor"), state.get("mode")) == (self.monitor, self.mode)
        self._replay(state.get("values", []) if same_rule else [])
        self.best_weights = None  # those of this session's best epoch, once it has one

    def resume(self, finished_epochs):
        self._replay(self.values[:finished_epochs])

    def _replay(self, values):
        self.values, self.best, self.best_epoch, self.wait = [], None, None, 0
        for value in values:
            self._count(value)

    def _count(self, value):
        """Append one epoch's value (None: not reported); returns whether it is a new best."""
        self.values.append(value)
        if value is None:
            return False
        if not math.isnan(value) and (
            self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        ):
            self.best, self.best_epoch, self.wait = value, len(self.values) - 1, 0
            return True
        self.wait += 1
        return False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"BestEpoch monitors {self.monitor!r}, which is not among the metrics "
                          f"{sorted(logs or {})}; pass a `monitor` that `fit` reports.", stacklevel=2)
        improved = self._count(None if value is None else float(value))
        if improved:
            self.model.save(self.run_dir.model_path)
            self.best_weights = self.model.get_weights()
        self.run_dir.write_json(self.FILE, {
            "monitor": self.monitor, "mode": self.mode, "best": self.best,
            "best_epoch": self.best_epoch, "wait": self.wait, "values": self.values,
        })
        if value is not None and not improved and self.wait >= self.patience and epoch > 0:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        earlier_best = self.best_weights is None and self.best_epoch is not None
        if earlier_best and self.run_dir.model_path.exists():
            self.best_weights = keras.saving.load_model(
                self.run_dir.model_path, compile=False
            ).get_weights()
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class BestEpochsAverage(keras.callbacks.Callback):
    """Checkpoint averaging: the mean of the weights of the `k` best epochs, if it validates better.

    Averaging the weights of a few good checkpoints (Vaswani et al. 2017 averaged the last 5 or
    20) lands in a flatter, better-generalising point than any single one, for free: no extra
    training, one extra validation pass. Each epoch that ranks among the `k` best by `monitor`
    so far has its weights written to `RUN_DIR/best_epochs/`, before BackupAndRestore counts
    the epoch as done (put this callback first), so that a resumed run still has every
    session's candidates. `finish()`, called once training has ended, validates the best of
    them and their mean on `validation_data`; the better one becomes the model's weights and
    `model.keras`. The outcome is recorded under "checkpoint_average" in metrics.json; the
    folder is then removed.

    Args:
        run_dir: `RunDir` of the run.
        validation_data: the dataset `fit` validates on.
        k: how many of the best epochs to average (>= 2).
        monitor: metric to rank epochs by (a validation metric of `fit`).
        mode: "min" or "max".
    """

    def __init__(self, run_dir, validation_data, k=5, monitor="val_loss", mode="min"):
        super().__init__()
        if int(k) < 2:
            raise ValueError(f"k={k} must be at least 2 to average checkpoints.")
        self.run_dir, self.validation_data = run_dir, validation_data
        self.k, self.monitor, self.mode = int(k), monitor, mode
        self.folder = run_dir.path / "best_epochs"
        self.index_path = self.folder / "index.json"

    def _better(self, a, b):
        return a < b if self.mode == "min" else a > b

    def on_train_begin(self, logs=None):
        self.folder.mkdir(exist_ok=True)
        # {epoch: value} of the kept checkpoints (survives an interrupted run).
        index = json.loads(self.index_path.read_text()) if self.index_path.exists() else {}
        self.kept = {int(epoch): value for epoch, value in index.items()}

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        worst = (max if self.mode == "min" else min)(self.kept, key=self.kept.get, default=None)
        if len(self.kept) >= self.k and not self._better(value, self.kept[worst]):
            return
        self.model.save_weights(self.folder / f"epoch_{epoch:04d}.weights.h5")
        self.kept[epoch] = value
        if len(self.kept) > self.k:
            (self.folder / f"epoch_{worst:04d}.weights.h5").unlink()
            del self.kept[worst]
        self.index_path.write_text(json.dumps(self.kept))

    def finish(self):
        """After training: keep the better of the best epoch and the average; clean up."""
        if len(self.kept) >= 2:
            self._average()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _load_epoch(self, epoch):
        self.model.load_weights(self.folder / f"epoch_{epoch:04d}.weights.h5")
        return self.model.get_weights()

    def _average(self):
        # The best epoch of all sessions, from the kept candidates of every session.
        best_epoch = (min if self.mode == "min" else max)(self.kept, key=self.kept.get)
        weights = {epoch: self._load_epoch(epoch) for epoch in self.kept}
        best_weights = weights[best_epoch]
        self.model.set_weights(best_weights)
        best_value = self._validate()
        self.model.set_weights([sum(arrays) / len(weights) for arrays in zip(*weights.values())])
        average_value = self._validate()
        used = self._better(average_value, best_value)
        if not used:
            self.model.set_weights(best_weights)
        self.model.save(self.run_dir.model_path)
        self.run_dir.update_metrics(checkpoint_average={
            "epochs": sorted(e + 1 for e in self.kept),
            f"average_{self.monitor}": round(average_value, 5),
            f"best_epoch_{self.monitor}": round(best_value, 5),
            "used": bool(used),
        })
        print(f"Average of the {len(self.kept)} best epochs: {self.monitor} {average_value:.4f} "
              f"against {best_value:.4f} for the best epoch; "
              f"{'using the average' if used else 'keeping the best epoch'}.")

    def _validate(self):
        results = self.model.evaluate(self.validation_data, verbose=0, return_dict=True)
        return float(results[self.monitor.removeprefix("val_")])
