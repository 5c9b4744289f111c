"""Translate the 20 everyday English sentences of data/everyday_sentences.txt with trained runs.

The sentences were fixed before the final trainings and are not an evaluation set: they show
what a user typing ordinary sentences gets. Each run translates them with greedy and beam search
(the run's beam size and length penalty). With `--export DIR`, the first run is also exported
as a SavedModel, which a fresh Python process without this package reloads and translates the
same sentences with; the JSON says whether its translations equal the Python API's beam ones.
The first run's cross-attention map of `--attention SENTENCE` (default: the notes' cafe example)
is drawn twice: on its own beam translation (benchmarks/results/NAME_cross_attention.png) and on
the Korean `--attention-target` forced through the decoder (teacher forcing,
NAME_cross_attention_reference.png), so the map shows the notes' 'cafe' <-> '카페' alignment even
when the search writes no 카페. For every Korean subword of each, the JSON names the English
subword the last decoder layer attends to most (mean over heads), and that layer's weight on
each English word (its subwords summed).

    python benchmarks/everyday_translations.py --run-dir runs/enko_extra [--run-dir runs/enko] \
        [--export exported/enko_extra]

`--run-dir` may be a preset's folder (its final stage translates). Prints JSON and writes
benchmarks/results/everyday_translations.json (or NAME.json with --name).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import RESULTS, write_result  # noqa: E402

SENTENCES = Path(__file__).resolve().parent.parent / "data" / "everyday_sentences.txt"


def read_sentences(path=SENTENCES):
    """One sentence a line; blank lines and lines starting with "#" are skipped."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


# Runs in a fresh process: TensorFlow and tf-text only, never this package.
RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the SentencePiece ops)
model = tf.saved_model.load(sys.argv[1])
out = model.serve(tf.constant(json.loads(sys.argv[2])))["translation"].numpy()
assert "kdl_transformer" not in sys.modules
print(json.dumps([t.decode("utf-8") for t in out], ensure_ascii=False))
"""


def reload_and_compare(translator, export_dir, sentences, expected):
    """Export `translator`, translate `sentences` with the SavedModel in a fresh process, compare."""
    from kdl_transformer.export import export_translator

    exported = export_translator(translator, export_dir)
    result = subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, str(exported),
                             json.dumps(sentences)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"the exported SavedModel failed in a fresh process:\n{result.stderr[-3000:]}")
    served = json.loads(result.stdout.strip().splitlines()[-1])
    differ = [i for i, (a, b) in enumerate(zip(served, expected)) if a != b]
    print(f"SavedModel in a fresh process: {len(sentences) - len(differ)}/{len(sentences)} "
          "translations equal the Python API's beam search", flush=True)
    return {"export_dir": str(export_dir), "sentences": len(sentences),
            "equal_to_python_beam": len(differ) == 0, "differing": differ}


def strongest_alignment(maps, layer=-1):
    """For each Korean subword written, the English subword with the most cross-attention weight
    (mean over the heads of decoder layer `layer`) and that weight."""
    import numpy as np

    weights = np.asarray(maps["cross_attention"][layer]).mean(axis=0)  # (output, source)
    return [{"korean": korean, "english": maps["source_tokens"][int(row.argmax())],
             "weight": round(float(row.max()), 3)}
            for korean, row in zip(maps["output_tokens"], weights)]


def weight_per_english_word(maps, layer=-1):
    """For each Korean subword written, the cross-attention weight (mean over the heads of
    decoder layer `layer`) summed over the subwords of each English word ("▁c a fe" -> cafe;
    a punctuation piece counts as a word of its own)."""
    import numpy as np

    weights = np.asarray(maps["cross_attention"][layer]).mean(axis=0)  # (output, source)
    words, word_of = [], []
    for piece in maps["source_tokens"]:
        if piece.startswith("▁") or not words or not any(c.isalnum() for c in piece):
            words.append("")
        words[-1] += piece.lstrip("▁")
        word_of.append(len(words) - 1)
    rows = []
    for korean, row in zip(maps["output_tokens"], weights):
        per_word = np.zeros(len(words))
        np.add.at(per_word, word_of, row)
        rows.append({"korean": korean, **{f"{i}:{w}": round(float(v), 3)
                                          for i, (w, v) in enumerate(zip(words, per_word))}})
    return rows


def draw_attention(translator, sentence, out, target=None):
    """The cross-attention map of `sentence` to `out`, on its beam translation or on the Korean
    `target` (teacher forcing), and the strongest alignment of each Korean subword."""
    from kdl_transformer import plotting

    maps = translator.attention(sentence, target_text=target, method="beam")
    plotting.plot_translation_attention(maps, out)
    return {"sentence": sentence, "translation": maps["translation"], "forced": target is not None,
            "png": str(Path(out).relative_to(RESULTS.parent.parent)),
            "strongest_alignment_last_layer": strongest_alignment(maps),
            "weight_per_english_word_last_layer": weight_per_english_word(maps)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", action="append", required=True,
                        help="a trained translator run directory or preset folder (repeatable)")
    parser.add_argument("--sentences", default=str(SENTENCES), help="one English sentence a line")
    parser.add_argument("--export", default=None,
                        help="export the first run here and check its SavedModel in a fresh process")
    parser.add_argument("--attention", default="I drink coffee at the cafe.",
                        help="the sentence whose cross-attention map the first run draws")
    parser.add_argument("--attention-target", default="나는 카페에서 커피를 마셔.",
                        help="a Korean translation of --attention to draw the map on, forced "
                             "through the decoder ('' draws only the beam translation's map)")
    parser.add_argument("--name", default="everyday_translations",
                        help="result name: writes benchmarks/results/NAME.json")
    args = parser.parse_args()

    from kdl_transformer.workflows import translator as workflow

    sentences = read_sentences(args.sentences)
    runs, first = {}, None
    for run_dir in args.run_dir:
        translator = workflow.load_translator(run_dir)
        first = first or translator  # the first run also exports and draws its attention
        found = {method: translator.translate(sentences, method=method)
                 for method in ("greedy", "beam")}
        runs[run_dir] = [{"english": english, "greedy": greedy, "beam": beam}
                         for english, greedy, beam in zip(sentences, found["greedy"], found["beam"])]
        for row in runs[run_dir]:
            print(f"{row['english']}  ->  {row['beam']}", flush=True)
    savedmodel = None
    if args.export:
        savedmodel = reload_and_compare(first, args.export, sentences,
                                        [row["beam"] for row in runs[args.run_dir[0]]])
    attention = [draw_attention(first, args.attention, RESULTS / f"{args.name}_cross_attention.png")]
    if args.attention_target:
        attention.append(draw_attention(first, args.attention,
                                        RESULTS / f"{args.name}_cross_attention_reference.png",
                                        target=args.attention_target))
    for drawn in attention:
        print(f"{'forced' if drawn['forced'] else 'beam'}: {drawn['translation']}")
        for row in drawn["strongest_alignment_last_layer"]:
            print(f"{row['korean']:>8} <- {row['english']} ({row['weight']})")
    write_result(args.name, {"sentences_file": "data/everyday_sentences.txt", "runs": runs,
                             "savedmodel_reloaded_without_package": savedmodel,
                             "attention": attention})


if __name__ == "__main__":
    main()
