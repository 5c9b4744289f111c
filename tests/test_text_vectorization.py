"""The book's TextVectorization path: configuration and adapt helper."""

import pytest
import tensorflow as tf

from kdl_transformer.datasets import make_reviews
from kdl_transformer.text import adapt_text_vectorization, make_text_vectorization


def test_int_vectorization_pads_truncates_and_learns_training_words():
    texts, _ = make_reviews(200, seed=0)
    vectorization = adapt_text_vectorization(make_text_vectorization(max_tokens=50, sequence_length=8), texts)
    vocabulary = vectorization.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) <= 50
    assert "not" in vocabulary and "Not" not in vocabulary  # lowercased
    ids = vectorization(["The movie was NOT good!", "zzz"]).numpy()
    assert ids.shape == (2, 8)
    expected = [vocabulary.index(w) if w in vocabulary else 1 for w in ["the", "movie", "was", "not", "good"]]
    assert ids[0, :5].tolist() == expected and expected.count(1) <= 1
    assert ids[0, 5:].tolist() == [0, 0, 0] and ids[1].tolist() == [1] + [0] * 7


def test_adapt_accepts_a_dataset_and_multi_hot_bigrams():
    texts, _ = make_reviews(100, seed=1)
    vectorization = make_text_vectorization(max_tokens=300, output_mode="multi_hot", ngrams=2)
    adapt_text_vectorization(vectorization, tf.data.Dataset.from_tensor_slices(texts).batch(16))
    assert "not good" in vectorization.get_vocabulary() or "not bad" in vectorization.get_vocabulary()
    assert vectorization(["not good"]).shape == (1, 300)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_tokens=2"):
        make_text_vectorization(max_tokens=2)
    with pytest.raises(ValueError, match="no texts"):
        adapt_text_vectorization(make_text_vectorization(), [])
