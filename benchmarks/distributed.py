"""Training speed of the default translator on 1 and 2 replicas, in float32 and mixed_bfloat16.

The host CPU is split into 2 logical devices (`kdl_transformer.distribute.configure_cpu_devices`),
so "2 replicas" is MirroredStrategy over two halves of the same CPU: on a 2-core machine expect
overhead (two replicas share the cores, and the gradients are summed every step), not speed.

Variants, each a default `TranslatorConfig` model (Tatoeba training split, its tokenizers) built
and compiled in its strategy's scope:

  float32_1_replica        the default
  float32_2_replicas       MirroredStrategy over 2 logical CPU devices, the same global batch
  mixed_bfloat16_1_replica `precision="mixed_bfloat16"` (this CPU reports AVX512_BF16?)

Every variant trains on the same `--steps` full training batches (global batch 64); the
variants alternate, `--rounds` times, after one untimed warm-up round (graph tracing), and each
variant's median round gives its step time and training tokens/s (real, non-padding source +
target tokens of those batches per second).

    python benchmarks/distributed.py [--steps 30] [--rounds 3]

Prints JSON and writes benchmarks/results/distributed.json.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kdl_transformer import distribute  # noqa: E402

distribute.configure_cpu_devices(2)  # before anything else starts TensorFlow

from common import write_result  # noqa: E402

VARIANTS = {
    "float32_1_replica": ("float32", "one-device"),
    "float32_2_replicas": ("float32", "mirrored"),
    "mixed_bfloat16_1_replica": ("mixed_bfloat16", "one-device"),
}


def cpu_flags():
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return {}
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return {flag: flag in flags for flag in ("avx512_bf16", "amx_bf16", "avx512f")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training batches per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per variant")
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from kdl_transformer.configs import TranslatorConfig
    from kdl_transformer.models.architectures import build_translator_model
    from kdl_transformer.objectives import compile_translator
    from kdl_transformer.workflows import translator

    base = TranslatorConfig()
    splits = translator.load_splits(base)
    english, korean = translator.train_tokenizers(splits["train"], base)
    batches = translator.make_dataset(splits["train"], english, korean, base, shuffle=True,
                                      drop_remainder=True).take(args.steps).cache()
    tokens = sum(int(np.count_nonzero(source)) + int(np.count_nonzero(target))
                 for (source, _), target in batches)

    models = {}
    for name, (precision, strategy_name) in VARIANTS.items():
        strategy = distribute.make_strategy(strategy_name)
        config = TranslatorConfig(precision=precision)
        keras.utils.set_random_seed(config.seed)
        with strategy.scope(), distribute.precision_scope(precision):
            model = build_translator_model(config, english.vocabulary_size, korean.vocabulary_size)
            compile_translator(model, config)
        models[name] = (model, strategy)

    seconds = {name: [] for name in VARIANTS}
    for round_index in range(args.rounds + 1):  # round 0: warm-up (tracing), not timed
        for name, (model, _) in models.items():
            start = time.perf_counter()
            model.fit(batches, epochs=1, verbose=0)
            if round_index:
                seconds[name].append(time.perf_counter() - start)
        print(f"round {round_index}: " + ", ".join(
            f"{n} {s[-1]:.1f}s" for n, s in seconds.items() if s), flush=True)

    results = {}
    for name, times in seconds.items():
        median = statistics.median(times)
        results[name] = {
            "replicas": models[name][1].num_replicas_in_sync,
            "precision": VARIANTS[name][0],
            "seconds_per_step": round(median / args.steps, 4),
            "training_tokens_per_second": round(tokens / median, 1),
            "round_seconds": [round(t, 2) for t in times],
        }
    one = results["float32_1_replica"]["seconds_per_step"]
    write_result("distributed", {
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "global_batch_size": base.batch_size,
        "tokens_per_round": tokens,
        "logical_cpu_devices": len(tf.config.list_logical_devices("CPU")),
        "cpu_flags": cpu_flags(),
        "variants": results,
        "step_time_ratio_to_float32_1_replica": {
            name: round(r["seconds_per_step"] / one, 3) for name, r in results.items()
        },
    })


if __name__ == "__main__":
    main()
