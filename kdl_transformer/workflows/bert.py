"""BERT-style pretraining of the encoder on IMDB reviews, and what fine-tuning takes from it.

`kdl-transformer pretrain bert --out runs/bert` calls `pretrain`; `kdl-transformer train
classifier --set init_from=runs/bert` fine-tunes it (`finetuning_config`, `load_backbone`).
The pretraining text is the IMDB training reviews minus the classifier's validation split
(`load_pretraining_reviews`: the same seeded split as `ClassifierConfig`'s); the official
test reviews are never read. A run directory holds:

    RUN_DIR/
      config.json          BertConfig
      vocabulary.txt       the WordPiece vocabulary, learnt on the pretraining reviews
      model.keras          the best BertPretrainer (by validation masked-LM loss)
      history.json, best_epoch.json, learning_curves.png, logs/ (TensorBoard), backup/
      metrics.json         train_seconds, epochs_trained, vocabulary_seconds,
                           pretrain_seconds (vocabulary + training), the validation
                           masked-token (and NSP) accuracy of the kept model, data counts

`pretraining_dataset` makes the examples of a config (the notebook shows some with
`text.pretraining_data.describe_example`); `masked_predictions` (the masked-LM head's best
guesses), `encode_with_attention` and `cls_attention` (where [CLS] looks in a review) look
inside a trained model.

Pretraining is resumable: run `pretrain` again with the same `out` after an interruption
(an interrupted run restarts its current epoch's masks from a new draw; the weights and the
learning-rate schedule resume exactly).
"""

import dataclasses
import math
import time
from pathlib import Path

import keras
import numpy as np

from kdl_transformer import training
from kdl_transformer.configs import BertConfig
from kdl_transformer.workflows.classifier import is_quick

TOP_K = 5  # masked-LM guesses shown per masked position

QUICK_REVIEWS = 384  # pretraining reviews in quick mode (the rest of the tiny run as quick())
METRIC_LABELS = {
    "loss": "masked-LM (+ NSP) cross-entropy per masked token",
    "mlm_loss": "cross-entropy per masked token",
    "mlm_accuracy": "masked-token accuracy (share of masked tokens predicted right)",
    "nsp_loss": "next-sentence binary cross-entropy",
    "nsp_accuracy": "share of pairs told right (next or random)",
}


def make_config(quick=False, epochs=None, overrides=None):
    """The config of a run: the default (or quick) recipe, `--set` overrides, then `epochs`."""
    config = BertConfig.quick() if is_quick(quick) else BertConfig()
    config = training.apply_overrides(config, overrides)
    if epochs is not None:
        config = dataclasses.replace(config, epochs=int(epochs))
    return config


def load_pretraining_reviews(config, data_dir=None, quick=False):
    """`(train_texts, val_texts)`: the reviews to pretrain on and those to validate on.

    Both come from the classifier's training split of the official IMDB training reviews
    (`validation_fraction` and `seed` as in `ClassifierConfig`), so that neither the
    classifier's validation reviews nor the official test reviews (never read) are in
    either. `config.validation_reviews` of them (seeded) are the validation set.
    """
    from kdl_transformer.datasets import load_imdb

    data = load_imdb(data_dir=data_dir, validation_split=config.validation_fraction,
                     seed=config.seed, with_test=False)
    texts = data.train.texts
    rng = np.random.default_rng(config.seed)
    if is_quick(quick):
        texts = [texts[i] for i in np.sort(rng.permutation(len(texts))[:QUICK_REVIEWS])]
    if len(texts) <= config.validation_reviews + 1:
        raise ValueError(
            f"validation_reviews={config.validation_reviews} leaves no pretraining review out "
            f"of {len(texts)}; hold out fewer."
        )
    order = rng.permutation(len(texts))
    val = [texts[i] for i in np.sort(order[: config.validation_reviews])]
    return [texts[i] for i in np.sort(order[config.validation_reviews :])], val


