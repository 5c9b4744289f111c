"""The command line: help, user errors as one sentence with exit code 2, and the beam settings of
`translate` / `evaluate translator` (default: the run's config)."""

import json
import subprocess
import sys

import pytest

from kdl_transformer import cli


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "kdl_transformer", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("demo", "train", "pretrain", "evaluate", "export", "attention", "predict",
                    "translate"):
        assert command in result.stdout


def test_malformed_override_is_one_clear_error(capsys):
    assert cli.main(["train", "classifier", "--set", "embed_dim"]) == 2
    assert "is not of the form key=value" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["pretrain", "bert", "--quick", "--set", "nsp=maybe"],
    ["pretrain", "bert", "--quick", "--set", "mask_rate=1.5"],
    ["train", "classifier", "--quick", "--set", "pooling=cls"],
    ["train", "classifier", "--quick", "--set", "model=bert"],
])
def test_bad_pretraining_and_model_settings_are_one_clear_error(capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["evaluate", "classifier"], ["predict"], ["translate"]])
def test_missing_run_directory_is_a_clear_error(tmp_path, capsys, argv):
    missing = tmp_path / "no-such-run"
    args = argv[:1] + argv[1:] + [str(missing)] + ([] if argv[0] == "evaluate" else ["hello"])
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A one-epoch translator run on synthetic pairs whose config says beam_size=3, alpha 0.7."""
    from kdl_transformer.workflows import translator as workflow

    run_dir = tmp_path_factory.mktemp("tiny_translator")
    overrides = {"dataset": "synthetic", "synthetic_pairs": "300", "beam_size": "3",
                 "length_penalty": "0.7"}
    workflow.train(run_dir, epochs=1, quick=True, overrides=overrides)
    return run_dir


@pytest.fixture
def beam_settings(monkeypatch):
    """Records the (beam_size, length_penalty) each beam search really runs with."""
    from kdl_transformer.translator import Translator

    calls, search = [], Translator.search

    def recording_search(self, texts, method="greedy", beam_size=None, length_penalty=None,
                         max_length=None, no_repeat_ngram_size=None):
        if method == "beam":
            calls.append((self.beam_size if beam_size is None else beam_size,
                          self.length_penalty if length_penalty is None else length_penalty))
        return search(self, texts, method, beam_size, length_penalty, max_length,
                      no_repeat_ngram_size)

    monkeypatch.setattr(Translator, "search", recording_search)
    return calls


def test_translate_defaults_to_the_runs_beam_settings(tiny_run, beam_settings):
    assert cli.main(["translate", str(tiny_run), "The cat eats an apple."]) == 0
    assert cli.main(["translate", str(tiny_run), "The cat eats an apple.", "--beam-size", "2",
                     "--length-penalty", "0"]) == 0
    assert beam_settings == [(3, 0.7), (2, 0.0)]


def test_evaluate_translator_defaults_to_the_runs_beam_settings(tiny_run, beam_settings, capsys):
    assert cli.main(["evaluate", "translator", str(tiny_run), "--quick"]) == 0
    assert set(beam_settings) == {(3, 0.7)}
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["evaluation_search"] == {"beam_size": 3, "length_penalty": 0.7,
                                            "no_repeat_ngram_size": 3}


def test_bad_beam_settings_are_one_clear_error(tiny_run, capsys):
    assert cli.main(["translate", str(tiny_run), "hello", "--length-penalty", "-0.5"]) == 2
    err = capsys.readouterr().err
    assert "length_penalty=-0.5 must be >= 0" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["evaluate", "classifier", str(tiny_run), "--beam-size", "2"]) == 2
    assert "apply to `evaluate translator` only" in capsys.readouterr().err
    assert cli.main(["translate", str(tiny_run), "hello", "--no-repeat-ngram", "-2"]) == 2
    assert "no_repeat_ngram_size=-2 must be a whole number" in capsys.readouterr().err


def test_preset_is_for_the_translator_and_sets_its_own_epochs(capsys):
    from kdl_transformer.workflows.translator_presets import PRESETS

    assert cli.PRESETS == tuple(PRESETS)
    assert cli.main(["train", "classifier", "--preset", "extra"]) == 2
    assert "--preset applies to `train translator` only" in capsys.readouterr().err
    assert cli.main(["train", "translator", "--preset", "extra", "--epochs", "3"]) == 2
    assert "--epochs does not apply with --preset" in capsys.readouterr().err


def test_train_translator_sets_the_architecture(tmp_path, capsys):
    """`--set architecture=gru`: the context-vector GRU trains, translates, and says it has no map."""
    run_dir = tmp_path / "gru"
    argv = ["train", "translator", "--quick", "--epochs", "1", "--out", str(run_dir),
            "--set", "dataset=synthetic", "--set", "synthetic_pairs=300", "--set", "architecture=gru"]
    assert cli.main(argv) == 0
    assert json.loads((run_dir / "config.json").read_text())["architecture"] == "gru"
    assert cli.main(["translate", str(run_dir), "The cat eats an apple."]) == 0
    capsys.readouterr()
    assert cli.main(["attention", "translator", str(run_dir), "The cat eats an apple.",
                     "--out", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "no attention map" in err and len(err.strip().splitlines()) == 1
    assert cli.main(argv[:-1] + ["architecture=lstm"]) == 2
    assert "architecture='lstm' is not one of" in capsys.readouterr().err
