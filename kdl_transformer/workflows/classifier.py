"""IMDB sentiment classification end to end: train, evaluate, predict, attention, export.

These functions are what `kdl-transformer train/evaluate/predict/attention/export
classifier` and the notebook call. A run directory holds:

    RUN_DIR/
      config.json          ClassifierConfig
      vocabulary.txt       the vocabulary, one token per line (`classifier_inputs`)
      model.keras          the best model over vectorized reviews (by `monitor`)
      history.json, best_epoch.json, learning_curves.png, logs/ (TensorBoard), backup/
      metrics.json         train_seconds, epochs_trained, then the test results of `evaluate`

The three networks of `ClassifierConfig.model` (the book's Transformer, its bag of bigrams,
a fine-tuned BERT encoder) differ only in their vectorizer and batches
(`workflows.classifier_inputs`) and network (`build_network`); the rest is shared.

Training is resumable: run `train` again with the same `out` after an interruption.
"""

import dataclasses
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from kdl_transformer import distribute, plotting, training
from kdl_transformer.attention_maps import attention_rollout, encode_with_attention, max_pool_wins
from kdl_transformer.configs import ClassifierConfig
from kdl_transformer.evaluation import classification_report
from kdl_transformer.models.classifier import (
    build_classifier,
    build_text_classifier,
    check_texts,
    split_text_classifier,
)
from kdl_transformer.objectives import compile_classifier
from kdl_transformer.workflows.classifier_inputs import (  # noqa: F401  (this module's API too)
    VOCABULARY_FILE,
    load_vectorizer,
    make_dataset,
    make_train_val,
    make_vectorizer,
    predict_batches,
    predict_ids,
    read_vocabulary,
    save_vocabulary,
    vectorize,
    write_vocabulary,
)

QUICK_SIZES = {"train": 512, "val": 128, "test": 256}
QUICK_VARIABLE = "KDL_QUICK"
ATTENTION_MAX_TOKENS = 40  # tokens shown in attention plots
METRIC_LABELS = {"loss": "binary cross-entropy per review", "accuracy": "share of reviews classified right"}


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


# ----------------------------------------------------------------------------- training
def fit_classifier(config, train, val, out, verbose="auto", extra_callbacks=(), strategy=None):
    """Train a classifier on `train`/`val` `(texts, labels)` into run directory `out`.

    Adapts the vectorizer on the training texts (or, when resuming, reads the saved
    vocabulary), trains with `kdl_transformer.training.fit` (best epoch by
    `config.monitor`, early stopping, BackupAndRestore, TensorBoard) and records the
    training throughput in metrics.json. Resuming allows other `epochs` and `patience`
    (`training.check_resumable`), except `epochs` under the cosine schedule, which it sets.
    The model, optimizer and metrics are built in the scope of `strategy` (a
    `tf.distribute.Strategy`; None: one device); `config.batch_size` is the global batch.

    Returns:
        `(text_model, history)`: the end-to-end model over raw strings (best
        weights) and the history dict.
    """
    if config.model == "bert":
        from kdl_transformer.workflows.bert import finetuning_config

        config = finetuning_config(config)  # init_from checked, length capped to the encoder's
    run_dir = training.RunDir(out)
    sets_schedule = {"epochs"} if config.schedule == "cosine" else set()
    training.check_resumable(run_dir, config, training.RESUMABLE_FIELDS - sets_schedule)
    train_texts, train_labels = check_texts(train[0]), np.asarray(train[1])
    val_texts, val_labels = check_texts(val[0]), np.asarray(val[1])

    def prepare(run):  # what the chief writes before training: config and vocabulary
        training.save_config(run, config)
        if not (run.path / VOCABULARY_FILE).exists():  # resuming: the ids must not change
            keras.utils.set_random_seed(config.seed)
            write_vocabulary(run, config, train_texts)

    with training.worker_run_dir(run_dir, strategy, prepare) as run_dir:
        keras.utils.set_random_seed(config.seed)
        vectorizer = load_vectorizer(config, run_dir)
        train_ds, val_ds = make_train_val(config, vectorizer, (train_texts, train_labels),
                                          (val_texts, val_labels),
                                          drop_remainder=distribute.replica_batches(strategy))
        with distribute.strategy_scope(strategy), distribute.precision_scope(config.precision):
            model = build_network(config, vectorizer)
            compile_classifier(model, config, math.ceil(len(train_texts) / config.batch_size))
        history = training.fit(
            model, train_ds, val_ds, run_dir, config.epochs, monitor=config.monitor,
            mode="min" if config.monitor == "val_loss" else "max", patience=config.patience,
            verbose=verbose, extra_callbacks=extra_callbacks, average_best=config.average_best,
            metric_labels=METRIC_LABELS,
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


def build_network(config, vectorizer=None):
    """The network of `config.model` over what its vectorizer makes of a review.

    "transformer": `build_classifier`; "bigrams": `models.bigrams.build_bigram_classifier`
    over as many inputs as `vectorizer` has n-grams; "bert": a `models.bert.BertClassifier`
    on the pretrained backbone of `config.init_from`.
    """
    if config.model == "bigrams":
        from kdl_transformer.models.bigrams import build_bigram_classifier

        return build_bigram_classifier(config, vectorizer.vocabulary_size())
    if config.model == "bert":
        from kdl_transformer.models.bert import BertClassifier
        from kdl_transformer.workflows.bert import load_backbone

        backbone = load_backbone(config.init_from, dropout=config.dropout)
        return BertClassifier(backbone, config.pooling, config.head_dropout)
    return build_classifier(config)


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
                     seed=config.data_seed)
    splits = {"train": data.train, "val": data.val, "test": data.test}
    if is_quick(quick):
        splits = {name: _subset(split, QUICK_SIZES[name], config.data_seed)
                  for name, split in splits.items()}
    return splits


