"""IMDB test accuracy: the book's bag of bigrams, the Transformer from scratch, and BERT-style
pretraining (masked LM alone, and with next-sentence prediction) then fine-tuning.

    KDL_DATA_DIR=../shared/data python benchmarks/bert.py --out runs/bert_benchmark [--seeds 1337 2]
    python benchmarks/bert.py --quick                     # tiny models on slices, a few minutes
    python benchmarks/bert.py --step-timing 20 [--set dense_dim=1024 ...]   # size a pretraining
    ... --variants bigrams mlm_nsp [--poolings cls]    # some variants now, the others later

Variants, all trained on the same 23,750 training reviews and validated on the same 1,250
(`split_seed` 1337; the seeds vary the weights and the order):

    bigrams   `--set model=bigrams` with the book's training (RMSprop 1e-3, up to 10 epochs,
              best validation loss)
    scratch   the default classifier (`ClassifierConfig()`)
    mlm       `pretrain bert --set nsp=false`, then fine-tuning
    mlm_nsp   `pretrain bert`, then fine-tuning

Each pretraining runs once; its fine-tuning runs once per seed. Choices are made on the
validation reviews only: the pooling of the fine-tuned classifier ([CLS] or the mean of the
tokens) is the one with the better validation accuracy for the first seed, and the other
seeds use it. The official test set is read once per final run (a run's saved test result is
reused, never recomputed), never for a run that lost a choice. Runs are resumable and reused
once finished. Writes benchmarks/results/bert.json (bert_quick.json with --quick,
bert_step_time.json with --step-timing). `--variants` runs only those and keeps the other
variants already in the JSON, each entry with the command and date that measured it (the full
comparison does not fit one 3-hour session on 2 cores); `--poolings cls` fine-tunes one pooling
only, and the entry then says that no pooling was chosen on validation.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import merge_entries, write_result  # noqa: E402

SPLIT_SEED = 1337  # ClassifierConfig's and BertConfig's default: the split held out of pretraining
BIGRAMS_BOOK = dict(model="bigrams", optimizer="rmsprop", learning_rate=1e-3, schedule="constant",
                    epochs=10, patience=3, monitor="val_loss", average_best=0, token_dropout=0.0,
                    head_dropout=0.5)
FINETUNE = dict(truncation="head_tail", learning_rate=2e-4, head_dropout=0.1, dropout=0.1,
                batch_size=32, epochs=3)
POOLINGS = ("cls", "mean")
PRETRAINED = {"mlm": {"nsp": "false"}, "mlm_nsp": {"nsp": "true"}}
VARIANTS = ("bigrams", "scratch", *PRETRAINED)
ANCHORS = {"dlwp_bag_of_bigrams": 0.899, "dlwp_transformer_book": 0.883,
           "this_package_scratch_default": 0.884, "nbsvm_bigrams": 0.912}
TARGET = {"mean_test_accuracy": 0.895, "pretrain_minutes": 90}


def _parse_overrides(pairs):
    return dict(pair.split("=", 1) for pair in pairs or [])


class Runner:
    """Trains (or reuses) one classifier run directory and reads its validation and test results."""

    def __init__(self, out, data_dir, quick):
        from kdl_transformer.configs import ClassifierConfig
        from kdl_transformer.workflows import classifier

        self.out, self.data_dir, self.quick = Path(out), data_dir, quick
        self.classifier = classifier
        base = classifier.make_config(quick, overrides={"split_seed": str(SPLIT_SEED)})
        self.splits = classifier.load_data(base, data_dir, quick)  # one split for every run
        self.base_config = base
        self.config_class = ClassifierConfig

    def train(self, name, overrides):
        from kdl_transformer import training

        config = training.apply_overrides(self.base_config, {k: str(v) for k, v in overrides.items()})
        run_dir = self.out / name
        start = time.perf_counter()
        self.classifier.fit_classifier(config, self.splits["train"], self.splits["val"], run_dir,
                                       verbose=2)
        metrics = training.RunDir(run_dir).read_json("metrics.json")
        metrics["this_process_seconds"] = round(time.perf_counter() - start, 1)
        return run_dir, metrics

    def test(self, run_dir):
        """Test accuracy of a final run: its saved result, or one evaluation."""
        from kdl_transformer import training

        metrics = training.RunDir(run_dir).read_json("metrics.json")
        if "test_accuracy" not in metrics or metrics.get("test_quick") != bool(self.quick):
            metrics.update(self.classifier.evaluate(run_dir, self.data_dir, self.quick))
        return metrics


def _summary(runs):
    accuracies = [run["test_accuracy"] for run in runs]
    return {
        "test_accuracy": accuracies,
        "mean_test_accuracy": round(statistics.mean(accuracies), 4),
        "stdev_test_accuracy": round(statistics.stdev(accuracies), 4) if len(accuracies) > 1 else None,
        "best_validation": [{k: v for k, v in run.items() if k.startswith("best_val")} for run in runs],
        "train_seconds": [run["train_seconds"] for run in runs],
        "epochs_trained": [run["epochs_trained"] for run in runs],
        "run_dirs": [run["run_dir"] for run in runs],
    }


def _final(runner, name, overrides):
    run_dir, _ = runner.train(name, overrides)
    return {**runner.test(run_dir), "run_dir": str(run_dir)}


def compare(args):
    """The results of `args.variants`, by variant name."""
    from kdl_transformer import training
    from kdl_transformer.workflows import bert

    runner = Runner(args.out, args.data_dir, args.quick)
    seeds, results = args.seeds, {}
    quick_epochs = {"epochs": 2} if args.quick else {}
    if "bigrams" in args.variants:
        results["bigrams"] = _summary([
            _final(runner, f"bigrams/seed{seed}", {**BIGRAMS_BOOK, **quick_epochs, "seed": seed})
            for seed in seeds])
    if "scratch" in args.variants:
        results["scratch"] = _summary([_final(runner, f"scratch/seed{seed}", {"seed": seed})
                                       for seed in seeds])
    for name, pretraining in PRETRAINED.items():
        if name not in args.variants:
            continue
        pretrain_dir = Path(args.out) / f"pretrain_{name}"
        bert.pretrain(pretrain_dir, args.data_dir, quick=args.quick, verbose=2,
                      overrides={**pretraining, **args.pretrain_set})
        pretrained = training.RunDir(pretrain_dir).read_json("metrics.json")
        finetune = {**FINETUNE, "learning_rate": args.finetune_lr, **quick_epochs,
                    "init_from": str(pretrain_dir)}
        candidates = {pooling: runner.train(f"{name}/{pooling}_seed{seeds[0]}",
                                            {**finetune, "pooling": pooling, "seed": seeds[0]})
                      for pooling in args.poolings}  # chosen on validation only
        val = {pooling: metrics["best_val_accuracy"] for pooling, (_, metrics) in candidates.items()}
        pooling = max(args.poolings, key=val.__getitem__)
        runs = [{**runner.test(candidates[pooling][0]), "run_dir": str(candidates[pooling][0])}]
        runs += [_final(runner, f"{name}/{pooling}_seed{seed}",
                        {**finetune, "pooling": pooling, "seed": seed}) for seed in seeds[1:]]
        results[name] = {
            **_summary(runs),
            "pooling": {"chosen": pooling, "val_accuracy_first_seed": val,
                        "chosen_on_validation": len(args.poolings) > 1},
            "finetune_seconds": [run["train_seconds"] for run in runs],
            "pretrain_seconds": pretrained["pretrain_seconds"],
            "pretrain_train_seconds": pretrained["train_seconds"],
            "pretrain_vocabulary_seconds": pretrained.get("vocabulary_seconds"),
            "pretrain_epochs": pretrained["epochs_trained"],
            "pretrain_seconds_per_step": pretrained["seconds_per_step"],
            "masked_token_accuracy": pretrained["val_masked_accuracy"],
            "nsp_accuracy": pretrained.get("val_nsp_accuracy"),
            "pretrain_run_dir": str(pretrain_dir),
            "pretrain_config": training.RunDir(pretrain_dir).read_json("config.json"),
        }
    return results


def summarize(variants, args):
    """The JSON: every variant measured so far, the target's status, the protocol."""
    pretrained = [name for name in PRETRAINED if name in variants]
    best = max(pretrained, key=lambda name: variants[name]["mean_test_accuracy"], default=None)
    met = best is not None and bool(
        variants[best]["mean_test_accuracy"] >= TARGET["mean_test_accuracy"]
        and len(variants[best]["test_accuracy"]) >= 2
        and variants[best]["pretrain_seconds"] <= 60 * TARGET["pretrain_minutes"])
    return {
        "variants": variants,
        "missing_variants": [name for name in VARIANTS if name not in variants],
        "best_pretrained": best,
        "target": {**TARGET, "met": met},
        "split_seed": SPLIT_SEED,
        "finetune_overrides": {**FINETUNE, "learning_rate": args.finetune_lr},
        "bigrams_overrides": BIGRAMS_BOOK,
        "quick": args.quick,
        "anchors_test_accuracy": ANCHORS,
        "notes": "test_accuracy lists one final run per seed (one pretraining per variant, "
                 "fine-tuned per seed); wall times are this machine's, other jobs included. "
                 "Each variant's `measured` says which command and date produced it.",
    }


