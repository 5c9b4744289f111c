"""Texts -> what each classifier network reads: vocabularies, vectorizers, batches, predictions.

The classifier's three networks (`ClassifierConfig.model`) differ only in how a review
becomes their input; training, evaluation and export are shared (`workflows.classifier`):

    transformer  TextVectorization word ids (B, T), 0 = padding; batches of similar lengths
    bigrams      TextVectorization(ngrams=2) multi-hot or TF-IDF vectors (B, n-grams kept)
    bert         WordPieceVectorizer `[CLS] pieces [SEP]` ids (B, T); batches as "transformer"

Each run directory holds the vocabulary as `vocabulary.txt`, one token per line (the word
list of TextVectorization, line 1 its padding ""; the n-grams, line 1 "[UNK]"; or the
WordPiece vocabulary of the pretraining run, line 1 "[PAD]"), plus `idf_weights.txt` for
TF-IDF bigrams.
"""

import dataclasses

import keras
import numpy as np

from kdl_transformer import batching
from kdl_transformer.models.classifier import check_texts

VOCABULARY_FILE = "vocabulary.txt"
IDF_FILE = "idf_weights.txt"


def make_vectorizer(config, vocabulary=None, texts=None, idf_weights=None):
    """The vectorizer of `config.model`, with a given vocabulary or adapted on `texts`.

    "transformer": the book's TextVectorization; "bigrams": the same with `ngrams=2` and
    `config.bigram_output_mode` (TF-IDF also takes `idf_weights`, or computes them from
    `texts`); "bert": a `WordPieceVectorizer` (the vocabulary is the pretraining run's). Their
    standardisation also turns HTML line breaks into spaces, as the IMDB loader does, so
    that the exported model can be fed raw reviews.
    """
    from kdl_transformer.text import (
        adapt_text_vectorization,
        lower_strip_line_breaks_and_punctuation,
        make_text_vectorization,
    )

    if config.model == "bert":
        from kdl_transformer.text.wordpiece import WordPieceVectorizer

        if vocabulary is None:
            raise ValueError("model='bert' reads the WordPiece vocabulary of its init_from run.")
        return WordPieceVectorizer(vocabulary, config.sequence_length, config.truncation)
    bigrams = config.model == "bigrams"
    vectorizer = make_text_vectorization(
        max_tokens=config.vocab_size, sequence_length=config.sequence_length,
        standardize=lower_strip_line_breaks_and_punctuation,
        **(dict(output_mode=config.bigram_output_mode, ngrams=2) if bigrams else {}),
    )
    tf_idf = bigrams and config.bigram_output_mode == "tf_idf"
    if vocabulary is None:
        if not tf_idf:
            return adapt_text_vectorization(vectorizer, texts)
        vocabulary, idf_weights = learn_vocabulary(config, texts)
    vectorizer.set_vocabulary(vocabulary, idf_weights=idf_weights if tf_idf else None)
    return vectorizer


def learn_vocabulary(config, texts):
    """`(vocabulary, idf_weights)` of a word or bigram model from its training `texts`.

    The idf weights (TF-IDF bigrams only, else None) come from the number of training
    reviews holding each n-gram (`text.vectorization.document_frequency_idf`).
    """
    from kdl_transformer.text.vectorization import document_frequency_idf

    if config.model == "bigrams" and config.bigram_output_mode == "tf_idf":
        counter = make_vectorizer(dataclasses.replace(config, bigram_output_mode="multi_hot"),
                                  texts=texts)
        return counter.get_vocabulary(), document_frequency_idf(counter, texts)
    return make_vectorizer(config, texts=texts).get_vocabulary(), None


def write_vocabulary(run_dir, config, texts):
    """Learn the vocabulary of `config.model` from the training `texts` and save it in `run_dir`.

    "bert" copies the WordPiece vocabulary of its pretraining run (`config.init_from`).
    """
    if config.model == "bert":
        from kdl_transformer.text import wordpiece

        vocabulary, idf_weights = wordpiece.read_vocabulary(config.init_from), None
    else:
        vocabulary, idf_weights = learn_vocabulary(config, texts)
    (run_dir.path / VOCABULARY_FILE).write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    if idf_weights is not None:
        (run_dir.path / IDF_FILE).write_text("\n".join(f"{w:.9g}" for w in idf_weights) + "\n")


def save_vocabulary(run_dir, vectorizer):
    """Write the vocabulary of an adapted vectorizer into the run directory, one token per line."""
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


def read_idf_weights(run_dir):
    """The TF-IDF weights saved with a run, or None when it has none."""
    path = run_dir.path / IDF_FILE
    return np.loadtxt(path, dtype="float64", ndmin=1) if path.exists() else None


def load_vectorizer(config, run_dir):
    """The vectorizer of a run directory, from its saved vocabulary (and TF-IDF weights)."""
    return make_vectorizer(config, vocabulary=read_vocabulary(run_dir),
                           idf_weights=read_idf_weights(run_dir))