def pretraining_dataset(config, corpus, vocabulary_size, training=True, seed=0, batch_size=None):
    """The examples `fit_bert` trains (or validates) on: `make_pretraining_dataset` with the
    length, masking, NSP setting and batch size of a `BertConfig` (`batch_size` overrides it).
    """
    from kdl_transformer.text import pretraining_data

    return pretraining_data.make_pretraining_dataset(
        corpus, vocabulary_size, config.sequence_length, batch_size or config.batch_size,
        nsp=config.nsp, mask_rate=config.mask_rate, mask_token_rate=config.mask_token_rate,
        random_token_rate=config.random_token_rate, max_predictions=config.max_predictions,
        training=training, seed=seed, trim=not config.jit_compile,
    )


def fit_bert(config, train_texts, val_texts, out, verbose="auto", extra_callbacks=()):
    """Pretrain a `BertPretrainer` on `train_texts` into run directory `out` (resumable).

    Learns the WordPiece vocabulary on `train_texts` (or, when resuming, reads the saved
    one), tokenizes the reviews once, then trains with `training.fit` on examples made
    anew every epoch (`text.pretraining_data`), validating with fixed masks on `val_texts`.

    Returns:
        `(model, history)`: the pretrainer with the kept weights, and the history dict.
    """
    from kdl_transformer.models.bert import BertPretrainer, build_bert_backbone
    from kdl_transformer.objectives import compile_bert_pretrainer
    from kdl_transformer.text import pretraining_data, wordpiece

    run_dir = training.RunDir(out)
    training.check_resumable(run_dir, config, frozenset())  # epochs fix the schedule too
    training.save_config(run_dir, config)
    if not (run_dir.path / wordpiece.VOCABULARY_FILE).exists():  # resuming: keep the ids
        start = time.perf_counter()
        wordpiece.save_vocabulary(run_dir.path, wordpiece.train_wordpiece_vocabulary(
            train_texts, config.vocab_size))
        run_dir.update_metrics(vocabulary_seconds=round(time.perf_counter() - start, 2))
    vocabulary = wordpiece.read_vocabulary(run_dir.path)
    keras.utils.set_random_seed(config.seed)
    tokenizer = wordpiece.make_wordpiece_tokenizer(vocabulary)
    train_corpus = pretraining_data.encode_corpus(train_texts, tokenizer)
    val_corpus = pretraining_data.encode_corpus(val_texts, tokenizer)
    train_ds = pretraining_dataset(config, train_corpus, len(vocabulary), seed=config.seed)
    val_ds = pretraining_dataset(config, val_corpus, len(vocabulary), training=False,
                                 seed=config.seed + 1)
    steps = config.steps_per_epoch or math.ceil(train_corpus.size / config.batch_size)
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    backbone = build_bert_backbone(dataclasses.replace(config, vocab_size=len(vocabulary)))
    model = BertPretrainer(backbone, nsp=config.nsp, name="bert_pretrainer")
    compile_bert_pretrainer(model, config, steps)
    mlm_loss = "mlm_loss" if config.nsp else "loss"  # how Keras names it (compile_bert_pretrainer)
    history = training.fit(
        model, train_ds, val_ds, run_dir, config.epochs, monitor=f"val_{mlm_loss}", mode="min",
        patience=config.epochs, verbose=verbose, extra_callbacks=extra_callbacks,
        steps_per_epoch=steps if config.steps_per_epoch else None, metric_labels=METRIC_LABELS,
    )
    kept = model.evaluate(val_ds, return_dict=True, verbose=0)
    metrics = run_dir.read_json("metrics.json", default={})
    seconds = metrics.get("train_seconds", 0.0)
    run_dir.update_metrics(
        pretrain_seconds=round(metrics.get("vocabulary_seconds", 0.0) + seconds, 2),
        val_masked_accuracy=round(float(kept["mlm_accuracy"]), 4),
        val_mlm_loss=round(float(kept[mlm_loss]), 4),
        **({"val_nsp_accuracy": round(float(kept["nsp_accuracy"]), 4)} if config.nsp else {}),
        vocabulary_size=len(vocabulary),
        pretraining_reviews=train_corpus.size,
        validation_reviews=val_corpus.size,
        steps_per_epoch=steps,
        seconds_per_step=round(seconds / max(steps * metrics.get("epochs_trained", 0), 1), 4),
    )
    return model, history


