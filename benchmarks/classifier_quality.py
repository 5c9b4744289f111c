"""IMDB classifier quality and cost: test accuracy, training time, throughput, memory (JSON).

    # Report on a finished run (trains it first when RUN_DIR holds no finished training):
    python benchmarks/classifier_quality.py --run-dir runs/imdb [--data-dir DIR] [--set key=value ...]

    # Size a configuration before a full run: time training epochs on a slice of real reviews,
    # with and without XLA, and project the time of one full epoch:
    python benchmarks/classifier_quality.py --slice-timing 640 [--set sequence_length=400 ...]

Writes benchmarks/results/classifier_quality.json (classifier_quality_quick.json with
--quick, classifier_epoch_time.json with --slice-timing) with command, date and machine.
Not part of CI: a full run takes about half an hour on 2 CPU cores.
"""

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import peak_rss_mb, write_result  # noqa: E402

# Published results on the official 25,000-review test set (see the project's ANCHORS.md).
ANCHORS = {
    "dlwp_transformer_book": 0.883,
    "dlwp_transformer_keras3_rerun": 0.878,
    "dlwp_bag_of_bigrams": 0.899,
    "keras_io_transformer": 0.8745,
    "nbsvm_bigrams": 0.912,
}


def _parse_overrides(pairs):
    overrides = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        overrides[key.strip()] = value.strip()
    return overrides


def quality(args, overrides):
    from kdl_transformer import training
    from kdl_transformer.configs import ClassifierConfig
    from kdl_transformer.workflows import classifier as workflow

    run_dir = Path(args.run_dir)
    trained_here = not training.is_finished(run_dir)
    if trained_here:
        workflow.train(run_dir, data_dir=args.data_dir, quick=args.quick, overrides=overrides,
                       epochs=args.epochs, verbose=2)
    train_peak_mb = peak_rss_mb() if trained_here else None
    metrics = workflow.evaluate(run_dir, data_dir=args.data_dir, quick=args.quick)
    saved = training.RunDir(run_dir).read_json("metrics.json")
    history = training.RunDir(run_dir).read_json("history.json")
    config = training.load_config(run_dir, ClassifierConfig)
    monitored = history[config.monitor]
    pick = min if config.monitor == "val_loss" else max
    best_epoch = pick(range(len(monitored)), key=monitored.__getitem__) + 1
    return {
        "run_dir": str(run_dir),
        "trained_in_this_process": trained_here,
        "test_accuracy": metrics["test_accuracy"],
        "test_loss": metrics["test_loss"],
        "test_examples": metrics["test_examples"],
        "test_confusion_matrix": metrics["test_confusion_matrix"],
        "epochs_trained": saved["epochs_trained"],
        "best_epoch": best_epoch,
        "val_accuracy_per_epoch": history.get("val_accuracy"),
        "val_loss_per_epoch": history.get("val_loss"),
        "checkpoint_average": saved.get("checkpoint_average"),
        "epoch_seconds": history.get("epoch_seconds"),
        "train_seconds": saved["train_seconds"],
        "train_examples": saved.get("train_examples"),
        "train_examples_per_second": saved.get("train_examples_per_second"),
        "inference_examples_per_second": metrics["inference_examples_per_second"],
        "peak_rss_mb_training": train_peak_mb,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "config": dataclasses.asdict(config),
        "anchors_test_accuracy": ANCHORS,
        "notes": "peak memory covers this process only; when the run was trained elsewhere it "
                 "measures evaluation alone (peak_rss_mb_training is then null).",
    }


def slice_timing(args, overrides):
    """Seconds per training example of the config on `n` real reviews, XLA off and on."""
    import math

    import keras

    from kdl_transformer import training
    from kdl_transformer.configs import ClassifierConfig
    from kdl_transformer.models.classifier import build_classifier
    from kdl_transformer.objectives import compile_classifier
    from kdl_transformer.workflows import classifier as workflow

    base = training.apply_overrides(ClassifierConfig(), overrides)
    splits = workflow.load_data(base, data_dir=args.data_dir)
    texts, labels = workflow._subset(splits["train"], args.slice_timing, base.seed)
    vectorizer = workflow.make_vectorizer(base, texts=splits["train"][0])
    ids = workflow.vectorize(vectorizer, texts)
    full_epoch_examples = len(splits["train"][0])
    rows = []
    for jit in (False, True):
        config = dataclasses.replace(base, jit_compile=jit)
        dataset = workflow.make_dataset(ids, labels, config.batch_size, shuffle=True, seed=0)
        model = compile_classifier(build_classifier(config), config,
                                   math.ceil(len(ids) / config.batch_size))
        model.fit(dataset.take(3), epochs=1, verbose=0)  # build and compile
        walls, cpus = [], []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(dataset, epochs=1, verbose=0)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        ms_per_example = 1000 * min(walls) / len(ids)
        rows.append({
            "jit_compile": jit,
            "ms_per_example_wall": round(ms_per_example, 2),
            "ms_per_example_cpu": round(1000 * min(cpus) / len(ids), 2),
            "projected_epoch_minutes": round(ms_per_example * full_epoch_examples / 60000, 2),
        })
        keras.backend.clear_session()
    return {
        "slice_examples": len(ids),
        "full_epoch_examples": full_epoch_examples,
        "repeats": args.repeats,
        "load_average_1min": os.getloadavg()[0],
        "timings": rows,
        "config": dataclasses.asdict(base),
        "notes": "minimum over repeats of one epoch on the slice; the machine may be shared "
                 "(see load_average_1min), so wall times are upper bounds.",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/imdb", help="run directory to report on (or train)")
    parser.add_argument("--data-dir", default=None, help="folder with aclImdb_v1.tar.gz")
    parser.add_argument("--quick", action="store_true", help="tiny subset and model (smoke test)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--slice-timing", type=int, metavar="N", default=None,
                        help="only time training epochs on N real reviews")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--name", default=None, help="result name: writes benchmarks/results/NAME.json")
    args = parser.parse_args()
    overrides = _parse_overrides(args.set)
    if args.slice_timing:
        write_result("classifier_epoch_time", slice_timing(args, overrides))
    else:
        name = args.name or ("classifier_quality_quick" if args.quick else "classifier_quality")
        write_result(name, quality(args, overrides))


if __name__ == "__main__":
    main()
