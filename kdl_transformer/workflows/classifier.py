"""IMDB sentiment classification end to end: train, evaluate, predict, attention, export, demo.

These functions are what `kdl-transformer train/evaluate/predict/attention/export
classifier` and the notebook call. A run directory holds:

    RUN_DIR/
      config.json          ClassifierConfig
      vocabulary.txt       the TextVectorization vocabulary, one token per line (line 1: padding "")
      model.keras          the best token-id model (by validation loss)
      history.json, learning_curves.png, logs/ (TensorBoard), backup/ (while training)
      metrics.json         train_seconds, epochs_trained, then the test results of `evaluate`

Training is resumable: run `train` again with the same `out` after an interruption.
"""

import dataclasses
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from kdl_transformer import plotting, training
from kdl_transformer.models.classifier import (
    ClassifierConfig,
    attention_rollout,
    build_classifier,
    build_text_classifier,
    check_texts,
    encode_with_attention,
    max_pool_wins,
    split_text_classifier,
)

VOCABULARY_FILE = "vocabulary.txt"
QUICK_SIZES = {"train": 512, "val": 128, "test": 256}
QUICK_VARIABLE = "KDL_QUICK"
ATTENTION_MAX_TOKENS = 40  # tokens shown in attention plots


def is_quick(quick=False):
    """Quick mode: asked for, or the environment sets KDL_QUICK=1."""
    return bool(quick) or os.environ.get(QUICK_VARIABLE) == "1"


def make_config(quick=False, epochs=None, overrides=None):
    """The config of a run: the default (or quick) recipe, `--set` overrides, then `epochs`."""
    config = ClassifierConfig.quick() if is_quick(quick) else ClassifierConfig()
    config = training.apply_overrides(config, overrides)
    if epochs is not None:
        config = dataclasses.replace(config, epochs=int(epochs))
    return config


# ----------------------------------------------------------------------------- text -> ids
def make_vectorizer(config, vocabulary=None, texts=None):
    """The book's TextVectorization, with a given vocabulary or adapted on `texts`.

    Its standardisation also turns HTML line breaks into spaces, as the IMDB loader does, so
    that the exported model can be fed raw reviews.
    """
    from kdl_transformer.text import (
        adapt_text_vectorization,
        lower_strip_line_breaks_and_punctuation,
        make_text_vectorization,
    )

    vectorizer = make_text_vectorization(
        max_tokens=config.vocab_size, sequence_length=config.sequence_length,
        standardize=lower_strip_line_breaks_and_punctuation,
    )
    if vocabulary is not None:
        vectorizer.set_vocabulary(vocabulary)
    else:
        adapt_text_vectorization(vectorizer, texts)
    return vectorizer


def save_vocabulary(run_dir, vectorizer):
    path = run_dir.path / VOCABULARY_FILE
    path.write_text("\n".join(vectorizer.get_vocabulary()) + "\n", encoding="utf-8")
    return path


def read_vocabulary(run_dir):
    path = run_dir.path / VOCABULARY_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"No vocabulary in {run_dir.path} (expected {VOCABULARY_FILE}); "
            "is it a classifier run directory? Train one with `kdl-transformer train classifier`."
        )
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def vectorize(vectorizer, texts, batch_size=1024):
    """Token ids of `texts`: int64 numpy array (n, sequence_length)."""
    import tensorflow as tf

    texts = check_texts(texts)
    if not texts:
        return np.zeros((0, vectorizer.get_config()["output_sequence_length"]), dtype="int64")
    chunks = [
        keras.ops.convert_to_numpy(vectorizer(tf.constant(texts[i : i + batch_size], tf.string)))
        for i in range(0, len(texts), batch_size)
    ]
    return np.concatenate(chunks).astype("int64")


def _review_lengths(token_ids):
    import tensorflow as tf

    return tf.reduce_sum(tf.cast(token_ids != 0, tf.int32), axis=-1)


def _sort_by_length(token_ids, labels):
    """Sort a window of reviews by length, so that each batch holds similar lengths."""
    import tensorflow as tf

    order = tf.argsort(_review_lengths(token_ids))
    return tf.gather(token_ids, order), tf.gather(labels, order)


