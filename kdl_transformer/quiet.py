"""Quiet TensorFlow's C++ start-up log lines: call `quiet_tensorflow_logs()` before importing TensorFlow.

Importing TensorFlow 2.21 writes lines such as these to the process's stderr (file descriptor 2,
so they also land in Jupyter cells), before any Python code can intervene:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796152318.652158   11268 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796152318.652459   11268 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    I0000 00:00:1796152318.699235   11268 cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...
    E0000 00:00:1796152559.373083   14079 cuda_platform.cc:52] failed call to cuInit: ...   (no GPU)

What silences each (measured with TensorFlow 2.21 on Linux):

- `TF_CPP_MIN_LOG_LEVEL` (read once, when TensorFlow loads: setting it later does nothing)
  silences TensorFlow's own log calls: `cpu_feature_guard.cc` (at 1) and the runtime INFO and
  WARNING lines of training (at 2). It does not silence the absl lines written while TensorFlow's
  libraries load (the `absl::InitializeLog()` banner, `port.cc`, `cudart_stub.cc`, printed twice:
  `libtensorflow_framework.so.2` and `_pywrap_profiler_plugin.so` each carry a copy), and nor do
  `ABSL_MIN_LOG_LEVEL` (a compile-time macro of absl, not a variable), `GLOG_minloglevel` or
  `TF_CPP_MAX_VLOG_LEVEL`. absl writes everything to stderr until `absl::InitializeLog()` is
  called, which Python cannot do.
- `TF_ENABLE_ONEDNN_OPTS=0` removes the `port.cc` line by turning oneDNN off, which changes
  numerics and speed: not used here.

So `quiet_tensorflow_logs()` sets `TF_CPP_MIN_LOG_LEVEL` (unless the user already has) and imports
TensorFlow with file descriptor 2 captured, then writes back every captured line except the log
lines below that level (and the absl banner). Everything printed after it returns is left alone.

Later C++ lines that no setting reaches can be filtered the same way, around the call that prints
them, with `filtered_stderr()`:

- SentencePiece inside `tensorflow_text` (its own logger, no option, no environment variable)
  prints `normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty. use identity normalization.`
  once per tokenizer model, when it is first used;
- `E0000 ... util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512. Falling back
  to the default Eigen-based implementation ...`, once per process, at the first non-float
  Transpose (a ragged `tf.concat(..., axis=1)` makes one), whatever the CPU: counted as INFO.

SentencePiece's trainer, which logs through absl, is quieted by its `minloglevel` option (see
`kdl_transformer.text.subword_tokenizer`).

Importing `kdl_transformer` changes nothing: the command line (`kdl_transformer.cli`) and the
notebooks' first cell call `quiet_tensorflow_logs()` themselves.
"""

import contextlib
import os
import re
import sys
import tempfile

__all__ = [
    "DEFAULT_LOG_LEVEL", "LOG_LEVEL_VARIABLE", "filtered_stderr", "is_log_noise", "quiet_tensorflow_logs",
]

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "2"  # 0: everything, 1: no INFO, 2: no INFO nor WARNING, 3: no ERROR either

_SEVERITIES = ("INFO", "WARNING", "ERROR", "FATAL")
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# absl / glog: "I0000 00:00:1796152318.652158   11268 port.cc:153] message" (seconds since 1970
# before absl knows the time zone, "I0512 14:03:07.123456" after)
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+(?:\.\d+)?\s+\d+ [^\s\]]+:\d+\] ")
# SentencePiece's own logger: "normalizer.cc(51) LOG(INFO) message"
_SENTENCEPIECE_LINE = re.compile(r"^[\w.+-]+\.(?:cc|h)\(\d+\) LOG\((INFO|WARNING|ERROR|FATAL)\) ")
# Notes, whatever their severity letter: no usable GPU on this machine; a oneDNN kernel falls back
# to Eigen for a non-float dtype (results unchanged).
_INFO_LIKE = re.compile(
    r"cudart_stub\.cc:\d+\] "
    r"|cuda_(?:platform|executor|diagnostics)\.cc:\d+\] failed call to cuInit"
    r"|util\.cc:\d+\] oneDNN supports \w+ only on platforms with AVX-512"
)
# Lines that start something new rather than continue the log message above them.
_NEW_RECORD = re.compile(r"^(?:Traceback |\S.*:\d+: \w*Warning: )")


def _log_level():
    try:
        return int(os.environ.get(LOG_LEVEL_VARIABLE, "0"))
    except ValueError:
        return 0


def _severity(line):
    """0-3 (INFO-FATAL) for a C++ log line, None for any other line."""
    if line.rstrip("\r\n") == _ABSL_BANNER:
        return 0
    match = _ABSL_LINE.match(line)
    if match:
        return 0 if _INFO_LIKE.search(line) else "IWEF".index(match.group(1))
    match = _SENTENCEPIECE_LINE.match(line)
    if match:
        return _SEVERITIES.index(match.group(1))
    return None


def is_log_noise(line, level=None):
    """Whether `line` is a C++ log line below log `level` (default: $TF_CPP_MIN_LOG_LEVEL, else 0).

    Only absl-formatted lines (`I0000 00:00:... file.cc:123] ...`), absl's pre-init banner and
    SentencePiece's `file.cc(123) LOG(INFO) ...` lines can be noise; any other line is kept.
    The lines about an absent GPU and oneDNN's dtype fallback count as INFO.
    """
    level = _log_level() if level is None else int(level)
    severity = _severity(line)
    return severity is not None and severity < level


def _drop_noise(text, level):
    """`text` without its log noise lines (and the continuation lines of those messages)."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if _severity(line) is not None or _NEW_RECORD.match(line):
            dropping = is_log_noise(line, level)
        if not dropping:  # a line of neither kind continues the message above it
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr(level=None):
    """Capture file descriptor 2 while the block runs, then write back what is not log noise.

    `level` defaults to $TF_CPP_MIN_LOG_LEVEL (unset: 0, which keeps everything). For short
    blocks only: what the block writes to stderr appears when it ends.
    """
    level = _log_level() if level is None else int(level)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()  # Python's own writes to fd 2 during the block
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = _drop_noise(capture.read().decode("utf-8", errors="replace"), level)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def quiet_tensorflow_logs(level=DEFAULT_LOG_LEVEL):
    """Import TensorFlow without its C++ start-up log lines. Call it before importing TensorFlow.

    Sets `TF_CPP_MIN_LOG_LEVEL` to `level` unless it is already set (the user's value wins:
    `TF_CPP_MIN_LOG_LEVEL=0` shows everything), then imports TensorFlow and lists its GPUs
    inside `filtered_stderr()`. Numerics are unchanged (oneDNN stays on) and TensorFlow's
    runtime is not initialised (devices and threads can still be configured).

    Returns True if it did so; False, changing nothing, if TensorFlow was already imported (its
    start-up lines are then printed already and its log level is fixed).
    """
    if "tensorflow" in sys.modules:
        return False
    os.environ.setdefault(LOG_LEVEL_VARIABLE, str(level))
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the cuInit attempt, and its error without a GPU
    return True
