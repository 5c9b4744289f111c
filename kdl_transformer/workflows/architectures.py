"""GRU seq2seq, GRU + attention and the Transformer, side by side on the same data.

What `benchmarks/seq2seq_architectures.py` and notebook 03 run: for each architecture a few
candidate settings (width, depth, dropout) are trained on the Tatoeba training split with the
same tokenizers' recipe, loss, optimizer, schedule and epoch budget, and the one with the lowest
validation loss is kept (`select`); the kept runs are then measured on the test split
(`measure`): parameters, training time, chrF and BLEU with greedy and beam search, chrF per
source-length bucket, decoding speed at batch 1 and 64. Every run is a normal run directory
(`runs/seq2seq/<architecture>/<candidate>/`), resumable and reused once finished.
"""

import statistics
import time
from pathlib import Path

from kdl_transformer import evaluation, training
from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.workflows import translator as workflow

# The two RNN models: a bidirectional GRU encoder and a GRU decoder of the same width, one
# layer each; the candidates differ in regularisation (the Transformer's dropout 0.3 and word
# dropout 0.2 against lighter dropout 0.1 and none).
RNN = dict(rnn_units=256, embed_dim=256, num_encoder_layers=1, num_decoder_layers=1)
REGULARISATION = {
    "dropout0.3_word0.2": dict(dropout=0.3, token_dropout=0.2),
    "dropout0.1_word0": dict(dropout=0.1, token_dropout=0.0),
}
CANDIDATES = {
    "gru": {name: dict(architecture="gru", **RNN, **reg) for name, reg in REGULARISATION.items()},
    "gru_attention": {
        name: dict(architecture="gru_attention", **RNN, **reg) for name, reg in REGULARISATION.items()
    },
    "transformer": {"default": {}},  # TranslatorConfig's defaults, chosen on validation before
}
SPEED_BATCHES = (1, 64)


def candidate_config(architecture, candidate, epochs, quick=False):
    """The `TranslatorConfig` of one candidate (quick: CI's tiny sizes, same architecture)."""
    changes = dict(CANDIDATES[architecture][candidate], epochs=epochs)
    if quick:
        changes.update(rnn_units=32, embed_dim=32)
        return TranslatorConfig.quick(**changes)
    return TranslatorConfig(**changes)


def train_candidates(out, epochs, architectures=tuple(CANDIDATES), data_dir=None, quick=False,
                     verbose="auto", runs=None):
    """Train every candidate of `architectures` (reusing finished runs), candidates-major.

    Candidates-major: the first candidate of every architecture is trained before the second
    of any, so an interrupted session has one model of each.

    Args:
        out: folder of the run directories (`out/<architecture>/<candidate>`).
        epochs: the epoch budget of every candidate (early stopping may end one sooner).
        runs: {architecture: run directory} of finished runs to use instead of training
            (e.g. an existing default Transformer run).

    Returns:
        dict architecture -> candidate -> run directory.
    """
    runs = dict(runs or {})
    dirs = {a: ({"given": Path(runs[a])} if a in runs else {}) for a in architectures}
    # Every candidate trains on the same split (same dataset and seed): read it once.
    splits = None
    depth = max(len(CANDIDATES[a]) for a in architectures)
    for i in range(depth):
        for architecture in architectures:
            names = list(CANDIDATES[architecture])
            if architecture in runs or i >= len(names):
                continue
            config = candidate_config(architecture, names[i], epochs, quick)
            splits = splits or workflow.load_splits(config, data_dir, quick)
            run_dir = Path(out) / architecture / names[i]
            print(f"=== {architecture} / {names[i]} -> {run_dir}", flush=True)
            workflow.train_run(run_dir, config, splits, verbose=verbose, reuse_finished=True)
            dirs[architecture][names[i]] = run_dir
    return dirs


def select(dirs):
    """Per architecture, the candidate whose kept weights have the lowest validation loss.

    The kept weights are the best epoch's, or the average of the best epochs where that
    validated better (`average_best`).

    Returns:
        dict architecture -> {"chosen": name, "run_dir": str, "candidates": name -> {...}}.
    """
    chosen = {}
    for architecture, candidates in dirs.items():
        report = {}
        for name, run_dir in candidates.items():
            metrics = training.RunDir(run_dir).read_json("metrics.json")
            config = training.load_config(run_dir, TranslatorConfig)
            average = metrics.get("checkpoint_average") or {}
            kept = average["average_val_loss"] if average.get("used") else metrics["best_val_loss"]
            report[name] = {
                "run_dir": str(run_dir),
                "best_val_loss": round(float(metrics["best_val_loss"]), 4),
                "val_loss": round(float(kept), 4),  # of the kept weights (an average, if used)
                "epochs_trained": metrics["epochs_trained"],
                "train_seconds": metrics["train_seconds"],
                "settings": {k: getattr(config, k) for k in (
                    "architecture", "embed_dim", "rnn_units", "dense_dim", "num_heads",
                    "num_encoder_layers", "num_decoder_layers", "dropout", "token_dropout")},
            }
        best = min(report, key=lambda name: report[name]["val_loss"])
        chosen[architecture] = {"chosen": best, "run_dir": report[best]["run_dir"], "candidates": report}
    return chosen