def _trim_padding(token_ids, labels):
    """Cut a batch to its longest review (the padding mask hides the rest anyway)."""
    import tensorflow as tf

    longest = tf.maximum(tf.reduce_max(_review_lengths(token_ids)), 1)
    return token_ids[:, :longest], labels


def make_dataset(token_ids, labels, batch_size, shuffle=False, seed=None, token_dropout=0.0,
                 window_batches=16):
    """Batches `(token ids (B, T), labels (B, 1) float32)` of reviews of similar lengths.

    Reviews are sorted by length within windows of `window_batches` batches (length
    bucketing), and each batch is cut to its longest review: IMDB reviews are much
    shorter than `sequence_length` on average, so most of the padding, and of the
    attention's T x T work, disappears. With `shuffle`, the reviews are reshuffled
    every epoch (and the batches of each window too), and `token_dropout` replaces
    that share of the words by the out-of-vocabulary id (word dropout).
    """
    import tensorflow as tf

    labels = np.asarray(labels, dtype="float32").reshape(-1, 1)
    batches = -(-len(token_ids) // batch_size)
    dataset = tf.data.Dataset.from_tensor_slices((token_ids, labels))
    if shuffle:
        dataset = dataset.shuffle(len(token_ids), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size * window_batches).map(_sort_by_length).unbatch()
    dataset = dataset.batch(batch_size).map(_trim_padding)
    if shuffle and token_dropout:
        from kdl_transformer.text import word_dropout

        dataset = dataset.map(  # id 1 is TextVectorization's out-of-vocabulary token
            lambda ids, labels: (word_dropout(ids, token_dropout, unk_id=1, seed=seed), labels)
        )
    if shuffle:  # do not feed each window's batches shortest-first
        dataset = dataset.shuffle(window_batches, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def predict_ids(model, token_ids, batch_size=256):
    """P(positive) for each row of token ids (n, T), in order, as float32 (n,).

    The rows are run shortest-first in batches cut to their longest row (no work on
    padding), then put back in the input order.
    """
    import tensorflow as tf

    token_ids = np.asarray(token_ids)
    order = np.argsort((token_ids != 0).sum(axis=1), kind="stable")
    dataset = tf.data.Dataset.from_tensor_slices(token_ids[order]).batch(batch_size)
    dataset = dataset.map(lambda ids: _trim_padding(ids, None)[0]).prefetch(tf.data.AUTOTUNE)
    probabilities = np.empty(len(token_ids), dtype="float32")
    probabilities[order] = model.predict(dataset, verbose=0).reshape(-1)
    return probabilities


# ----------------------------------------------------------------------------- training
def make_optimizer(config, steps_per_epoch):
    """The optimizer of `config`, with linear warm-up + cosine decay when schedule="cosine"."""
    learning_rate = config.learning_rate
    if config.schedule == "cosine":
        total = max(1, steps_per_epoch * config.epochs)
        warmup = int(config.warmup_fraction * total)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else config.learning_rate,
            decay_steps=max(1, total - warmup),
            warmup_target=config.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.RMSprop(learning_rate)


def compile_classifier(model, config, steps_per_epoch):
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    return model


def _check_same_config(run_dir, config):
    if not run_dir.config_path.exists():
        return
    saved = training.load_config(run_dir, ClassifierConfig)
    if saved != config:
        changed = sorted(
            name for name, value in dataclasses.asdict(config).items()
            if dataclasses.asdict(saved)[name] != value
        )
        raise ValueError(
            f"{run_dir.path} already holds a classifier run with different settings ({', '.join(changed)}); "
            "pass a new --out folder, or the same settings to resume it."
        )


def fit_classifier(config, train, val, out, verbose="auto", extra_callbacks=()):
    """Train a classifier on `train`/`val` `(texts, labels)` into run directory `out`.

    Adapts the vectorizer on the training texts (or, when resuming, reads the saved
    vocabulary), trains with `kdl_transformer.training.fit` (EarlyStopping on
    `config.monitor`, best checkpoint, BackupAndRestore, TensorBoard) and records the
    training throughput in metrics.json.

    Returns:
        `(text_model, history)`: the end-to-end model over raw strings (best
        weights) and the history dict.
    """
    run_dir = training.RunDir(out)
    _check_same_config(run_dir, config)
    training.save_config(run_dir, config)
    keras.utils.set_random_seed(config.seed)
    train_texts, train_labels = check_texts(train[0]), np.asarray(train[1])
    val_texts, val_labels = check_texts(val[0]), np.asarray(val[1])
    if (run_dir.path / VOCABULARY_FILE).exists():  # resuming: the ids must not change
        vectorizer = make_vectorizer(config, vocabulary=read_vocabulary(run_dir))
    else:
        vectorizer = make_vectorizer(config, texts=train_texts)
        save_vocabulary(run_dir, vectorizer)
    train_ds = make_dataset(vectorize(vectorizer, train_texts), train_labels,
                            config.batch_size, shuffle=True, seed=config.seed,
                            token_dropout=config.token_dropout,
                            window_batches=config.bucket_window)
    val_ds = make_dataset(vectorize(vectorizer, val_texts), val_labels, 256)
    model = build_classifier(config)
    compile_classifier(model, config, math.ceil(len(train_texts) / config.batch_size))
    history = training.fit(
        model, train_ds, val_ds, run_dir, config.epochs, monitor=config.monitor,
        mode="min" if config.monitor == "val_loss" else "max", patience=config.patience,
        verbose=verbose, extra_callbacks=extra_callbacks, average_best=config.average_best,
    )
    metrics = run_dir.read_json("metrics.json", default={})
    if metrics.get("train_seconds"):
        run_dir.update_metrics(
            train_examples=len(train_texts),
            val_examples=len(val_texts),
            train_examples_per_second=round(
                len(train_texts) * metrics["epochs_trained"] / metrics["train_seconds"], 1
            ),
        )
    return build_text_classifier(vectorizer, model), history


def _subset(split, size, seed):
    """A seeded, class-balanced subset of a `(texts, labels)` split."""
    texts, labels = split
    rng = np.random.default_rng(seed)
    picked = np.concatenate([
        rng.permutation(np.flatnonzero(labels == label))[: size // 2] for label in (0, 1)
    ])
    picked = rng.permutation(picked)
    return [texts[i] for i in picked], np.asarray(labels)[picked]


def load_data(config, data_dir=None, quick=False):
    """IMDB train/val/test `(texts, labels)` for `config` (small subsets in quick mode)."""
    from kdl_transformer.datasets import load_imdb

    data = load_imdb(data_dir=data_dir, validation_split=config.validation_fraction,
                     seed=config.seed)
    splits = {"train": data.train, "val": data.val, "test": data.test}
    if is_quick(quick):
        splits = {name: _subset(split, QUICK_SIZES[name], config.seed)
                  for name, split in splits.items()}
    return splits


def train(out, data_dir=None, epochs=None, quick=False, overrides=None, verbose="auto"):
    """Train the IMDB classifier into run directory `out` (resumable; see module docs).

    Args:
        out: run directory (created).
        data_dir: folder holding aclImdb_v1.tar.gz (default: $KDL_DATA_DIR, cache, download).
        epochs: maximum number of epochs (default: the config's).
        quick: tiny subset (512 train / 256 test reviews, 2 epochs) and model; also with KDL_QUICK=1.
        overrides: dict of ClassifierConfig field -> value string (`--set key=value`).

    Returns:
        The run directory `Path`.
    """
    config = make_config(quick, epochs, overrides)
    splits = load_data(config, data_dir, quick)
    fit_classifier(config, splits["train"], splits["val"], out, verbose=verbose)
    return Path(out)


# ----------------------------------------------------------------------------- using a run
def load_text_classifier(run_dir):
    """Rebuild the end-to-end string model of a run: saved vocabulary + best model.keras."""
    run_dir = training.RunDir(run_dir)
    run_dir.require_model()
    config = training.load_config(run_dir, ClassifierConfig)
    vectorizer = make_vectorizer(config, vocabulary=read_vocabulary(run_dir))
    model = keras.saving.load_model(run_dir.model_path)
    return build_text_classifier(vectorizer, model)


def predict_texts(text_model, texts, batch_size=256):
    """P(positive) of each review with an end-to-end text model, as a float32 array (n,)."""
    import tensorflow as tf

    texts = check_texts(texts)
    if not texts:
        return np.zeros((0,), dtype="float32")
    if len(texts) <= batch_size:  # one eager call: no tracing for a handful of reviews
        return keras.ops.convert_to_numpy(text_model(tf.constant(texts), training=False)).reshape(-1)
    vectorizer, model = split_text_classifier(text_model)
    return predict_ids(model, vectorize(vectorizer, texts), batch_size)  # compiled, bucketed


def predict(run_dir, texts):
    """P(positive) of each review, a list of floats in [0, 1]."""
    texts = check_texts(texts)
    return [float(p) for p in predict_texts(load_text_classifier(run_dir), texts)]


def classification_report(labels, probabilities):
    """Accuracy, binary cross-entropy and the 2x2 confusion matrix (rows: true neg/pos)."""
    labels = np.asarray(labels).astype("int64").reshape(-1)
    probabilities = np.asarray(probabilities, dtype="float64").reshape(-1)
    predicted = (probabilities >= 0.5).astype("int64")
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    matrix = np.zeros((2, 2), dtype="int64")
    np.add.at(matrix, (labels, predicted), 1)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "loss": float(loss),
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_labels": ["negative", "positive"],
        "examples": int(len(labels)),
    }


def evaluate(run_dir, data_dir=None, quick=False):
    """Evaluate a run on the official IMDB test reviews (25,000; 256 in quick mode).

    Writes `test_accuracy`, `test_loss`, `test_confusion_matrix` ([[TN, FP], [FN, TP]]),
    `test_examples` and the inference speed into RUN_DIR/metrics.json.

    Returns:
        The dict of test metrics.
    """
    text_model = load_text_classifier(run_dir)
    run_dir = training.RunDir(run_dir)
    config = training.load_config(run_dir, ClassifierConfig)
    texts, labels = load_data(config, data_dir, quick)["test"]
    start = time.perf_counter()
    probabilities = predict_texts(text_model, texts)
    seconds = time.perf_counter() - start
    report = classification_report(labels, probabilities)
    metrics = {
        "test_accuracy": report["accuracy"],
        "test_loss": report["loss"],
        "test_confusion_matrix": report["confusion_matrix"],
        "test_confusion_matrix_labels": report["confusion_matrix_labels"],
        "test_examples": report["examples"],
        "test_quick": is_quick(quick),
        "inference_seconds": round(seconds, 2),
        "inference_examples_per_second": round(len(texts) / max(seconds, 1e-9), 1),
    }
    run_dir.update_metrics(**metrics)
    return metrics


def token_labels(vectorizer, token_ids):
    """The words of a row of token ids (padding dropped)."""
    vocabulary = vectorizer.get_vocabulary()
    return [vocabulary[i] for i in token_ids if i != 0]


def plot_review_attention(text_model, text, out, max_tokens=ATTENTION_MAX_TOKENS):
    """Write the attention maps of one review to PNGs and return their paths.

    `out` gets every encoder block's per-head heatmaps (and their mean), the
    attention rollout and the share of max-pool wins per token, stacked into one
    image; `<out stem>_layer<i>.png` and `<out stem>_importance.png` hold the parts.
    Only the first `max_tokens` words are drawn (the model still reads the review
    up to its sequence length).
    """
    [text] = check_texts([text])
    vectorizer, model = split_text_classifier(text_model)
    token_ids = vectorize(vectorizer, [text])  # (1, T)
    padding_mask = token_ids != 0
    hidden, scores = encode_with_attention(model, token_ids)  # (1, T, D), [(1, H, T, T)]
    tokens = token_labels(vectorizer, token_ids[0])
    if not tokens:
        raise ValueError(
            f"The review {text!r:.60} has no word known to the vocabulary; "
            "pass a longer English review."
        )
    shown = tokens[:max_tokens]
    [probability] = predict_texts(text_model, [text])
    out = Path(out)
    parts = []
    for index, layer_scores in enumerate(scores):
        figure = plotting.plot_attention_heads(
            layer_scores[0, :, : len(shown), : len(shown)], shown, shown,
            title=f"encoder block {index}: self-attention (셀프 어텐션), P(positive)={probability:.2f}",
        )
        parts.append(plotting.save_figure(figure, out.with_name(f"{out.stem}_layer{index}.png")))
    importance = np.stack([
        attention_rollout(scores, padding_mask)[0],
        max_pool_wins(hidden, padding_mask)[0],
    ])[:, : len(shown)]  # (2, shown)
    figure = plotting.plot_attention(
        importance, shown, ["attention rollout", "max-pool wins"],
        title="per-token importance (share over the review)",
    )
    parts.append(plotting.save_figure(figure, out.with_name(f"{out.stem}_importance.png")))
    _stack_images(parts, out)
    return [out, *parts]


def _stack_images(paths, out):
    """Stack PNGs vertically (left-aligned, white padding) into one PNG."""
    import matplotlib.image

    images = [matplotlib.image.imread(path)[..., :3] for path in paths]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0)), constant_values=1.0)
              for image in images]
    out.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(out, np.concatenate(padded, axis=0))
    return out


