"""Run directories and the one training loop both models share.

A run directory holds everything about one training run:

    RUN_DIR/
      config.json          the model's configuration dataclass
      model.keras          the best model so far (by the monitored metric)
      history.json         per-epoch metrics, kept across interruptions
      metrics.json         train_seconds, then evaluation results
      learning_curves.png
      backup/              BackupAndRestore state while training (removed when done)
      best_epochs/         weights of the best epochs while training, for averaging (removed when done)
      logs/                TensorBoard

Run the same command again after an interruption (Ctrl-C, a killed job) and
training resumes at the last finished epoch.
"""

import dataclasses
import json
import shutil
import time
import typing
from pathlib import Path

import keras

from kdl_transformer import plotting


class RunDir:
    """Paths and JSON helpers of one run directory (created on first use)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    config_path = property(lambda self: self.path / "config.json")
    model_path = property(lambda self: self.path / "model.keras")
    history_path = property(lambda self: self.path / "history.json")
    metrics_path = property(lambda self: self.path / "metrics.json")
    backup_dir = property(lambda self: self.path / "backup")
    tensorboard_dir = property(lambda self: self.path / "logs")
    learning_curves_path = property(lambda self: self.path / "learning_curves.png")

    @property
    def checkpoint_path(self):
        return self.model_path

    def write_json(self, name, obj):
        path = self.path / name
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")
        return path

    def read_json(self, name, default=None):
        path = self.path / name
        if not path.exists():
            if default is not None:
                return default
            raise FileNotFoundError(
                f"{path} does not exist; is {self.path} a finished run directory? "
                "Train one first with `kdl-transformer train ...`."
            )
        return json.loads(path.read_text())

    def update_metrics(self, **values):
        """Merge `values` into metrics.json."""
        metrics = self.read_json("metrics.json", default={})
        metrics.update(values)
        self.write_json("metrics.json", metrics)
        return metrics

    def require_model(self):
        if not self.model_path.exists():
            raise FileNotFoundError(
                f"No trained model in {self.path} (expected {self.model_path.name}); "
                "train one first with `kdl-transformer train ...` or check the path."
            )
        return self.model_path


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def save_config(run_dir, config):
    """Write a config dataclass to RUN_DIR/config.json."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    payload = {"kind": type(config).__name__, **dataclasses.asdict(config)}
    return run_dir.write_json("config.json", payload)


def load_config(run_dir, cls):
    """Read RUN_DIR/config.json back into dataclass `cls`, refusing a config of another kind."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    payload = dict(run_dir.read_json("config.json"))
    kind = payload.pop("kind", cls.__name__)
    if kind != cls.__name__:
        raise ValueError(f"{run_dir.path} holds a {kind} run, not a {cls.__name__} run.")
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(payload) - names)
    if unknown:
        raise ValueError(
            f"{run_dir.config_path} has fields {unknown} that this version of kdl_transformer "
            "does not know; it was written by another version: retrain, or install that version."
        )
    return cls(**payload)


def apply_overrides(config, overrides):
    """Return a copy of dataclass `config` with `{"field": "string value"}` overrides parsed by type.

    This is what `kdl-transformer train ... --set embed_dim=128` uses.
    """
    if not overrides:
        return config
    fields = {field.name: field for field in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    changes = {}
    for name, text in overrides.items():
        if name not in fields:
            raise ValueError(
                f"{type(config).__name__} has no field {name!r}; valid fields: {', '.join(sorted(fields))}."
            )
        changes[name] = _parse(text, hints[name], name) if isinstance(text, str) else text
    return dataclasses.replace(config, **changes)


def _parse(text, kind, name):
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "types.UnionType":
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if text.lower() in ("none", "null"):
            return None
        kind = options[0]
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind in (int, float, str):
            return kind(text)
        return json.loads(text)
    except ValueError:
        raise ValueError(f"--set {name}={text!r}: expected a value of type {getattr(kind, '__name__', kind)}.") from None


class _JsonHistory(keras.callbacks.Callback):
    """Appends each epoch's logs (and its duration) to history.json, surviving resumes."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_train_begin(self, logs=None):
        resumed_epochs = getattr(self.model, "_initial_epoch", None) or 0
        history = self.run_dir.read_json("history.json", default={}) if resumed_epochs else {}
        self.history = {key: values[:resumed_epochs] for key, values in history.items()}

    def on_epoch_begin(self, epoch, logs=None):
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


