"""Decoding speed of the translator: the book's loop, our cached searches, keras_hub's samplers.

All four decode the same sentences (the first N of the run's test split) with the same trained
model of a run directory:

  (a) book_loop      the book's `decode_sequence`: one sentence at a time, a Python loop that
                     re-runs the whole model (encoder and decoder, full padded length) per token;
  (b) cached_greedy  `Translator.search(method="greedy")`: one compiled graph loop, batched,
                     decoder key/value cache, encoder and cross-attention keys/values once;
  (c) cached_beam4   the same with beam search, 4 beams, GNMT length normalisation (the
                     run's length_penalty); (b) and (c) run with the run's repeat guard
                     (`no_repeat_ngram_size`), and again without it (`..._no_guard`), which
                     is what the guard costs;
  (d) keras_hub      `keras_hub.samplers.GreedySampler` / `BeamSampler(num_beams=4)` driving the
                     same cached `Seq2SeqTransformer.next` (adapted to keras_hub's
                     `next(prompt, cache, index)` convention; `stop_token_ids=[END]`), compiled
                     with `tf.function` and batched like ours.

Each method is run once to compile (reported as `first_call_seconds`), then timed `--repeats`
times; the median is reported as ms per sentence and sentences per second. The book's loop is
timed on fewer sentences (`--book-sentences`), it is that slow. `--jit` also times (b) and (c)
with XLA (`jit_compile=True`, the source padded to a fixed length so XLA compiles once).

    python benchmarks/decoding_speed.py --run-dir runs/translator [--sentences 128] [--name NAME]

Prints JSON and writes benchmarks/results/decoding_speed.json (or NAME.json).
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import write_result  # noqa: E402


def book_loop(translator, sentences):
    """The book's decode_sequence, per sentence (ids kept instead of re-vectorizing the string)."""
    import tensorflow as tf

    from kdl_transformer.text.special_tokens import END_ID, START_ID

    model, length = translator.model, translator.max_length
    outputs = []
    for sentence in sentences:
        source = translator.encode_source([sentence])
        decoded = [START_ID]
        for i in range(length - 1):
            target = np.zeros((1, length), "int32")
            target[0, : len(decoded)] = decoded
            predictions = model([source, tf.constant(target)])  # the whole model, every token
            token = int(np.argmax(predictions[0, i, :]))
            decoded.append(token)
            if token == END_ID:
                break
        outputs.append(decoded[1:])
    return outputs


def keras_hub_search(translator, method):
    """A compiled function running a keras_hub sampler over `Seq2SeqTransformer.next`."""
    import keras_hub
    import tensorflow as tf

    from kdl_transformer.text.special_tokens import END_ID, START_ID

    model, max_length = translator.model, translator.max_length
    sampler = (
        keras_hub.samplers.GreedySampler()
        if method == "greedy"
        else keras_hub.samplers.BeamSampler(num_beams=4)
    )

    def hub_next(prompt, cache, index):  # keras_hub: fill position `index` from index - 1
        logits, cache = model.next(prompt[:, index - 1 : index], cache, index - 1)
        return logits, None, cache

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def run(source_ids):
        batch = tf.shape(source_ids)[0]
        prompt = tf.concat(
            [tf.fill([batch, 1], START_ID), tf.zeros([batch, max_length], tf.int32)], axis=1
        )
        mask = tf.concat([tf.ones([batch, 1], tf.bool), tf.zeros([batch, max_length], tf.bool)], 1)
        cache = model.init_cache(source_ids, max_length)
        return sampler(hub_next, prompt, cache=cache, index=1, mask=mask, stop_token_ids=[END_ID])

    def search(sentences):
        outputs = []
        for start in range(0, len(sentences), translator.batch_size):
            source = translator.encode_source(sentences[start : start + translator.batch_size])
            outputs.append(run(source).numpy()[:, 1:])
        return outputs

    return search


def jit_search(translator, method):
    """Our search compiled with XLA, the source padded to the model's length (one shape)."""
    import tensorflow as tf

    length = int(translator.model.source_sequence_length)
    run = tf.function(
        lambda ids: translator.search_tensors(
            ids, tf.constant(translator.max_length), tf.constant(translator.length_penalty), method, 4
        ),
        jit_compile=True,
    )

    def search(sentences):
        outputs = []
        for start in range(0, len(sentences), translator.batch_size):
            batch = sentences[start : start + translator.batch_size]
            source = translator.encode_source(batch).numpy()
            source = np.pad(source, ((0, translator.batch_size - len(batch)), (0, length - source.shape[1])))
            outputs.append(run(tf.constant(source))["tokens"].numpy()[: len(batch)])
        return outputs

    return search