def attention(run_dir, text, out=None):
    """Plot the attention maps of `text` under a trained run; returns the PNG path.

    Args:
        run_dir: a classifier run directory.
        text: one review.
        out: PNG path (default RUN_DIR/attention.png).
    """
    out = Path(out) if out is not None else Path(run_dir) / "attention.png"
    return plot_review_attention(load_text_classifier(run_dir), text, out)[0]


def export(run_dir, out):
    """Export a run as a SavedModel: `serve(tf.string [None]) -> {"probability": [None]}`."""
    from kdl_transformer.export import export_classifier

    return export_classifier(load_text_classifier(run_dir), out)


# ----------------------------------------------------------------------------- demo
DEMO_REVIEWS = (
    "The acting was brilliant and I loved the music.",
    "The plot was not clever, and the ending was boring.",
    "I did not enjoy the story.",
    "The film was not bad. I liked the cast.",
)


def demo(out, train_size=3000, epochs=None, verbose=2):
    """Train a tiny classifier on synthetic reviews (offline, seconds) and print predictions.

    Returns:
        dict with the held-out synthetic accuracy, the run directory and the predictions.
    """
    from kdl_transformer.datasets import make_reviews

    config = ClassifierConfig.demo()
    if epochs is not None:
        config = dataclasses.replace(config, epochs=int(epochs))
    out = Path(out)
    texts, labels = make_reviews(train_size, seed=0)
    n_val = int(config.validation_fraction * train_size)
    test_texts, test_labels = make_reviews(400, seed=1)
    text_model, _ = fit_classifier(
        config, (texts[n_val:], labels[n_val:]), (texts[:n_val], labels[:n_val]), out,
        verbose=verbose,
    )
    report = classification_report(test_labels, predict_texts(text_model, test_texts))
    training.RunDir(out).update_metrics(
        synthetic_test_accuracy=report["accuracy"], synthetic_test_examples=report["examples"]
    )
    print(f"accuracy on {report['examples']} held-out synthetic reviews: {report['accuracy']:.3f}")
    predictions = predict_texts(text_model, list(DEMO_REVIEWS))
    for review, probability in zip(DEMO_REVIEWS, predictions):
        print(f"{probability:.3f}  {'positive' if probability >= 0.5 else 'negative'}  {review}")
    attention_png = plot_review_attention(text_model, DEMO_REVIEWS[1], out / "attention.png")[0]
    print(f"wrote {attention_png}")
    return {
        "run_dir": out,
        "synthetic_test_accuracy": report["accuracy"],
        "predictions": dict(zip(DEMO_REVIEWS, map(float, predictions))),
        "attention_png": attention_png,
    }