def decoding_speed(translator, sentences, method, batch_size, repeats=3):
    """Median ms per sentence of `translator.search` at one batch size (after a compile call)."""
    translator.batch_size = batch_size
    translator.search(sentences[:batch_size], method=method)  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        translator.search(sentences, method=method)
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times) / len(sentences), 2)


def measure(run_dir, test_pairs, long_pairs=(), speed_sentences=64, batch1_sentences=16):
    """Parameters, training time, test chrF/BLEU (greedy, beam), chrF by length, decoding speed.

    `long_pairs` (FLORES devtest: long, out-of-domain sentences) are translated with beam search
    too, for chrF per length bucket where the long buckets hold hundreds of sentences (the
    Tatoeba test split has only a handful of 13+ word sentences).
    """
    translator = workflow.load_translator(run_dir)
    metrics = training.RunDir(run_dir).read_json("metrics.json")
    scores = evaluation.evaluate_translator(translator, test_pairs)
    long_scores = (
        evaluation.evaluate_translator(translator, list(long_pairs), methods=("beam",))["beam"]
        if len(long_pairs) else None
    )
    sentences = [en for en, _ in test_pairs]
    speed = {}
    for method in ("greedy", "beam"):
        speed[method] = {
            "batch_1": decoding_speed(translator, sentences[:batch1_sentences], method, 1),
            "batch_64": decoding_speed(translator, sentences[:speed_sentences], method, 64),
        }
    return {
        "run_dir": str(run_dir),
        "parameters": int(translator.model.count_params()),
        "train_seconds": metrics["train_seconds"],
        "epochs_trained": metrics["epochs_trained"],
        "best_val_loss": round(float(metrics["best_val_loss"]), 4),
        "test": {
            method: {
                key: result[key] for key in (
                    "chrf", "bleu_13a", "bleu_char", "exact_match", "chrf_by_source_length",
                    "error_analysis")
            } | {"samples": result["samples"][:4]}
            for method, result in scores.items()
        },
        "ms_per_sentence": speed,
        "flores_devtest_beam": None if long_scores is None else {
            key: long_scores[key] for key in ("chrf", "bleu_13a", "chrf_by_source_length")
        },
    }


def compare(out, epochs=30, data_dir=None, quick=False, runs=None, references=None,
            verbose="auto"):
    """Train (or reuse), select on validation and measure every architecture.

    Args:
        out: folder of the run directories.
        epochs: the epoch budget of every candidate of every architecture.
        runs: {architecture: finished run directory} to use instead of training candidates.
        references: {name: finished run directory} measured too, outside the comparison
            (e.g. a Transformer trained longer).

    Returns:
        dict with "selection" (see `select`), "test_sentences", architecture -> `measure`
        results, and "references" -> name -> `measure` results.
    """
    dirs = train_candidates(out, epochs, data_dir=data_dir, quick=quick, runs=runs, verbose=verbose)
    selection = select(dirs)
    config = TranslatorConfig.quick() if quick else TranslatorConfig()
    sets = workflow.evaluation_sets(config, data_dir, quick)
    test, flores = sets["tatoeba_test"], sets["flores_devtest"]
    sizes = (16, 4) if quick else ()
    results = {"epoch_budget": epochs, "selection": selection, "test_sentences": len(test),
               "flores_sentences": len(flores)}
    for architecture, chosen in selection.items():
        print(f"=== measuring {architecture} ({chosen['chosen']})", flush=True)
        results[architecture] = measure(chosen["run_dir"], test, flores, *sizes)
    results["references"] = {
        name: measure(run_dir, test, flores, *sizes) for name, run_dir in (references or {}).items()
    }
    return results


def comparison_table(results, names=None):
    """The comparison as a plain-text table (one row per architecture), for notebooks and logs."""
    names = names or [n for n in CANDIDATES if n in results]
    rows = [("architecture", "params", "train min", "epochs", "chrF greedy", "chrF beam",
             "BLEU beam", "chrF 13+", "ms/sent b1", "ms/sent b64")]
    for name in names:
        r = results[name]
        beam = r["test"]["beam"]
        rows.append((
            name, f"{r['parameters']:,}", f"{r['train_seconds'] / 60:.1f}", str(r["epochs_trained"]),
            f"{r['test']['greedy']['chrf']:.2f}", f"{beam['chrf']:.2f}", f"{beam['bleu_13a']:.2f}",
            _number(beam['chrf_by_source_length']['13+']['chrf']),
            f"{r['ms_per_sentence']['beam']['batch_1']:.1f}",
            f"{r['ms_per_sentence']['beam']['batch_64']:.2f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)


def _number(value):
    """A score with 2 decimals, "-" for none (an empty length bucket)."""
    return "-" if value is None else f"{value:.2f}"
