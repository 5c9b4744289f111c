"""Training under tf.distribute: replicas, multi-worker, precision (`kdl_transformer.distribute`).

The runs with several replicas or workers go through `tests/distributed_runs.py` in processes
of their own: logical CPU devices and MultiWorkerMirroredStrategy must be set up before
TensorFlow starts, which this pytest process did long ago.
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from kdl_transformer import distribute

SCRIPT = Path(__file__).with_name("distributed_runs.py")
TIMEOUT = 300  # seconds, per process


def _run(*args, env=None):
    return subprocess.Popen([sys.executable, str(SCRIPT), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(process):
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"{SCRIPT.name} ran past {TIMEOUT} s:\n{output[-3000:]}")
    return process.returncode, output


def _weights(arrays, prefix):
    count = len([k for k in arrays if k.startswith(prefix)])
    return [arrays[f"{prefix}{i}"] for i in range(count)]


def _relative_difference(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-12))


@pytest.fixture(scope="module")
def replica_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("replicas")
    code, output = _wait(_run("replicas", out))
    assert code == 0, output[-3000:]
    return out, np.load(out / "replicas.npz")


@pytest.mark.parametrize("model", ["translator", "classifier"])
def test_two_replicas_train_as_one_device(replica_runs, model):
    out, arrays = replica_runs
    assert int(arrays["one_replicas"]) == 1 and int(arrays["two_replicas"]) == 2
    one, two = arrays[f"{model}_one_losses"], arrays[f"{model}_two_losses"]
    assert len(one) == len(two) >= 10
    np.testing.assert_allclose(two, one, rtol=1e-4)  # the logged loss is not N times larger
    names = [w["path"] for w in json.loads((out / f"{model}_weights.json").read_text())]
    one_w, two_w = _weights(arrays, f"{model}_one_weight"), _weights(arrays, f"{model}_two_weight")
    assert len(names) == len(one_w) == len(two_w)
    compared = 0
    for name, a, b in zip(names, one_w, two_w):
        if name.endswith("key/bias"):
            # softmax ignores a bias added to every key: its exact gradient is 0, and Adam turns
            # the round-off left in it into steps of random sign. The outputs do not depend on it.
            continue
        assert _relative_difference(a, b) < 1e-4, name
        assert not np.allclose(a, arrays[f"{model}_init_weight{names.index(name)}"]), name
        compared += 1
    assert compared >= 0.8 * len(names)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster(out, *args):
    """Run 2 workers of one MultiWorkerMirroredStrategy cluster on 127.0.0.1; both reaped."""
    ports = [_free_port(), _free_port()]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                  "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config))
        processes.append(_run("worker", out, *args, env=env))
    try:
        return [_wait(process) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_multi_worker_training_resumes_and_only_the_chief_writes(tmp_path):
    # The non-chief worker's scratch copy of this run (other test sessions may have their own).
    key = hashlib.sha1(str((tmp_path / "run").resolve()).encode()).hexdigest()[:12]
    results = _cluster(tmp_path, "--stop-after-epoch", "1")  # both crash after epoch 1
    assert [code for code, _ in results] == [3, 3], results[0][1][-3000:]
    run = tmp_path / "run"
    assert (run / "backup").is_dir() and len(json.loads((run / "history.json").read_text())["loss"]) == 1

    results = _cluster(tmp_path)  # the same command again
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    workers = [np.load(tmp_path / f"worker-{i}.npz") for i in range(2)]
    assert [bool(w["chief"]) for w in workers] == [True, False]
    for worker in workers:
        assert worker["epochs"].tolist() == [1]  # resumed at epoch 2; epoch 1 was not redone
    for a, b in zip(_weights(workers[0], "weight"), _weights(workers[1], "weight")):
        np.testing.assert_array_equal(a, b)
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    for name in ("config.json", "model.keras", "metrics.json", "learning_curves.png", "logs"):
        assert (run / name).exists(), name
    assert not (run / "backup").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 2 and metrics["replicas"] == 2
    assert not list(Path(tempfile.gettempdir()).glob(f"kdl-worker-{key}-*"))  # removed


# ---------------------------------------------------------------------------- in this process
def test_strategy_names_and_errors():
    import tensorflow as tf

    from kdl_transformer import cli

    tf.zeros(1)  # TensorFlow has started its devices, as it has in any process that used it

    assert cli.STRATEGIES == distribute.STRATEGIES
    with pytest.raises(ValueError, match="strategy='tpu' is not one of"):
        distribute.make_strategy("tpu")
    with pytest.raises(ValueError, match="cpu_devices=0 must be at least 1"):
        distribute.configure_cpu_devices(0)
    with pytest.raises(RuntimeError, match="already started with 1 CPU device"):
        distribute.make_strategy("mirrored", cpu_devices=3)  # TensorFlow runs already here
    default = distribute.make_strategy("auto")
    assert default.num_replicas_in_sync == 1 and distribute.is_chief(default)
    assert distribute.worker_count(default) == 1 and not distribute.replica_batches(default)


def test_cli_passes_strategy_and_devices(monkeypatch):
    from kdl_transformer import cli
    from kdl_transformer.workflows import translator

    seen = {}
    monkeypatch.setattr(translator, "train", lambda **kwargs: seen.update(kwargs))
    assert cli.main(["train", "translator", "--strategy", "mirrored", "--cpu-devices", "2",
                     "--set", "precision=mixed_bfloat16"]) == 0
    assert seen["strategy"] == "mirrored" and seen["cpu_devices"] == 2
    assert seen["overrides"] == {"precision": "mixed_bfloat16"}


def test_precision_is_checked():
    from kdl_transformer.configs import ClassifierConfig, TranslatorConfig

    for config in (ClassifierConfig, TranslatorConfig):
        with pytest.raises(ValueError, match="precision='float16' is not one of"):
            config(precision="float16")


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_translator_trains_saves_and_reloads_in_mixed_precision(tmp_path, precision):
    import keras

    from kdl_transformer.configs import TranslatorConfig
    from kdl_transformer.workflows import translator

    config = TranslatorConfig.demo(synthetic_pairs=400, epochs=1, precision=precision)
    trained = translator.train_run(tmp_path, config, translator.load_splits(config), verbose=0)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    optimizer = trained.model.optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    history = json.loads((tmp_path / "history.json").read_text())
    assert np.isfinite(history["loss"]).all()

    loaded = translator.load_translator(tmp_path)  # what `translate` and `evaluate` use
    assert translator.training.load_config(tmp_path, TranslatorConfig).precision == precision
    policies = {layer.dtype_policy.name for layer in loaded.model._flatten_layers()}
    assert precision in policies
    assert all(v.dtype == "float32" for v in loaded.model.weights)
    sentence = translator.load_splits(config)["test"][0][0]
    assert loaded.translate([sentence], method="greedy") == trained.translate([sentence], method="greedy")


def test_classifier_trains_in_mixed_bfloat16(tmp_path):
    import keras

    from kdl_transformer.configs import ClassifierConfig
    from kdl_transformer.datasets import make_reviews
    from kdl_transformer.workflows import classifier

    config = ClassifierConfig.demo(epochs=1, precision="mixed_bfloat16")
    texts, labels = make_reviews(256, seed=0)
    text_model, history = classifier.fit_classifier(
        config, (texts[:192], labels[:192]), (texts[192:], labels[192:]), tmp_path, verbose=0
    )
    assert np.isfinite(history["loss"]).all()
    reloaded = classifier.load_text_classifier(tmp_path)
    assert any(l.dtype_policy.name == "mixed_bfloat16" for l in reloaded._flatten_layers())
    probabilities = classifier.predict_texts(reloaded, texts[:4])
    assert probabilities.dtype == np.float32 and ((0 <= probabilities) & (probabilities <= 1)).all()
    assert keras.config.dtype_policy().name == "float32"