def pretrain(out, data_dir=None, epochs=None, quick=False, overrides=None, verbose="auto"):
    """Pretrain BERT on the IMDB training reviews into run directory `out` (resumable).

    Args:
        out: run directory (created).
        data_dir: folder holding aclImdb_v1.tar.gz (default: $KDL_DATA_DIR, cache, download).
        epochs: passes over the pretraining reviews (default: the config's).
        quick: 384 reviews and a tiny model (`BertConfig.quick`); also with KDL_QUICK=1.
        overrides: dict of BertConfig field -> value string (`--set key=value`), e.g.
            {"nsp": "false"} for the masked-LM-only ablation.
        verbose: Keras `fit` verbosity.

    Returns:
        The run directory `Path`.
    """
    config = make_config(quick, epochs, overrides)
    train_texts, val_texts = load_pretraining_reviews(config, data_dir, quick)
    fit_bert(config, train_texts, val_texts, out, verbose=verbose)
    return Path(out)


# ----------------------------------------------------------------------------- fine-tuning
def _pretraining_run(path):
    """The run directory of a finished pretraining, or one clear error."""
    path = Path(path)
    finished = path.is_dir() and (path / "config.json").exists() and \
        training.is_finished(training.RunDir(path))
    if not finished:
        raise FileNotFoundError(
            f"init_from={str(path)!r} is not a finished `kdl-transformer pretrain bert` run "
            f"(no model.keras and history there); pretrain one with `kdl-transformer pretrain "
            f"bert --out {path}` or fix the path."
        )
    return training.RunDir(path)


def finetuning_config(config):
    """Check a `ClassifierConfig` with model="bert" against its pretraining run; cap its length.

    Raises a clear error when `config.init_from` is no finished pretraining run, or when the
    classifier's validation split is not the one held out of pretraining. Reviews are cut to
    the encoder's position table: the returned config has `sequence_length` at most the
    pretraining run's.
    """
    run_dir = _pretraining_run(config.init_from)
    pretrained = training.load_config(run_dir, BertConfig)
    held_out = (pretrained.validation_fraction, pretrained.seed)
    if (config.validation_fraction, config.data_seed) != held_out:
        raise ValueError(
            f"{run_dir.path} was pretrained without the validation split of "
            f"validation_fraction={held_out[0]}, seed={held_out[1]}; fine-tune with that "
            "validation_fraction and seed (or split_seed), so that no validation review was "
            "seen in pretraining."
        )
    length = min(config.sequence_length, pretrained.sequence_length)
    return dataclasses.replace(config, sequence_length=length)


def load_backbone(run_dir, dropout=None):
    """The `BertBackbone` of a finished pretraining run, with its kept (best) weights.

    Args:
        run_dir: a finished `kdl-transformer pretrain bert` run directory.
        dropout: float, the dropout rate of the returned backbone (fine-tuning sets its
            own); None keeps the pretraining one.
    """
    from kdl_transformer.models.bert import BertBackbone

    run_dir = _pretraining_run(run_dir)
    backbone = keras.saving.load_model(run_dir.model_path, compile=False).backbone
    if dropout is None or dropout == backbone.dropout:
        return backbone
    rebuilt = BertBackbone.from_config({**backbone.get_config(), "dropout": dropout})
    rebuilt.set_weights(backbone.get_weights())
    return rebuilt


