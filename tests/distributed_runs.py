"""Training runs under tf.distribute, each in a process of its own (`tests/test_distribute.py`).

Logical CPU devices and MultiWorkerMirroredStrategy must be set up before TensorFlow starts,
which a pytest process has done long before; so the tests run this script:

    python tests/distributed_runs.py replicas OUT            # 1 device vs 2 logical CPU devices
    TF_CONFIG=... python tests/distributed_runs.py worker OUT [--stop-after-epoch 1]

`replicas` trains the tiny translator and classifier for one epoch (no dropout, fixed seed)
with the default strategy and with MirroredStrategy on 2 logical CPU devices, and writes
their per-step losses and final weights to OUT/replicas.npz. `worker` is one worker of a
MultiWorkerMirroredStrategy cluster training the tiny synthetic translator for 2 epochs
into OUT/run; it records the epochs it trained and its final weights in OUT/worker-<i>.npz.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

from kdl_transformer import distribute

TRANSLATOR = dict(synthetic_pairs=800, batch_size=32, dropout=0.0, token_dropout=0.0,
                  average_best=0, warmup_steps=10)
CLASSIFIER = dict(batch_size=32, dropout=0.0, head_dropout=0.0, epochs=1, average_best=0)


def _callbacks():
    import keras

    class Record(keras.callbacks.Callback):
        """Per-step logged losses, the epochs trained in this session, first and last weights."""

        def __init__(self):
            super().__init__()
            self.losses, self.epochs = [], []

        def on_train_begin(self, logs=None):
            self.initial = self.model.get_weights()
            self.names = [w.path for w in self.model.weights]

        def on_train_end(self, logs=None):  # after the best weights are restored
            self.final = self.model.get_weights()

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(epoch)

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    return Record()


def translator_run(out, strategy, epochs=1, extra_callbacks=()):
    from kdl_transformer.configs import TranslatorConfig
    from kdl_transformer.workflows import translator

    config = TranslatorConfig.demo(epochs=epochs, **TRANSLATOR)
    splits = translator.load_splits(config)
    keep = len(splits["train"]) // config.batch_size * config.batch_size  # full batches only
    splits["train"] = splits["train"][:keep]
    record = _callbacks()
    translator.train_run(out, config, splits, verbose=0, strategy=strategy,
                         extra_callbacks=[record, *extra_callbacks])
    return record


def classifier_run(out, strategy):
    from kdl_transformer.configs import ClassifierConfig
    from kdl_transformer.datasets import make_reviews
    from kdl_transformer.workflows import classifier

    config = ClassifierConfig.demo(**CLASSIFIER)
    texts, labels = make_reviews(640, seed=0)
    record = _callbacks()
    classifier.fit_classifier(
        config, (texts[:512], labels[:512]), (texts[512:], labels[512:]), out, verbose=0,
        strategy=strategy, extra_callbacks=[record],
    )
    return record


def replicas(out):
    distribute.configure_cpu_devices(2)
    import tensorflow as tf

    arrays = {}
    for name, strategy in (("one", distribute.make_strategy("one-device")),
                           ("two", distribute.make_strategy("mirrored"))):
        for model, run in (("translator", translator_run), ("classifier", classifier_run)):
            record = run(out / f"{model}-{name}", strategy)
            arrays[f"{model}_{name}_losses"] = np.array(record.losses)
            for i, w in enumerate(record.final):
                arrays[f"{model}_{name}_weight{i}"] = w
            if name == "one":
                arrays.update({f"{model}_init_weight{i}": w for i, w in enumerate(record.initial)})
                names = [{"path": path} for path in record.names]
                (out / f"{model}_weights.json").write_text(json.dumps(names))
        arrays[f"{name}_replicas"] = np.array(strategy.num_replicas_in_sync)
    assert tf.config.list_logical_devices("CPU")[1]
    np.savez(out / "replicas.npz", **arrays)


def worker(out, stop_after_epoch=None):
    import keras

    strategy = distribute.make_strategy("multi-worker")
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]

    class Stop(keras.callbacks.Callback):  # a crash after an epoch (its backup written)
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == stop_after_epoch:
                os._exit(3)

    record = translator_run(out / "run", strategy, epochs=2, extra_callbacks=[Stop()])
    np.savez(out / f"worker-{index}.npz", epochs=np.array(record.epochs),
             chief=np.array(distribute.is_chief(strategy)),
             **{f"weight{i}": w for i, w in enumerate(record.final)})


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if mode == "replicas":
        replicas(out)
    else:
        stop = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--stop-after-epoch" else None
        worker(out, stop)
