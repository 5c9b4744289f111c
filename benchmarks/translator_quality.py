"""Translation quality of a trained translator run: chrF and BLEU, greedy and beam search.

Evaluates the run's model on the Tatoeba test split (held out by English sentence) and on the
FLORES-200 devtest (out of domain), with greedy search and beam search (the run's beam size and
length penalty), and reports chrF, BLEU with the 13a and char tokenizers (sacrebleu signatures
included), exact match, chrF per source-length bucket, decoding time, the beam-search error
analysis, and from the run itself the training wall time (metrics.json), epochs and parameter
count. `--run-dir` may be a preset's folder (`train translator --preset extra`): its final stage
is evaluated, and the training time and epochs are summed over its stages.

    python benchmarks/translator_quality.py --run-dir runs/translator [--data-dir DIR] [--quick]

Prints JSON and writes benchmarks/results/translator_quality.json. Reference points
(docs/ANCHORS.md): the book's recipe on held-out Tatoeba sentences, chrF 6.1 / BLEU 0.4
(12.4 / 4.5 on a 10% split of kor.txt by English sentence, which is what our test split is).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import write_result  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a trained translator run directory")
    parser.add_argument("--data-dir", default=None, help="datasets folder (default $KDL_DATA_DIR)")
    parser.add_argument("--quick", action="store_true", help="a few sentences per set (smoke test)")
    parser.add_argument("--name", default="translator_quality",
                        help="result name: writes benchmarks/results/NAME.json")
    args = parser.parse_args()

    from kdl_transformer import evaluation, training
    from kdl_transformer.configs import TranslatorConfig
    from kdl_transformer.workflows import translator as workflow
    from kdl_transformer.workflows.translator_presets import stage_run_dirs

    stages = [training.RunDir(path) for path in stage_run_dirs(args.run_dir)]
    run = stages[-1]  # a preset's final stage, or the run itself
    config = training.load_config(run, TranslatorConfig)
    translator = workflow.load_translator(run.path)
    metrics = [stage.read_json("metrics.json", default={}) for stage in stages]
    sets = workflow.evaluation_sets(config, args.data_dir, quick=args.quick)
    results = {}
    for name, pairs in sets.items():
        results[name] = evaluation.evaluate_translator(translator, pairs, samples=5)
        for method, scores in results[name].items():
            print(name, method, {k: scores[k] for k in ("chrf", "bleu_13a", "bleu_char")}, flush=True)
    write_result(
        args.name,
        {
            "run_dir": str(run.path),
            "quick": args.quick,
            "config": config.__dict__,
            "parameters": int(translator.model.count_params()),
            "train_seconds": round(sum(m.get("train_seconds", 0) for m in metrics), 1),
            "epochs_trained": sum(m.get("epochs_trained", 0) for m in metrics),
            "best_val_loss": metrics[-1].get("best_val_loss"),
            "stages": {stage.path.name: {k: m.get(k) for k in ("train_seconds", "epochs_trained",
                                                               "best_val_loss", "train_pairs")}
                       for stage, m in zip(stages, metrics)} if len(stages) > 1 else None,
            "summary": {
                name: {method: {k: s[k] for k in ("chrf", "bleu_13a", "bleu_char", "exact_match",
                                                  "chrf_by_source_length")}
                       for method, s in by_method.items()}
                for name, by_method in results.items()
            },
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