class _ResumeBest(keras.callbacks.Callback):
    """On a resumed run, gives EarlyStopping and ModelCheckpoint the best epoch so far.

    Keras callbacks start every `fit` afresh: without this, the first epoch after a resume
    would overwrite `model.keras` even when worse than the best epoch before the interruption,
    EarlyStopping would restore the best epoch of the last session only, and its patience
    would start again. Put it after both callbacks and after the `_JsonHistory`, whose
    `history` then holds the finished epochs of the earlier sessions.
    """

    def __init__(self, run_dir, json_history, early_stopping, checkpoint, monitor, mode):
        super().__init__()
        self.run_dir, self.json_history = run_dir, json_history
        self.early_stopping, self.checkpoint = early_stopping, checkpoint
        self.monitor, self.mode = monitor, mode

    def on_train_begin(self, logs=None):
        values = self.json_history.history.get(self.monitor, [])  # empty unless resumed
        if not values or not self.run_dir.model_path.exists():
            return
        pick = min if self.mode == "min" else max
        best_epoch = pick(range(len(values)), key=values.__getitem__)
        self.checkpoint.best = self.early_stopping.best = values[best_epoch]
        self.early_stopping.best_epoch = best_epoch
        self.early_stopping.wait = len(values) - 1 - best_epoch
        self.early_stopping.best_weights = keras.saving.load_model(
            self.run_dir.model_path, compile=False
        ).get_weights()


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
        # The best epoch of all sessions: after a resume, EarlyStopping and ModelCheckpoint
        # only know the epochs of the last session.
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


def is_finished(run_dir):
    """Whether `run_dir` holds a completed training (best model saved, no pending backup)."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    metrics = run_dir.read_json("metrics.json", default={})
    return run_dir.model_path.exists() and "epochs_trained" in metrics and not run_dir.backup_dir.exists()


def fit(
    model,
    train_ds,
    val_ds,
    run_dir,
    epochs,
    monitor="val_loss",
    mode="min",
    patience=3,
    verbose="auto",
    extra_callbacks=(),
    steps_per_epoch=None,
    average_best=0,
):
    """Train `model` (compiled) into `run_dir`, resuming an interrupted run.

    Callbacks: BackupAndRestore (resume with no finished epoch lost),
    EarlyStopping (restoring the best weights), ModelCheckpoint of the best
    model as `model.keras`, TensorBoard, and a JSON history. Writes
    history.json, learning_curves.png, and `train_seconds` (summed over
    resumed sessions) and `epochs_trained` into metrics.json. With
    `average_best=k` (k >= 2), the weights of the k best epochs are averaged at
    the end and kept where they validate better (`BestEpochsAverage`).

    A run directory that already holds a finished training is not trained
    again: its best weights are loaded into `model` and its history returned.

    Returns:
        The history dict (metric -> per-epoch list) of the whole run.
    """
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if is_finished(run_dir):
        print(
            f"{run_dir.path} already holds a finished training; loading its best model instead of "
            "training again (delete the folder or pick another output folder to retrain)."
        )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # so its saved state loads too
        model.load_weights(run_dir.model_path)
        return run_dir.read_json("history.json")
    json_history = _JsonHistory(run_dir)
    # The averaging candidates are saved first, before BackupAndRestore marks an epoch as done.
    averager = BestEpochsAverage(run_dir, val_ds, average_best, monitor, mode) if average_best else None
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
    )
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(run_dir.model_path), monitor=monitor, mode=mode, save_best_only=True
    )
    callbacks = [
        *([averager] if averager else []),
        keras.callbacks.BackupAndRestore(str(run_dir.backup_dir)),
        json_history,
        early_stopping,
        checkpoint,
        _ResumeBest(run_dir, json_history, early_stopping, checkpoint, monitor, mode),
        keras.callbacks.TensorBoard(str(run_dir.tensorboard_dir)),
        *extra_callbacks,
    ]
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # datasets arrive shuffled by their own pipeline
    )
    if averager:  # the best epoch of every session, or the average of the best ones
        averager.finish()
    history = json_history.history
    if not run_dir.model_path.exists():  # e.g. every epoch was already done before a resume
        model.save(run_dir.model_path)
    if history.get("loss"):
        plotting.plot_learning_curves(
            {k: v for k, v in history.items() if k != "epoch_seconds"}, run_dir.learning_curves_path
        )
    best = history.get(monitor) or [None]
    best_value = (min if mode == "min" else max)([v for v in best if v is not None], default=None)
    run_dir.update_metrics(
        train_seconds=round(sum(history.get("epoch_seconds", [])), 2),
        epochs_trained=len(history.get("loss", [])),
        **{f"best_{monitor}": best_value},
    )
    return history
