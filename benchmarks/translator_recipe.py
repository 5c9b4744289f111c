"""Choose the translator's recipes on the Tatoeba validation split, one change at a time.

    KDL_DATA_DIR=../shared/data python benchmarks/translator_recipe.py --out runs/recipe \
        [--base extra|tatoeba] [--candidates baseline shared_vocab ...] [--epochs 4] [--quick]

`--base extra` (default): every candidate is `EXTRA_BASE`, the first stage of `--preset extra`
as it was screened (the Tatoeba training pairs plus every extra pair, deduplicated against the
evaluation sets; two vocabularies of 1k/2k subwords) with one thing changed: the model's size,
a shared English-Korean vocabulary with tied embeddings, subword sampling (BPE-dropout), both
directions in one model, or the weight of each extra-pair source.
All train for the same number of epochs over the English -> Korean pairs (no early stopping,
no checkpoint averaging). `--base tatoeba`: every candidate is the Tatoeba-only default
(`TranslatorConfig()`, trained as it is: early stopping on the validation loss, checkpoint
averaging) with one thing changed; `--epochs` does not apply.

Each candidate is scored on the Tatoeba validation split (the split the runs never train on;
the test split is never read here) with greedy and beam search: chrF, BLEU (char), the
validation loss, the parameters, the training time and the steps. Runs are resumable and
reused once finished.

Writes benchmarks/results/translator_recipe.json (translator_recipe_tatoeba.json with
`--base tatoeba`, a `_quick` suffix with --quick); `--candidates` runs only those and keeps the
other candidates already in the JSON, each entry with the command and date that measured it.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import merge_entries, write_result  # noqa: E402

# The sources the data README calls loose or noisy: scrambled PAWS paraphrases, search queries,
# loosely aligned news; and StyleKQC's ten rewordings of each request (23,210 rows).
DOWNWEIGHTED = {
    "extra_repeats": {"pawsx-wiki.en-ko.tsv": 0, "mkqa-questions.en-ko.tsv": 0,
                      "jungyeul-news-devtest.en-ko.tsv": 0},
    "extra_caps": {"stylekqc-kosp2e-highconf.en-ko.tsv": 6000},
}
CANDIDATES = {
    "baseline": {},
    "wide": {"embed_dim": 384, "dense_dim": 1536, "num_heads": 6},
    "deep": {"num_encoder_layers": 4, "num_decoder_layers": 4},
    "shared_vocab": {"shared_vocab_size": 4000},
    "subword_sampling": {"subword_sampling": 0.1},
    "both_directions": {"shared_vocab_size": 4000, "both_directions": True},
    "clean_sources": DOWNWEIGHTED,
    "tatoeba_x3": {"tatoeba_repeats": 3},
}
# Tatoeba-only (4,588 training pairs): the vocabularies are 600 + 1,200 pieces, so one shared
# vocabulary of 1,500.
TATOEBA_CANDIDATES = {
    "baseline": {},
    "shared_vocab": {"shared_vocab_size": 1500},
    "subword_sampling": {"subword_sampling": 0.1},
    "both_directions": {"shared_vocab_size": 1500, "both_directions": True},
}
QUICK = {"epochs": 1}


# The extra preset's first stage as it was screened, before the screening chose its shared
# vocabulary: every candidate changes one thing of this, so the screening stays comparable.
EXTRA_BASE = dict(source_vocab_size=1000, target_vocab_size=2000, extra_data=True, dropout=0.1,
                  token_dropout=0.0)


def base_overrides(base, epochs, quick):
    """The candidates' common overrides: `EXTRA_BASE` for a fixed number of epochs, or none
    (the Tatoeba-only default as it trains; one epoch in quick mode)."""
    from kdl_transformer.workflows.translator_presets import SIZE_FIELDS

    if base == "tatoeba":
        return {"epochs": epochs} if quick else {}
    values = {k: v for k, v in EXTRA_BASE.items() if not (quick and k in SIZE_FIELDS)}
    return {**values, "epochs": epochs, "patience": epochs, "average_best": 0}


def run_candidate(name, changes, protocol, args):
    from kdl_transformer import evaluation, training
    from kdl_transformer.workflows import translator as workflow
    from kdl_transformer.workflows.translator_presets import QUICK_SHARED_VOCAB

    overrides = {key: json.dumps(value) if isinstance(value, (dict, bool)) else str(value)
                 for key, value in {**protocol, **changes}.items()}
    config = workflow.make_config(args.quick, overrides=overrides)
    if args.quick and config.shared_vocab_size:  # a 600-pair slice cannot fill 1,500 pieces
        config = training.apply_overrides(config, {"shared_vocab_size": str(QUICK_SHARED_VOCAB)})
    splits = workflow.load_splits(config, args.data_dir, args.quick)
    run_dir = Path(args.out) / name
    start = time.perf_counter()
    translator = workflow.train_run(run_dir, config, splits, verbose=2, reuse_finished=True)
    metrics = training.RunDir(run_dir).read_json("metrics.json")
    pairs = splits["validation"]
    sources, references = [en for en, _ in pairs], [ko for _, ko in pairs]
    scores = {}
    for method in ("greedy", "beam"):
        found = evaluation.corpus_scores(translator.translate(sources, method=method), references)
        scores[method] = {"chrf": found["chrf"], "bleu_char": found["bleu_char"]}
        print(name, method, scores[method], flush=True)
    history = training.RunDir(run_dir).read_json("history.json")
    return {
        "changes": changes,
        "validation": scores,
        "validation_pairs": len(pairs),
        "val_loss_last_epoch": round(history["val_loss"][-1], 4),
        "parameters": metrics["parameters"],
        "train_pairs": metrics["train_pairs"],
        "epochs": len(history["val_loss"]),
        "train_seconds": metrics["train_seconds"],
        "this_process_seconds": round(time.perf_counter() - start, 1),
        "run_dir": str(run_dir),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="runs folder (default runs/recipe[_tatoeba])")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--base", choices=("extra", "tatoeba"), default="extra",
                        help="the extra preset's first stage, or the Tatoeba-only default")
    parser.add_argument("--candidates", nargs="+", default=None,
                        help=f"extra: {list(CANDIDATES)}; tatoeba: {list(TATOEBA_CANDIDATES)}")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of every extra candidate")
    parser.add_argument("--quick", action="store_true", help="tiny models on slices (CI)")
    args = parser.parse_args()
    known = CANDIDATES if args.base == "extra" else TATOEBA_CANDIDATES
    args.candidates = args.candidates or list(known)
    unknown = [c for c in args.candidates if c not in known]
    if unknown:
        parser.error(f"--base {args.base} has no candidate {unknown[0]!r}; pick from {list(known)}.")
    args.epochs = QUICK["epochs"] if args.quick else args.epochs
    suffix = "" if args.base == "extra" else "_tatoeba"
    args.out = args.out or f"runs/recipe{suffix}{'_quick' if args.quick else ''}"
    name = f"translator_recipe{suffix}{'_quick' if args.quick else ''}"
    protocol = base_overrides(args.base, args.epochs, args.quick)
    results = {candidate: run_candidate(candidate, known[candidate], protocol, args)
               for candidate in args.candidates}
    results = merge_entries(name, "candidates", results, list(known),
                            keep_earlier=lambda earlier: earlier.get("base") == protocol)
    best = max(results, key=lambda c: results[c]["validation"]["beam"]["chrf"])
    write_result(name, {
        "candidates": results,
        "missing_candidates": [c for c in known if c not in results],
        "best_on_validation_beam_chrf": best,
        "epochs_per_candidate": args.epochs if args.base == "extra" else "early stopping",
        "base": protocol,
        "quick": args.quick,
        "notes": "Tatoeba validation split only; each candidate changes one thing of the "
                 + ("extra preset's first stage" if args.base == "extra" else
                    "Tatoeba-only default") + "; wall times are this machine's, other jobs included.",
    })


if __name__ == "__main__":
    main()