def step_timing(args):
    """Seconds per pretraining step of the (overridden) BertConfig on real reviews."""
    import keras
    import numpy as np

    from kdl_transformer import training
    from kdl_transformer.configs import BertConfig
    from kdl_transformer.models.bert import BertPretrainer, build_bert_backbone
    from kdl_transformer.objectives import compile_bert_pretrainer
    from kdl_transformer.text import pretraining_data, wordpiece
    from kdl_transformer.workflows import bert

    config = training.apply_overrides(BertConfig(), args.pretrain_set)
    texts, _ = bert.load_pretraining_reviews(config, args.data_dir)
    texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))[:1500]]
    start = time.perf_counter()
    vocabulary = wordpiece.train_wordpiece_vocabulary(texts, config.vocab_size)
    vocabulary_seconds = time.perf_counter() - start
    corpus = pretraining_data.encode_corpus(texts, wordpiece.make_wordpiece_tokenizer(vocabulary))
    dataset = pretraining_data.make_pretraining_dataset(
        corpus, len(vocabulary), config.sequence_length, config.batch_size, nsp=config.nsp,
        max_predictions=config.max_predictions, trim=not config.jit_compile).repeat()
    model = BertPretrainer(build_bert_backbone(config), nsp=config.nsp)
    compile_bert_pretrainer(model, config, 100)
    model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)  # build, trace, compile
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(dataset, steps_per_epoch=args.step_timing, epochs=1, verbose=0)
    seconds = (time.perf_counter() - wall) / args.step_timing
    steps = -(-(23750 - config.validation_reviews) // config.batch_size)
    return {
        "config": dataclasses.asdict(config),
        "parameters": model.count_params(),
        "steps_timed": args.step_timing,
        "seconds_per_step": round(seconds, 3),
        "cpu_seconds_per_step": round((time.process_time() - cpu) / args.step_timing, 3),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "projected_epoch_minutes": round(seconds * steps / 60, 1),
        "projected_pretraining_minutes": round(seconds * steps * config.epochs / 60, 1),
        "vocabulary_seconds_1500_reviews": round(vocabulary_seconds, 1),
        "keras": keras.__version__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="runs folder (default runs/bert_benchmark)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 2])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="run these (default all); the JSON keeps the others already in it")
    parser.add_argument("--poolings", nargs="+", choices=POOLINGS, default=list(POOLINGS),
                        help="fine-tuning poolings to validate (default both)")
    parser.add_argument("--finetune-lr", type=float, default=FINETUNE["learning_rate"])
    parser.add_argument("--pretrain-set", action="append", metavar="KEY=VALUE", default=[],
                        help="BertConfig override for every pretraining (or --step-timing)")
    parser.add_argument("--quick", action="store_true", help="tiny models on slices (CI)")
    parser.add_argument("--step-timing", type=int, default=0, metavar="STEPS",
                        help="only time this many pretraining steps on real reviews")
    args = parser.parse_args()
    args.pretrain_set = _parse_overrides(args.pretrain_set)
    if args.step_timing:
        write_result("bert_step_time", step_timing(args))
        return
    args.out = args.out or ("runs/bert_benchmark_quick" if args.quick else "runs/bert_benchmark")
    name = "bert_quick" if args.quick else "bert"
    variants = merge_entries(name, "variants", compare(args), VARIANTS,
                             keep_earlier=set(args.variants) != set(VARIANTS))
    write_result(name, summarize(variants, args))


if __name__ == "__main__":
    main()