def timed(fn, sentences, repeats):
    start = time.perf_counter()
    result = fn(sentences)
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(sentences)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times) if times else first
    return result, {
        "sentences": len(sentences),
        "first_call_seconds": round(first, 3),
        "median_seconds": round(seconds, 4),
        "ms_per_sentence": round(1000 * seconds / len(sentences), 3),
        "sentences_per_second": round(len(sentences) / seconds, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a trained translator run directory")
    parser.add_argument("--data-dir", default=None, help="datasets folder (default $KDL_DATA_DIR)")
    parser.add_argument("--sentences", type=int, default=128)
    parser.add_argument("--book-sentences", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jit", action="store_true", help="also time XLA-compiled searches")
    parser.add_argument("--name", default="decoding_speed", help="writes benchmarks/results/NAME.json")
    args = parser.parse_args()

    from kdl_transformer import training
    from kdl_transformer.configs import TranslatorConfig
    from kdl_transformer.workflows import translator as workflow

    translator = workflow.load_translator(args.run_dir)
    config = training.load_config(args.run_dir, TranslatorConfig)
    test = workflow.load_splits(config, args.data_dir)["test"]
    sentences = [en for en, _ in test[: args.sentences]]
    book_sentences = sentences[: args.book_sentences]

    methods = {
        "cached_greedy": lambda s: translator.search(s, method="greedy"),
        "cached_beam4": lambda s: translator.search(s, method="beam", beam_size=4),
        "cached_greedy_no_guard": lambda s: translator.search(s, method="greedy",
                                                              no_repeat_ngram_size=0),
        "cached_beam4_no_guard": lambda s: translator.search(s, method="beam", beam_size=4,
                                                             no_repeat_ngram_size=0),
        "keras_hub_greedy": keras_hub_search(translator, "greedy"),
        "keras_hub_beam4": keras_hub_search(translator, "beam"),
    }
    if args.jit:
        methods["cached_greedy_jit"] = jit_search(translator, "greedy")
        methods["cached_beam4_jit"] = jit_search(translator, "beam")
    results, outputs = {}, {}
    results["book_loop"] = timed(lambda s: book_loop(translator, s), book_sentences, 0)[1]
    for name, fn in methods.items():
        outputs[name], results[name] = timed(fn, sentences, args.repeats)
        print(name, results[name], flush=True)

    greedy_tokens = outputs["cached_greedy_no_guard"]["tokens"]  # keras_hub has no guard
    hub_tokens = np.concatenate(outputs["keras_hub_greedy"])
    same_as_hub = np.mean([
        list(a[a != 0]) == list(b[: len(a[a != 0])]) for a, b in zip(greedy_tokens, hub_tokens)
    ])
    ms = {name: r["ms_per_sentence"] for name, r in results.items()}
    write_result(
        args.name,
        {
            "run_dir": str(args.run_dir),
            "no_repeat_ngram_size": translator.no_repeat_ngram_size,
            "parameters": int(translator.model.count_params()),
            "max_length": translator.max_length,
            "batch_size": translator.batch_size,
            "results": results,
            "ratios": {
                "book_loop_over_cached_greedy": round(ms["book_loop"] / ms["cached_greedy"], 1),
                "cached_beam4_over_cached_greedy": round(ms["cached_beam4"] / ms["cached_greedy"], 2),
                "keras_hub_greedy_over_cached_greedy": round(ms["keras_hub_greedy"] / ms["cached_greedy"], 2),
                "keras_hub_beam4_over_cached_beam4": round(ms["keras_hub_beam4"] / ms["cached_beam4"], 2),
                "guard_cost_greedy": round(ms["cached_greedy"] / ms["cached_greedy_no_guard"], 2),
                "guard_cost_beam4": round(ms["cached_beam4"] / ms["cached_beam4_no_guard"], 2),
            },
            "targets": {
                "cached_greedy_at_least_20x_faster_than_book_loop": ms["book_loop"] >= 20 * ms["cached_greedy"],
                "beam4_at_most_3x_greedy": ms["cached_beam4"] <= 3 * ms["cached_greedy"],
                "greedy_no_slower_than_keras_hub": ms["cached_greedy"] <= ms["keras_hub_greedy"],
                "beam4_no_slower_than_keras_hub": ms["cached_beam4"] <= ms["keras_hub_beam4"],
            },
            "greedy_tokens_without_guard_equal_keras_hub_greedy": round(float(same_as_hub), 4),
        },
    )


if __name__ == "__main__":
    main()
