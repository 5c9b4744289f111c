"""Training speed and memory of our layers against keras_hub's, at the same sizes.

A 2+2-layer encoder-decoder (embed 256, feed-forward 1024, 8 heads, sequence
32, batch 64, vocabulary 8000, dropout 0.1) is built twice: from
kdl_transformer.layers and from keras_hub.layers. Throughput is measured in
one process, alternating the two in rounds so that both see the same machine
load; peak memory is measured in a fresh subprocess per variant.

    python benchmarks/layers.py [--rounds 5] [--steps 10]

Prints JSON and writes benchmarks/results/layers.json.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import current_rss_mb, peak_rss_mb, reset_peak_rss, write_result  # noqa: E402

SIZES = dict(num_layers=2, embed_dim=256, dense_dim=1024, num_heads=8, length=32, batch=64, vocab=8000, dropout=0.1)


def build(kind, jit_compile):
    import keras

    s = SIZES
    source = keras.Input((s["length"],), dtype="int32")
    target = keras.Input((s["length"],), dtype="int32")
    if kind == "ours":
        from kdl_transformer.layers import PositionalEmbedding, TransformerDecoder, TransformerEncoder

        x = PositionalEmbedding(s["length"], s["vocab"], s["embed_dim"])(source)
        for _ in range(s["num_layers"]):
            x = TransformerEncoder(s["embed_dim"], s["dense_dim"], s["num_heads"], dropout=s["dropout"])(x)
        y = PositionalEmbedding(s["length"], s["vocab"], s["embed_dim"])(target)
        for _ in range(s["num_layers"]):
            y = TransformerDecoder(s["embed_dim"], s["dense_dim"], s["num_heads"], dropout=s["dropout"])(y, x)
    else:
        import keras_hub

        embed = keras_hub.layers.TokenAndPositionEmbedding
        x = embed(s["vocab"], s["length"], s["embed_dim"], mask_zero=True)(source)
        for _ in range(s["num_layers"]):
            x = keras_hub.layers.TransformerEncoder(s["dense_dim"], s["num_heads"], dropout=s["dropout"])(x)
        y = embed(s["vocab"], s["length"], s["embed_dim"], mask_zero=True)(target)
        for _ in range(s["num_layers"]):
            y = keras_hub.layers.TransformerDecoder(s["dense_dim"], s["num_heads"], dropout=s["dropout"])(y, x)
    logits = keras.layers.Dense(s["vocab"])(y)
    model = keras.Model([source, target], logits)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def batch():
    rng = np.random.default_rng(0)
    shape = (SIZES["batch"], SIZES["length"])
    source = rng.integers(1, SIZES["vocab"], size=shape).astype("int32")
    target = rng.integers(1, SIZES["vocab"], size=shape).astype("int32")
    source[:, -5:] = 0  # some padding, so masks are exercised
    return [source, target], rng.integers(1, SIZES["vocab"], size=shape).astype("int32")


def time_steps(model, steps):
    x, y = batch()
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return time.perf_counter() - start


def memory_child(kind, jit):
    """Run in a subprocess: peak RSS growth while training one variant."""
    import keras_hub  # noqa: F401  (imports outside the measured window, for both variants)

    import kdl_transformer  # noqa: F401

    reset_peak_rss()
    baseline = current_rss_mb()
    model = build(kind, jit)
    time_steps(model, 5)
    print(peak_rss_mb() - baseline)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--memory-child", nargs=2, metavar=("KIND", "JIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child[0], args.memory_child[1] == "1")

    variants = [(kind, jit) for jit in (False, True) for kind in ("ours", "keras_hub")]
    models = {}
    for kind, jit in variants:
        models[kind, jit] = build(kind, jit)
        time_steps(models[kind, jit], 3)  # trace / compile
    seconds = {v: [] for v in variants}
    for _ in range(args.rounds):
        for variant in variants:
            seconds[variant].append(time_steps(models[variant], args.steps) / args.steps)

    tokens_per_step = SIZES["batch"] * SIZES["length"]
    results = {}
    for kind, jit in variants:
        memory = subprocess.run(
            [sys.executable, __file__, "--memory-child", kind, str(int(jit))],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        step = statistics.median(seconds[kind, jit])
        results[f"{kind}{'_jit' if jit else ''}"] = {
            "params": models[kind, jit].count_params(),
            "median_step_ms": round(step * 1000, 2),
            "target_tokens_per_s": round(tokens_per_step / step, 1),
            "peak_memory_growth_mb": round(float(memory), 1),
            "step_ms_per_round": [round(s * 1000, 2) for s in seconds[kind, jit]],
        }
    ratios = {
        f"ours_over_keras_hub{suffix}": round(
            results[f"ours{suffix}"]["target_tokens_per_s"] / results[f"keras_hub{suffix}"]["target_tokens_per_s"], 3
        )
        for suffix in ("", "_jit")
    }
    write_result("layers", {"sizes": SIZES, "rounds": args.rounds, "steps_per_round": args.steps,
                            "results": results, "ratios": ratios,
                            "note": "tokens = target tokens per training step (batch x length)"})


if __name__ == "__main__":
    main()
