"""No C++ log noise: importing the package changes nothing, the command line prints no start-up lines.

The subprocesses run without the log variables that conftest.py (or the caller) may have set, so
what they print is what a user with a plain environment sees.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kdl_transformer import quiet

REPOSITORY = Path(__file__).resolve().parent.parent
LOG_VARIABLES = ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "TF_CPP_VMODULE")

# What must never reach a user (written here independently of kdl_transformer.quiet's patterns).
NOISE = [
    re.compile(pattern)
    for pattern in (
        r"absl::InitializeLog",
        r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\]",  # any absl/glog-formatted line
        r"port\.cc|oneDNN custom operations",
        r"cudart_stub\.cc|Could not find cuda drivers|cuInit",
        r"cpu_feature_guard\.cc|This TensorFlow binary is optimized|To enable the following instructions",
        r"normalizer\.cc|trainer_interface\.cc|sentencepiece_trainer\.cc|LOG\((INFO|WARNING)\)",
    )
]


def plain_environment():
    return {key: value for key, value in os.environ.items() if key not in LOG_VARIABLES}


def run_python(code, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
        env=plain_environment(), cwd=REPOSITORY,
    )


def noise_lines(*outputs):
    return [line for output in outputs for line in output.splitlines() if any(p.search(line) for p in NOISE)]


def test_importing_the_package_leaves_the_environment_and_tensorflow_alone():
    result = run_python(textwrap.dedent("""
        import os, sys
        before = dict(os.environ)
        import kdl_transformer
        assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "import loaded TensorFlow"
        assert callable(kdl_transformer.quiet_tensorflow_logs)
        print("ok")
    """))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_help_is_fast_and_clean():
    script = Path(sys.executable).with_name("kdl-transformer")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kdl_transformer"]
    result = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=120, env=plain_environment(),
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout and result.stderr == ""
    assert noise_lines(result.stdout, result.stderr) == []


def test_a_command_that_loads_tensorflow_prints_only_its_one_line_error(tmp_path):
    # Exactly what the `kdl-transformer` console script runs, plus a check that TensorFlow loaded.
    result = run_python(
        textwrap.dedent("""
            import sys
            from kdl_transformer.cli import main
            code = main(sys.argv[1:])
            print("tensorflow loaded:", "tensorflow" in sys.modules)
            sys.exit(code)
        """),
        "predict", str(tmp_path / "no_such_run"), "A fine film.",
    )
    assert noise_lines(result.stdout, result.stderr) == []
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == "tensorflow loaded: True"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


# ------------------------------------------------------------------ the filter itself (no TensorFlow)
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
STARTUP = [
    BANNER,
    "I0000 00:00:1796152318.652158   11268 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1796152318.652459   11268 cudart_stub.cc:31] Could not find cuda drivers on your machine.",
    "I0000 00:00:1796152318.699235   11268 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI FMA, in other operations, rebuild.",
    "E0000 00:00:1796152559.373083   14079 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1796152988.250732   17867 util.cc:131] oneDNN supports DT_INT64 only on platforms with "
    "AVX-512. Falling back to the default Eigen-based implementation if present.",
    "normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty. use identity normalization.",
    "W0512 14:03:07.123456   11268 some_op.cc:12] a warning",
]
KEPT = [
    "E0000 00:00:1796152559.373083   14079 some_kernel.cc:52] a real error",
    "/work/x.py:3: UserWarning: a Python warning",
    "  warnings.warn(message)",
    "Traceback (most recent call last):",
    "plain text",
]


def test_level_2_drops_the_startup_lines_and_keeps_errors_and_python_output():
    text = "\n".join(STARTUP[:5] + KEPT[:3] + STARTUP[5:] + KEPT[3:]) + "\n"
    assert quiet._drop_noise(text, 2) == "\n".join(KEPT) + "\n"
    assert all(quiet.is_log_noise(line, 2) for line in STARTUP if not line.startswith("To enable"))
    assert not any(quiet.is_log_noise(line, 2) for line in KEPT)


def test_level_0_keeps_everything_and_level_3_drops_errors_too():
    text = "\n".join(STARTUP + KEPT) + "\n"
    assert quiet._drop_noise(text, 0) == text
    assert not quiet.is_log_noise(KEPT[0], 2) and quiet.is_log_noise(KEPT[0], 3)


def test_filtered_stderr_filters_file_descriptor_2(capfd):
    with quiet.filtered_stderr(level=2):
        os.write(2, ("kept line\n" + "\n".join(STARTUP) + "\n" + KEPT[0] + "\n").encode())
        print("python stderr", file=sys.stderr)
    # (pytest's capfd takes Python's sys.stderr writes apart from fd 2: their order is its own)
    assert sorted(capfd.readouterr().err.splitlines()) == sorted(["kept line", KEPT[0], "python stderr"])


def test_quiet_tensorflow_logs_is_a_no_op_once_tensorflow_is_loaded(monkeypatch):
    pytest.importorskip("tensorflow")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert quiet.quiet_tensorflow_logs() is False
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
