"""Helpers every benchmark uses: machine description and writing the JSON result."""

import datetime
import json
import os
import platform
import resource
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine():
    import keras
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    }


def peak_rss_mb():
    """Peak resident memory of this process so far (or since `reset_peak_rss`), in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss():
    """Reset the kernel's peak-RSS counter (Linux), so `peak_rss_mb` measures from now on."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def measured_now():
    """This command and the time now, stamped on each entry of a result merged over several runs."""
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def merge_entries(name, key, entries, order, keep_earlier=True):
    """`entries` over those already under `key` in results/NAME.json, sorted as `order`.

    Each entry of `entries` gets `measured` (`measured_now()`); earlier entries keep theirs.
    `keep_earlier` is a bool or a function of the earlier result (say, "was it measured under
    this protocol?"); where it is false, earlier entries are dropped.
    """
    entries = {entry: {**value, "measured": measured_now()} for entry, value in entries.items()}
    path = RESULTS / f"{name}.json"
    earlier = json.loads(path.read_text()) if path.exists() else None
    if callable(keep_earlier) and earlier is not None:
        keep_earlier = keep_earlier(earlier)
    if keep_earlier and earlier is not None:
        entries = {**earlier.get(key, {}), **entries}
    return dict(sorted(entries.items(), key=lambda item: order.index(item[0])))


def write_result(name, result):
    """Print `result` as JSON and save it to benchmarks/results/NAME.json with command, date, machine."""
    payload = {
        "benchmark": name,
        **measured_now(),
        "machine": machine(),
        **result,
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(text + "\n")
    return payload