def train(out, data_dir=None, epochs=None, quick=False, overrides=None, verbose="auto",
          strategy="auto", cpu_devices=None):
    """Train the IMDB classifier into run directory `out` (resumable; see module docs).

    Args:
        out: run directory (created).
        data_dir: folder holding aclImdb_v1.tar.gz (default: $KDL_DATA_DIR, cache, download).
        epochs: maximum number of epochs (default: the config's).
        quick: tiny subset (512 train / 256 test reviews, 2 epochs) and model; also with KDL_QUICK=1.
        overrides: dict of ClassifierConfig field -> value string (`--set key=value`).
        verbose: Keras `fit` verbosity.
        strategy: "auto", "one-device", "mirrored", "multi-worker" or a `tf.distribute.Strategy`
            (`kdl_transformer.distribute.make_strategy`); `batch_size` stays the global batch.
        cpu_devices: split the host CPU into this many logical devices (replicas on a CPU).

    Returns:
        The run directory `Path`.
    """
    strategy = distribute.make_strategy(strategy, cpu_devices)
    config = make_config(quick, epochs, overrides)
    if config.model == "bert":  # a bad init_from fails before the data are read
        from kdl_transformer.workflows.bert import finetuning_config

        finetuning_config(config)
    splits = load_data(config, data_dir, quick)
    fit_classifier(config, splits["train"], splits["val"], out, verbose=verbose, strategy=strategy)
    return Path(out)


# ----------------------------------------------------------------------------- using a run
def load_text_classifier(run_dir):
    """Rebuild the end-to-end string model of a run: saved vocabulary + best model.keras.

    The model computes in the run's `precision`, as it trained.
    """
    run_dir = training.RunDir(run_dir)
    run_dir.require_model()
    config = training.load_config(run_dir, ClassifierConfig)
    vectorizer = load_vectorizer(config, run_dir)
    with distribute.precision_scope(config.precision):
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
    return predict_batches(vectorizer, model, texts, batch_size)  # compiled, bucketed


def predict(run_dir, texts):
    """P(positive) of each review, a list of floats in [0, 1]."""
    texts = check_texts(texts)
    return [float(p) for p in predict_texts(load_text_classifier(run_dir), texts)]


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
    [probability] = predict_texts(text_model, [text])
    importance = {
        "attention rollout": attention_rollout(scores, padding_mask)[0],  # (T,)
        "max-pool wins": max_pool_wins(hidden, padding_mask)[0],  # (T,)
    }
    return plotting.plot_review_attention([layer_scores[0] for layer_scores in scores], importance,
                                          tokens[:max_tokens], probability, out)


def attention(run_dir, text, out=None):
    """Plot the attention maps of `text` under a trained run; returns the PNG path.

    Args:
        run_dir: a classifier run directory.
        text: one review.
        out: PNG path (default RUN_DIR/attention.png).
    """
    model = training.load_config(training.RunDir(run_dir), ClassifierConfig).model \
        if Path(run_dir).is_dir() else "transformer"  # (a missing run fails just below)
    if model != "transformer":
        raise ValueError(f"{run_dir} holds a model={model!r} classifier; attention maps are "
                         "drawn for model='transformer' runs only.")
    out = Path(out) if out is not None else Path(run_dir) / "attention.png"
    return plot_review_attention(load_text_classifier(run_dir), text, out)[0]


def export(run_dir, out):
    """Export a run as a SavedModel: `serve(tf.string [None]) -> {"probability": [None]}`."""
    from kdl_transformer.export import export_classifier

    return export_classifier(load_text_classifier(run_dir), out)

