"""The command line: help, and user errors as one sentence with exit code 2."""

import subprocess
import sys

import pytest

from kdl_transformer import cli


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "kdl_transformer", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("demo", "train", "evaluate", "export", "attention", "predict", "translate"):
        assert command in result.stdout


def test_malformed_override_is_one_clear_error(capsys):
    assert cli.main(["train", "classifier", "--set", "embed_dim"]) == 2
    assert "is not of the form key=value" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["evaluate", "classifier"], ["predict"], ["translate"]])
def test_missing_run_directory_is_a_clear_error(tmp_path, capsys, argv):
    missing = tmp_path / "no-such-run"
    args = argv[:1] + argv[1:] + [str(missing)] + ([] if argv[0] == "evaluate" else ["hello"])
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
