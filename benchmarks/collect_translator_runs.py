"""Gather the evaluations of several translator run directories into one JSON (an ablation table).

Each run directory must have been evaluated with `kdl-transformer evaluate translator RUN_DIR`,
which writes the scores into its metrics.json; this script only reads them.

    python benchmarks/collect_translator_runs.py runs/translator runs/translator_small ...
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import write_result  # noqa: E402

from kdl_transformer import training  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--name", default="translator_runs")
    args = parser.parse_args()
    runs = {}
    for path in args.run_dirs:
        run = training.RunDir(path)
        config, metrics = run.read_json("config.json"), run.read_json("metrics.json")
        runs[path] = {
            "config": config,
            "parameters": metrics.get("parameters"),
            "train_seconds": metrics.get("train_seconds"),
            "epochs_trained": metrics.get("epochs_trained"),
            "best_val_loss": metrics.get("best_val_loss"),
            "scores": {
                name: {method: {k: s[k] for k in ("chrf", "bleu_13a", "bleu_char", "exact_match")}
                       | {"search_error_share": s["error_analysis"]["search_error_share"]}
                       for method, s in by_method.items()}
                for name, by_method in metrics["evaluation"].items()
            },
        }
    write_result(args.name, {"runs": runs, "note": "scores read from each run's metrics.json, "
                             "written by `kdl-transformer evaluate translator RUN_DIR`"})


if __name__ == "__main__":
    main()
