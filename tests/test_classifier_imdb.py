"""The classifier workflow on the real IMDB reviews, in quick mode (needs $KDL_DATA_DIR)."""

import json

import numpy as np
import pytest

from kdl_transformer import cli
from kdl_transformer.workflows import classifier as workflow

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def quick_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("imdb_quick")
    assert workflow.train(out, data_dir=data_dir, quick=True, verbose=0) == out
    return out


def test_quick_training_writes_a_complete_run_dir(quick_run):
    for name in ("config.json", "vocabulary.txt", "model.keras", "history.json", "metrics.json",
                 "learning_curves.png"):
        assert (quick_run / name).exists(), name
    config = json.loads((quick_run / "config.json").read_text())
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert config["kind"] == "ClassifierConfig" and config["epochs"] == 2
    assert metrics["train_examples"] == workflow.QUICK_SIZES["train"]
    assert metrics["epochs_trained"] == 2 and metrics["train_seconds"] > 0
    vocabulary = (quick_run / "vocabulary.txt").read_text().split("\n")
    assert vocabulary[:2] == ["", "[UNK]"] and "the" in vocabulary[:10]


def test_evaluate_writes_a_confusion_matrix(quick_run, data_dir):
    metrics = workflow.evaluate(quick_run, data_dir=data_dir, quick=True)
    matrix = np.array(metrics["test_confusion_matrix"])
    assert matrix.shape == (2, 2) and matrix.sum() == workflow.QUICK_SIZES["test"]
    assert matrix.sum(axis=1).tolist() == [128, 128]  # balanced quick test subset
    assert metrics["test_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    saved = json.loads((quick_run / "metrics.json").read_text())
    assert saved["test_confusion_matrix"] == metrics["test_confusion_matrix"]
    assert "train_seconds" in saved  # merged, not overwritten


def test_cli_predict_attention_and_bad_set(quick_run, tmp_path, capsys):
    assert cli.main(["predict", str(quick_run), "A wonderful film.", ""]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(0.0 <= float(line.split()[0]) <= 1.0 for line in lines)
    png = tmp_path / "attention.png"
    assert cli.main(["attention", "classifier", str(quick_run), "A wonderful film.", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert cli.main(["train", "classifier", "--out", str(tmp_path / "x"), "--quick",
                     "--set", "num_heads=3"]) == 2
    assert "does not divide" in capsys.readouterr().err
