"""Run directories and the one training loop both models share.

A run directory holds everything about one training run:

    RUN_DIR/
      config.json          the model's configuration dataclass
      model.keras          the best model so far (by the monitored metric)
      best_epoch.json      the monitored value of each epoch, the best epoch, the epochs waited since
      history.json         per-epoch metrics, kept across interruptions
      metrics.json         train_seconds, then evaluation results
      learning_curves.png
      backup/              BackupAndRestore state while training (removed when done)
      best_epochs/         weights of the best epochs while training, for averaging (removed when done)
      logs/                TensorBoard

Run the same command again after an interruption (Ctrl-C, a killed job) and
training resumes at the last finished epoch, with the best epoch and the patience of the
earlier sessions; the callbacks are in `kdl_transformer.callbacks`.
"""

import contextlib
import dataclasses
import hashlib
import json
import shutil
import tempfile
import typing
from pathlib import Path

import keras

from kdl_transformer import distribute, plotting
from kdl_transformer.callbacks import BestEpoch, BestEpochsAverage, JsonHistory


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


# Config fields that change only the epoch budget or the decoding defaults: they may differ
# when a run directory is used again (to train an interrupted run longer, or to rewrite the
# decoding defaults of a finished run without retraining it). Every other field must match.
RESUMABLE_FIELDS = frozenset({"epochs", "patience", "beam_size", "length_penalty"})


def check_resumable(run_dir, config, resumable_fields=RESUMABLE_FIELDS):
    """Refuse to resume or reuse `run_dir` with a config that differs beyond `resumable_fields`.

    Does nothing when `run_dir` holds no config yet.

    Raises:
        ValueError: naming the differing fields, and what to do.
    """
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run_dir.config_path.exists():
        return
    saved = load_config(run_dir, type(config))
    names = [field.name for field in dataclasses.fields(config)]
    differ = [n for n in names if n not in resumable_fields and getattr(saved, n) != getattr(config, n)]
    if differ:
        may_change = [n for n in names if n in resumable_fields]
        raise ValueError(
            f"{run_dir.path} holds a {type(config).__name__} run with different settings "
            f"({', '.join(differ)}); pass the same values to resume it (only "
            f"{', '.join(may_change) or 'none'} may change), or choose another --out folder."
        )


def is_finished(run_dir):
    """Whether `run_dir` holds a completed training.

    A best model, a history, "epochs_trained" in metrics.json (written once training and
    checkpoint averaging have ended) and no pending backup.
    """
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    metrics = run_dir.read_json("metrics.json", default={})
    return (
        run_dir.model_path.exists() and run_dir.history_path.exists()
        and "epochs_trained" in metrics and not run_dir.backup_dir.exists()
    )