# ----------------------------------------------------------------------------- looking inside
def masked_predictions(model, x, y, vocabulary, k=TOP_K, index=0):
    """The masked-LM head's `k` best guesses at every chosen position of one example.

    Args:
        model: a `BertPretrainer` (e.g. `keras.saving.load_model(RUN_DIR/"model.keras")`).
        x, y: one batch of `pretraining_dataset` (x: "token_ids", "segment_ids",
            "mask_positions"; y: "mlm", the original ids, 0 in unused slots).
        vocabulary: list of str, the run's WordPiece vocabulary.
        k: guesses per position.
        index: which example of the batch.

    Returns:
        list with one dict per chosen position, by position: "position", "original" (the
        piece to guess), "top" (the `k` best `(piece, probability)`, best first) and "rank"
        (1 = the original is the best guess; None: not among the `k`).
    """
    logits = keras.ops.convert_to_numpy(model(x, training=False)["mlm"])[index]  # (P, V)
    logits = logits.astype("float64")
    probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    positions = np.asarray(x["mask_positions"])[index]  # (P,)
    targets = np.asarray(y["mlm"])[index]  # (P,)
    rows = []
    for slot in np.argsort(positions):
        if targets[slot] == 0:  # an unused slot
            continue
        best = np.argsort(-probabilities[slot])[:k]
        guesses = [int(i) for i in best]
        rank = guesses.index(int(targets[slot])) + 1 if int(targets[slot]) in guesses else None
        rows.append({"position": int(positions[slot]), "original": vocabulary[int(targets[slot])],
                     "top": [(vocabulary[int(i)], float(probabilities[slot, i])) for i in best],
                     "rank": rank})
    return rows


def encode_with_attention(backbone, token_ids, segment_ids=None):
    """Run a `BertBackbone` block by block, keeping every block's attention weights.

    Args:
        backbone: a `BertBackbone` (e.g. a fine-tuned classifier's `.backbone`).
        token_ids: int array (batch, length), 0 = padding.
        segment_ids: int array like `token_ids` (default: all 0, one segment).

    Returns:
        `(hidden, scores)`: the backbone's output (batch, length, embed_dim) as numpy, and a
        list with one numpy array (batch, heads, length, length) per block (rows: queries,
        columns: keys; padded keys get 0).
    """
    token_ids = keras.ops.convert_to_tensor(np.asarray(token_ids, dtype="int32"))
    segment_ids = keras.ops.zeros_like(token_ids) if segment_ids is None else \
        keras.ops.convert_to_tensor(np.asarray(segment_ids, dtype="int32"))
    padding_mask = keras.ops.not_equal(token_ids, 0)  # (B, T)
    x = backbone.get_layer("embeddings")([backbone.get_layer("positional_embedding")(token_ids),
                                          backbone.get_layer("segment_embedding")(segment_ids)])
    x = backbone.get_layer("embedding_norm")(x)  # (B, T, D); dropout is off at inference
    scores = []
    for index in range(backbone.num_layers):
        x, layer_scores = backbone.get_layer(f"encoder_{index}")(
            x, padding_mask=padding_mask, training=False, return_attention_scores=True
        )  # (B, T, D), (B, H, T, T)
        scores.append(keras.ops.convert_to_numpy(layer_scores))
    if backbone.norm_first:
        x = backbone.get_layer("final_norm")(x)
    return keras.ops.convert_to_numpy(x), scores


def cls_attention(text_model, text, layer=-1):
    """Where the [CLS] query of one encoder block looks in one review, head by head.

    Args:
        text_model: a fine-tuned BERT classifier over raw strings
            (`classifier.load_text_classifier` of a model="bert" run).
        text: one review (cut as the classifier cuts it).
        layer: which encoder block (-1: the last, whose [CLS] output the "cls" pooling reads).

    Returns:
        dict: "tokens" (the pieces, [CLS] and [SEP] included), "weights" (heads, tokens)
        numpy, the [CLS] row of every head (each sums to 1), and "probability" (P(positive)).
    """
    from kdl_transformer.models.classifier import check_texts, split_text_classifier
    from kdl_transformer.workflows.classifier import predict_texts, vectorize

    [text] = check_texts([text])
    vectorizer, model = split_text_classifier(text_model)
    token_ids = vectorize(vectorizer, [text])  # (1, T) padded
    token_ids = token_ids[:, : int((token_ids != 0).sum())]  # (1, n): the real pieces
    scores = encode_with_attention(model.backbone, token_ids)[1][layer]  # (1, H, n, n)
    vocabulary = vectorizer.vocabulary
    return {"tokens": [vocabulary[i] for i in token_ids[0]], "weights": scores[0, :, 0, :],
            "probability": float(predict_texts(text_model, [text])[0])}
