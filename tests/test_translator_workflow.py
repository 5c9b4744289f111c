"""Translator workflows: quick training, evaluation, resuming, config checks, demo, real data."""

import json

import keras
import pytest

from kdl_transformer import training
from kdl_transformer.models.translator import TranslatorConfig
from kdl_transformer.workflows import translator as workflow

SYNTHETIC = {"dataset": "synthetic", "synthetic_pairs": "500"}


def test_quick_train_and_evaluate_on_synthetic_pairs(tmp_path):
    metrics = workflow.train(tmp_path, epochs=1, quick=True, overrides=SYNTHETIC)
    assert metrics["epochs_trained"] == 1 and metrics["train_seconds"] > 0
    assert metrics["parameters"] > 0 and metrics["train_pairs"] == 400
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["dataset"] == "synthetic" and config["embed_dim"] == 32
    results = workflow.evaluate(tmp_path, quick=True)
    for method in ("greedy", "beam"):
        scores = results["synthetic_test"][method]
        assert 0 <= scores["chrf"] <= 100 and "bleu_13a" in scores and "bleu_char" in scores
        analysis = scores["error_analysis"]
        assert analysis["search_errors"] + analysis["model_errors"] == analysis["errors"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["evaluation"]["synthetic_test"]["beam"]["samples"]
    assert "tok:13a" in saved["evaluation"]["synthetic_test"]["beam"]["signatures"]["bleu_13a"]
    assert workflow.translate(tmp_path, ["The cat eats an apple."], method="greedy")[0] is not None
    png = workflow.attention(tmp_path, "The cat eats an apple.", tmp_path / "attention.png")
    assert png.exists() and (tmp_path / "attention_self.png").exists()


class _StopAtEpoch(keras.callbacks.Callback):
    """Simulates a killed job: raises at the start of `epoch` (after earlier epochs were backed up)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated interruption")


def test_interrupted_training_resumes_without_losing_epochs(tmp_path):
    config = TranslatorConfig.quick(dataset="synthetic", synthetic_pairs=300, epochs=3, patience=5)
    splits = workflow.load_splits(config)
    with pytest.raises(RuntimeError, match="simulated interruption"):
        workflow.train_run(tmp_path, config, splits, verbose=0, extra_callbacks=[_StopAtEpoch(2)])
    first = json.loads((tmp_path / "history.json").read_text())
    assert len(first["loss"]) == 2 and (tmp_path / "backup").exists()
    workflow.train_run(tmp_path, config, splits, verbose=0)
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 3  # epochs 1-2 kept, only epoch 3 trained
    assert history["loss"][:2] == first["loss"]


def test_a_run_directory_refuses_a_different_config(tmp_path):
    config = TranslatorConfig.quick(dataset="synthetic")
    training.save_config(tmp_path, config)
    other = TranslatorConfig.quick(dataset="synthetic", embed_dim=64)
    with pytest.raises(ValueError, match="different settings \\(embed_dim\\)"):
        workflow.train_run(tmp_path, other, {"train": [], "validation": []})


def test_quick_mode_from_environment(monkeypatch):
    monkeypatch.delenv("KDL_QUICK", raising=False)
    assert not workflow.is_quick()
    monkeypatch.setenv("KDL_QUICK", "1")
    assert workflow.is_quick()
    assert workflow.make_config(workflow.is_quick()).embed_dim == TranslatorConfig.quick().embed_dim


def test_overrides_are_parsed_by_field_type():
    config = workflow.make_config(overrides={"embed_dim": "128", "dropout": "0.25", "extra_data": "true"})
    assert (config.embed_dim, config.dropout, config.extra_data) == (128, 0.25, True)
    with pytest.raises(ValueError, match="no field 'depth'"):
        workflow.make_config(overrides={"depth": "3"})


def test_demo_writes_the_cross_attention_png(tmp_path, capsys):
    config = TranslatorConfig.demo(synthetic_pairs=400, epochs=1)
    result = workflow.demo(tmp_path, config=config, verbose=0)
    assert 0.0 <= result["exact_match"] <= 1.0
    assert (tmp_path / "cross_attention.png").exists()
    assert "exact match" in capsys.readouterr().out


@pytest.mark.data
def test_quick_run_on_tatoeba_and_flores(tmp_path, data_dir):
    metrics = workflow.train(tmp_path, data_dir=data_dir, epochs=1, quick=True)
    assert metrics["train_pairs"] == workflow.QUICK_TRAIN_PAIRS
    results = workflow.evaluate(tmp_path, data_dir=data_dir, quick=True)
    assert set(results) == {"tatoeba_test", "flores_devtest"}
    assert results["flores_devtest"]["beam"]["sentences"] == workflow.QUICK_EVAL_PAIRS["flores_devtest"]
