"""The book's bag-of-bigrams baseline (`--set model=bigrams`) through the classifier's shared
train / predict / export path, on synthetic reviews (offline)."""

import json

import keras
import numpy as np
import pytest

from kdl_transformer import training
from kdl_transformer.configs import ClassifierConfig
from kdl_transformer.datasets import make_reviews
from kdl_transformer.models.bigrams import build_bigram_classifier
from kdl_transformer.workflows import classifier as workflow

BIGRAMS = dict(model="bigrams", vocab_size=3000, epochs=8, patience=8)


def _fit(tmp_path, **changes):
    texts, labels = make_reviews(1000, seed=0)
    config = ClassifierConfig.demo(**{**BIGRAMS, **changes})
    workflow.fit_classifier(config, (texts[:800], labels[:800]), (texts[800:], labels[800:]),
                            tmp_path, verbose=0)
    return tmp_path


def test_bigram_model_is_the_books():
    model = build_bigram_classifier(ClassifierConfig(model="bigrams", vocab_size=50))
    assert [layer.name for layer in model.layers] == ["ngrams", "hidden", "head_dropout", "probability"]
    assert model.get_layer("hidden").units == 16 and model.get_layer("head_dropout").rate == 0.5
    assert model.count_params() == 50 * 16 + 16 + 16 + 1


def test_bigram_vectors_hold_word_pairs():
    config = ClassifierConfig(model="bigrams", vocab_size=20)
    vectorizer = workflow.make_vectorizer(config, texts=["not good at all", "good fun"])
    assert "not good" in vectorizer.get_vocabulary()
    vectors = np.asarray(vectorizer(np.array(["not good"])))
    size = vectorizer.vocabulary_size()
    assert vectors.shape == (1, size) and set(np.unique(vectors)) == {0.0, 1.0}  # multi-hot
    assert build_bigram_classifier(config, size)(vectors).shape == (1, 1)


def test_bigrams_learn_synthetic_reviews_and_export(tmp_path):
    import tensorflow as tf

    run_dir = _fit(tmp_path)
    held_out, labels = make_reviews(300, seed=7)
    probabilities = np.array(workflow.predict(run_dir, held_out))  # > 256 texts: batched vectors
    assert np.mean((probabilities >= 0.5) == labels) >= 0.9
    text_model = workflow.load_text_classifier(run_dir)
    np.testing.assert_allclose(workflow.predict_texts(text_model, held_out[:5]), probabilities[:5],
                               atol=1e-6)
    reloaded = tf.saved_model.load(str(workflow.export(run_dir, tmp_path / "saved_model")))
    served = reloaded.serve(tf.constant(held_out[:5]))["probability"].numpy()
    np.testing.assert_allclose(served, probabilities[:5], atol=1e-6)
    assert training.load_config(run_dir, ClassifierConfig).model == "bigrams"
    with pytest.raises(ValueError, match="model='transformer' runs only"):
        workflow.attention(run_dir, "A fine film.")


def test_tf_idf_bigrams_save_their_weights_and_reload(tmp_path):
    run_dir = _fit(tmp_path, bigram_output_mode="tf_idf", epochs=2)
    idf = np.loadtxt(run_dir / "idf_weights.txt")
    vocabulary = (run_dir / "vocabulary.txt").read_text().split("\n")[:-1]
    assert len(idf) == len(vocabulary) and vocabulary[0] == "[UNK]"
    assert idf[vocabulary.index("the")] < idf[vocabulary.index("not clever")]  # rarer: weighs more
    texts, _ = make_reviews(4, seed=9)
    text_model = workflow.load_text_classifier(run_dir)
    text_model.save(tmp_path / "text_model.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "text_model.keras").predict(
        texts, verbose=0), text_model.predict(texts, verbose=0), atol=1e-6)
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_trained"] == 2