@contextlib.contextmanager
def worker_run_dir(path, strategy=None, prepare=None):
    """The run directory this process writes: `path`, or a scratch copy on a non-chief worker.

    Under MultiWorkerMirroredStrategy every worker runs the same training, but only the chief
    writes the run directory. The chief first calls `prepare(run_dir)` (write the config and
    the tokenizers or vocabulary); then, after every worker has reached that point, each other
    worker copies the chief's folder (the resume state of an interrupted run included) into a
    temporary directory, trains there and removes it at the end. On one host or one device,
    this is `prepare(RunDir(path))` and `RunDir(path)`.

    Yields:
        the `RunDir` to train in.
    """
    run_dir = path if isinstance(path, RunDir) else RunDir(path)
    chief = distribute.is_chief(strategy)
    if chief and prepare is not None:
        prepare(run_dir)
    if chief and distribute.worker_count(strategy) == 1:
        yield run_dir
        return
    distribute.barrier(strategy)  # the chief has prepared the folder
    if chief:
        yield run_dir
        return
    # One scratch folder per run directory and worker: a worker killed mid-run leaves it
    # behind, and its restart replaces it.
    key = hashlib.sha1(str(run_dir.path.resolve()).encode()).hexdigest()[:12]
    scratch = Path(tempfile.gettempdir()) / f"kdl-worker-{key}-{distribute.task_id(strategy)}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        shutil.copytree(run_dir.path, scratch, ignore=shutil.ignore_patterns("logs"))
        yield RunDir(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
    metric_labels=None,
):
    """Train `model` (compiled) into `run_dir`, resuming an interrupted run.

    Callbacks: BackupAndRestore (resume with no finished epoch lost), `BestEpoch`
    (the best model as `model.keras`, early stopping after `patience` epochs without
    a better `monitor`, best weights restored), TensorBoard, and a JSON history. Writes
    history.json, learning_curves.png, and `train_seconds` (summed over
    resumed sessions) and `epochs_trained` into metrics.json. With
    `average_best=k` (k >= 2), the weights of the k best epochs are averaged at
    the end and kept where they validate better (`BestEpochsAverage`).

    A run directory that already holds a finished training is not trained
    again: its best weights are loaded into `model`, its per-epoch log is printed
    (`format_training_log`), its learning curves are redrawn and its history returned.

    `metric_labels` (metric -> y-axis label) says on the learning curves what each number is.

    Returns:
        The history dict (metric -> per-epoch list) of the whole run.
    """
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if is_finished(run_dir):
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # so its saved state loads too
        model.load_weights(run_dir.model_path)
        return show_finished_run(run_dir, metric_labels)
    json_history = JsonHistory(run_dir)
    # The averaging candidates and the best model are saved before BackupAndRestore marks an
    # epoch as done.
    averager = BestEpochsAverage(run_dir, val_ds, average_best, monitor, mode) if average_best else None
    callbacks = [
        *([averager] if averager else []),
        BestEpoch(run_dir, monitor, mode, patience),
        keras.callbacks.BackupAndRestore(str(run_dir.backup_dir)),
        json_history,
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
    _plot_history(history, run_dir, metric_labels)
    best = history.get(monitor) or [None]
    best_value = (min if mode == "min" else max)([v for v in best if v is not None], default=None)
    run_dir.update_metrics(
        train_seconds=round(sum(history.get("epoch_seconds", [])), 2),
        epochs_trained=len(history.get("loss", [])),
        **{f"best_{monitor}": best_value},
    )
    return history


def show_finished_run(run_dir, metric_labels=None):
    """Say that `run_dir` is reused, print its per-epoch training log, redraw its learning curves.

    Returns:
        The history dict of the run.
    """
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    print(
        f"{run_dir.path} already holds a finished training; loading its best model instead of "
        "training again (delete the folder or pick another output folder to retrain). Its log:"
    )
    history = run_dir.read_json("history.json", default={})
    print(format_training_log(history))
    _plot_history(history, run_dir, metric_labels)
    return history


def _plot_history(history, run_dir, metric_labels):
    if history.get("loss"):
        plotting.plot_learning_curves(history, run_dir.learning_curves_path, ylabels=metric_labels)


def format_training_log(history):
    """The per-epoch log of a run from its history.json, one line per epoch as `verbose=2` prints.

    >>> print(format_training_log({"loss": [0.9, 0.5], "val_loss": [0.8, 0.6], "epoch_seconds": [31.2, 30.8]}))
    Epoch 1/2 - 31s - loss: 0.9000 - val_loss: 0.8000
    Epoch 2/2 - 31s - loss: 0.5000 - val_loss: 0.6000
    """
    epochs = len(history.get("loss", []))
    names = [name for name in history if name != "epoch_seconds"]
    names = [n for n in names if not n.startswith("val_")] + [n for n in names if n.startswith("val_")]
    lines = []
    for epoch in range(epochs):
        parts = [f"Epoch {epoch + 1}/{epochs}"]
        if len(history.get("epoch_seconds", [])) > epoch:
            parts.append(f"{history['epoch_seconds'][epoch]:.0f}s")
        parts += [f"{name}: {history[name][epoch]:.4g}" if name == "learning_rate"
                  else f"{name}: {history[name][epoch]:.4f}"
                  for name in names if len(history[name]) > epoch]
        lines.append(" - ".join(parts))
    return "\n".join(lines)
