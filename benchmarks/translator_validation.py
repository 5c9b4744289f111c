"""Choose a translator recipe on the validation split, never on the test split.

For each run directory: chrF and BLEU (char) of greedy search and of beam search at several
length penalties (GNMT alpha), and with `--no-repeat-ngrams` both searches with each repeat guard
(`no_repeat_ngram_size`, beam at the run's alpha), all on the Tatoeba *validation* split the run
early-stopped on, plus the run's training time and epochs. The recipe and alpha picked here are then scored once
on the test split by `translator_quality.py`.

    python benchmarks/translator_validation.py runs/a runs/b ... [--alphas 0.6 1.0] \
        [--no-repeat-ngrams 2 3] [--name NAME]

Prints JSON and writes benchmarks/results/NAME.json (default translator_validation).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import write_result  # noqa: E402


def repeats_a_word_pair(text):
    """Whether `text` holds the same two whitespace words in a row twice (a run-on repeat)."""
    words = text.split()
    pairs = list(zip(words, words[1:]))
    return len(pairs) != len(set(pairs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", help="trained translator run directories")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.6, 1.0, 1.5],
                        help="beam-search length penalties to try (default 0.6 1.0 1.5)")
    parser.add_argument("--no-repeat-ngrams", type=int, nargs="*", default=[],
                        help="repeat guards to try with both searches (n > 0: no n-gram twice)")
    parser.add_argument("--data-dir", default=None, help="datasets folder (default $KDL_DATA_DIR)")
    parser.add_argument("--name", default="translator_validation")
    args = parser.parse_args()

    from kdl_transformer import evaluation, training
    from kdl_transformer.configs import TranslatorConfig
    from kdl_transformer.workflows import translator as workflow

    runs = {}
    for path in args.run_dirs:
        run = training.RunDir(path)
        config = training.load_config(run, TranslatorConfig)
        pairs = workflow.load_splits(config, args.data_dir)["validation"]
        sources, references = [en for en, _ in pairs], [ko for _, ko in pairs]
        translator = workflow.load_translator(run.path)
        searches = {"greedy": dict(method="greedy")}
        searches.update({f"beam_alpha_{a:g}": dict(method="beam", length_penalty=a)
                         for a in args.alphas})
        for n in args.no_repeat_ngrams:
            searches[f"greedy_no_repeat_{n}"] = dict(method="greedy", no_repeat_ngram_size=n)
            searches[f"beam_alpha_{translator.length_penalty:g}_no_repeat_{n}"] = dict(
                method="beam", no_repeat_ngram_size=n)
        scores = {}
        for name, kwargs in searches.items():
            hypotheses = translator.translate(sources, **kwargs)
            found = evaluation.corpus_scores(hypotheses, references)
            scores[name] = {
                **kwargs,
                "no_repeat_ngram_size": kwargs.get("no_repeat_ngram_size",
                                                   translator.no_repeat_ngram_size),
                "chrf": found["chrf"],
                "bleu_char": found["bleu_char"],
                "with_a_repeated_word_pair": sum(map(repeats_a_word_pair, hypotheses)),
                "hypothesis_to_reference_chars": round(
                    sum(map(len, hypotheses)) / max(1, sum(map(len, references))), 3),
            }
            print(path, name, scores[name], flush=True)
        metrics = run.read_json("metrics.json", default={})
        runs[path] = {
            "config": config.__dict__,
            "validation_pairs": len(pairs),
            "parameters": metrics.get("parameters"),
            "train_seconds": metrics.get("train_seconds"),
            "epochs_trained": metrics.get("epochs_trained"),
            "best_val_loss": metrics.get("best_val_loss"),
            "checkpoint_average": metrics.get("checkpoint_average"),
            "validation": scores,
        }
    write_result(args.name, {"split": "tatoeba validation", "runs": runs})


if __name__ == "__main__":
    main()