def vectorize(vectorizer, texts, batch_size=1024):
    """Token ids of `texts`: int64 numpy array (n, sequence_length)."""
    import tensorflow as tf

    texts = check_texts(texts)
    if not texts:
        width = vectorizer.get_config().get("output_sequence_length") or vectorizer.get_config().get(
            "sequence_length")
        return np.zeros((0, width), dtype="int64")
    chunks = [
        keras.ops.convert_to_numpy(vectorizer(tf.constant(texts[i : i + batch_size], tf.string)))
        for i in range(0, len(texts), batch_size)
    ]
    return np.concatenate(chunks).astype("int64")


def make_dataset(token_ids, labels, batch_size, shuffle=False, seed=None, token_dropout=0.0,
                 window_batches=16, drop_remainder=False, keep_ids=()):
    """Batches `(token ids (B, T), labels (B, 1) float32)` of reviews of similar lengths.

    `kdl_transformer.batching.length_bucketed_dataset`, sorted by review length: each batch
    is cut to its longest review. With `shuffle`, `token_dropout` replaces that share of the
    words by the out-of-vocabulary id 1 (word dropout; never `keep_ids`, e.g. [CLS] and
    [SEP]). `drop_remainder` drops the last, partial batch (training on several replicas:
    `distribute.replica_batches`).
    """
    from kdl_transformer.text import word_dropout

    def augment(ids):  # id 1 is TextVectorization's out-of-vocabulary token, and WordPiece's [UNK]
        return word_dropout(ids, token_dropout, unk_id=1, seed=seed, keep_ids=keep_ids)

    labels = np.asarray(labels, dtype="float32").reshape(-1, 1)
    return batching.length_bucketed_dataset(
        token_ids, labels, batch_size, shuffle=shuffle, seed=seed, window_batches=window_batches,
        augment=augment if token_dropout else None, drop_remainder=drop_remainder,
    )


def make_vector_dataset(vectorizer, texts, labels, batch_size, shuffle=False, seed=None,
                        drop_remainder=False):
    """Batches `(vectors (B, n-grams), labels (B, 1))` vectorized on the fly (bag of bigrams).

    Reviews go in as strings and are vectorized batch by batch: the 25,000 multi-hot rows of
    20,000 entries would fill 2 GB at once.
    """
    import tensorflow as tf

    labels = np.asarray(labels, dtype="float32").reshape(-1, 1)
    dataset = tf.data.Dataset.from_tensor_slices((tf.constant(check_texts(texts), tf.string), labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.map(lambda x, y: (vectorizer(x), y), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def make_train_val(config, vectorizer, train, val, drop_remainder=False):
    """The training and validation batches of `config.model` from `(texts, labels)` splits."""
    if config.model == "bigrams":
        return (make_vector_dataset(vectorizer, *train, config.batch_size, shuffle=True,
                                    seed=config.seed, drop_remainder=drop_remainder),
                make_vector_dataset(vectorizer, *val, 256))
    from kdl_transformer.text.wordpiece import CLS_ID, SEP_ID

    keep_ids = (CLS_ID, SEP_ID) if config.model == "bert" else ()
    train_ds = make_dataset(vectorize(vectorizer, train[0]), train[1], config.batch_size,
                            shuffle=True, seed=config.seed, token_dropout=config.token_dropout,
                            window_batches=config.bucket_window, drop_remainder=drop_remainder,
                            keep_ids=keep_ids)
    return train_ds, make_dataset(vectorize(vectorizer, val[0]), val[1], 256)


def predict_ids(model, token_ids, batch_size=256):
    """P(positive) for each row of token ids (n, T), in order, as float32 (n,).

    The rows are run shortest-first in batches cut to their longest row (no work on
    padding), then put back in the input order.
    """
    import tensorflow as tf

    token_ids = np.asarray(token_ids)
    order = np.argsort((token_ids != 0).sum(axis=1), kind="stable")
    dataset = tf.data.Dataset.from_tensor_slices(token_ids[order]).batch(batch_size)
    dataset = dataset.map(batching.trim_padding).prefetch(tf.data.AUTOTUNE)
    probabilities = np.empty(len(token_ids), dtype="float32")
    probabilities[order] = model.predict(dataset, verbose=0).reshape(-1)
    return probabilities


def predict_batches(vectorizer, model, texts, batch_size=256):
    """P(positive) of many reviews, in order: bucketed token ids, or vectors batch by batch."""
    if isinstance(vectorizer, keras.layers.TextVectorization) and \
            vectorizer.get_config()["output_mode"] != "int":
        dataset = make_vector_dataset(vectorizer, texts, np.zeros(len(texts)), batch_size)
        return model.predict(dataset.map(lambda x, y: x), verbose=0).reshape(-1)
    return predict_ids(model, vectorize(vectorizer, texts), batch_size)
