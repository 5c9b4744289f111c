"""GRU seq2seq vs GRU + additive attention vs Transformer on Tatoeba English->Korean.

Every architecture gets the same data, tokenizer recipe, loss, optimizer, schedule and epoch
budget (`--epochs`, early stopping with the config's patience). For the two GRU models two
regularisation settings are trained and the one with the lower validation loss is kept; the
Transformer uses `TranslatorConfig`'s defaults (chosen on validation in
`benchmarks/translator_validation.py`). The kept runs are measured on the Tatoeba test split:
parameters, training wall time and epochs, chrF / BLEU with greedy and beam search, chrF per
source-length bucket (1-4, 5-8, 9-12, 13+ English words), decoding ms/sentence at batch 1 and 64;
and FLORES devtest with beam search (chrF by length where the long buckets are not a handful).
See `kdl_transformer.workflows.architectures`.

    KDL_DATA_DIR=../shared/data python benchmarks/seq2seq_architectures.py \\
        --out runs/seq2seq --epochs 30 [--reference transformer_80_epochs=runs/enko_fixinit]

Runs are resumable (run the same command again) and reused once finished. Prints JSON and writes
benchmarks/results/seq2seq_architectures.json (`--quick`: seq2seq_architectures_quick.json).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import write_result  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/seq2seq")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny models on a slice (CI)")
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=RUN_DIR",
                        help="a finished run measured beside the comparison")
    args = parser.parse_args()

    from kdl_transformer.workflows.architectures import compare

    references = dict(item.split("=", 1) for item in args.reference)
    result = compare(args.out, args.epochs, args.data_dir, args.quick, references=references,
                     verbose=2)
    name = "seq2seq_architectures_quick" if args.quick else "seq2seq_architectures"
    write_result(name, result)


if __name__ == "__main__":
    main()
