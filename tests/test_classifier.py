"""The IMDB classifier model and workflow, on tiny shapes and synthetic reviews (offline)."""

import json

import keras
import numpy as np
import pytest

from kdl_transformer import training
from kdl_transformer.configs import ClassifierConfig
from kdl_transformer.datasets import make_reviews
from kdl_transformer.layers import MaskedGlobalPooling1D
from kdl_transformer.models.classifier import build_classifier, build_text_classifier
from kdl_transformer.workflows import classifier as workflow
from kdl_transformer.workflows import demo
from tests.callbacks import Interrupt, InterruptAfterEpoch, RecordEpochs

TINY = dict(vocab_size=50, sequence_length=8, embed_dim=16, num_heads=2, dense_dim=16,
            head_dropout=0.0)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The offline demo: a tiny classifier trained a few seconds on synthetic reviews."""
    return demo.classifier(tmp_path_factory.mktemp("classifier_demo"), verbose=0)


# ----------------------------------------------------------------------------- model
@pytest.mark.parametrize(
    "changes",
    [{}, {"positions": "sinusoidal", "pooling": "mean_max", "norm_first": True, "num_layers": 2},
     {"pooling": "mean"}],
)
def test_padding_does_not_change_the_prediction(changes):
    model = build_classifier(ClassifierConfig(**TINY, **changes))
    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0], [5, 6, 7, 8, 9, 10, 11, 12]])
    padded = model.predict(ids, verbose=0)
    unpadded = model.predict(ids[:1, :3], verbose=0)
    assert padded.shape == (2, 1)
    np.testing.assert_allclose(padded[0], unpadded[0], atol=1e-6)
    assert abs(padded[0, 0] - padded[1, 0]) > 1e-6  # the extra tokens do matter


def test_masked_pooling_ignores_padding():
    x = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)
    x[0, 2:] = 1000.0  # padded positions with huge values
    mask = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    pooled = keras.ops.convert_to_numpy(MaskedGlobalPooling1D("mean_max")(x, mask=mask))
    np.testing.assert_allclose(pooled[0], np.concatenate([x[0, :2].mean(0), x[0, :2].max(0)]))
    np.testing.assert_allclose(pooled[1], np.zeros(6))  # no real token: zeros, not -1e9 or NaN


def test_text_model_saves_and_reloads_without_custom_objects(tmp_path):
    import tensorflow as tf

    config = ClassifierConfig(**TINY)
    vectorizer = workflow.make_vectorizer(config, texts=["good movie", "bad awful movie"])
    text_model = build_text_classifier(vectorizer, build_classifier(config))
    text_model.save(tmp_path / "text_model.keras")
    reloaded = keras.saving.load_model(tmp_path / "text_model.keras")
    texts = tf.constant(["a good movie", ""])
    np.testing.assert_allclose(reloaded(texts), text_model(texts), atol=1e-6)
    # predict takes a plain list of strings (Keras alone refuses one), before and after saving.
    for model in (text_model, reloaded):
        np.testing.assert_allclose(model.predict(["a good movie", ""], verbose=0),
                                   text_model(texts), atol=1e-6)
    with pytest.raises(ValueError, match="not a string"):
        reloaded.predict(["a good movie", 3], verbose=0)


# ----------------------------------------------------------------------------- batching
def _padded_rows(lengths, width=12, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), width), dtype="int64")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(2, 50, size=length)
    return ids


def test_bucketed_batches_are_trimmed_and_keep_every_review():
    lengths = [1, 12, 3, 7, 2, 9, 5, 11, 4, 6, 8, 10, 3]
    ids, labels = _padded_rows(lengths), np.arange(len(lengths)) % 2
    dataset = workflow.make_dataset(ids, labels, batch_size=4, shuffle=True, seed=1,
                                    window_batches=2)
    seen = []
    for batch_ids, batch_labels in dataset:
        batch_ids = batch_ids.numpy()
        real = (batch_ids != 0).sum(axis=1)
        assert batch_ids.shape[1] == real.max()  # cut to the longest review of the batch
        assert real.max() - real.min() <= 10  # sorted within windows of 8 reviews
        seen += [(tuple(row[row != 0]), int(y)) for row, y in zip(batch_ids, batch_labels.numpy()[:, 0])]
    assert len(dataset) == 4
    assert sorted(seen) == sorted((tuple(row[row != 0]), int(y)) for row, y in zip(ids, labels))


def test_token_dropout_replaces_only_real_words_and_only_in_training():
    ids = _padded_rows([12] * 64 + [4] * 64)
    dataset = workflow.make_dataset(ids, np.zeros(len(ids)), batch_size=32, shuffle=True, seed=3,
                                    token_dropout=0.3)
    dropped = real = 0
    for batch_ids, _ in dataset:
        batch_ids = batch_ids.numpy()
        dropped += (batch_ids == 1).sum()
        real += (batch_ids != 0).sum()
    assert real == 64 * 12 + 64 * 4  # padding never becomes a word
    assert 0.25 < dropped / real < 0.35
    clean = workflow.make_dataset(ids, np.zeros(len(ids)), batch_size=32, token_dropout=0.3)
    assert all((batch_ids.numpy() != 1).all() for batch_ids, _ in clean)  # not at validation


def test_predict_ids_returns_the_input_order():
    model = build_classifier(ClassifierConfig(**{**TINY, "sequence_length": 12}))
    ids = _padded_rows([3, 12, 1, 8, 5, 2, 10], seed=4)
    np.testing.assert_allclose(workflow.predict_ids(model, ids, batch_size=3),
                               model.predict(ids, verbose=0)[:, 0], atol=1e-6)


# ----------------------------------------------------------------------------- trained demo
def test_demo_learns_synthetic_reviews(demo_run):
    assert demo_run["synthetic_test_accuracy"] >= 0.95
    predictions = demo_run["predictions"]
    assert predictions["The acting was brilliant and I loved the music."] > 0.5
    assert predictions["I did not enjoy the story."] < 0.5
    assert demo_run["attention_png"].stat().st_size > 10_000


def test_held_out_synthetic_accuracy_through_predict(demo_run):
    texts, labels = make_reviews(300, seed=7)
    probabilities = np.array(workflow.predict(demo_run["run_dir"], texts))
    assert np.mean((probabilities >= 0.5) == labels) >= 0.95


def test_empty_and_very_long_reviews_give_probabilities(demo_run):
    config = training.load_config(demo_run["run_dir"], ClassifierConfig)
    long_review = " ".join(["the acting was brilliant"] * (10 * config.sequence_length // 4))
    probabilities = workflow.predict(demo_run["run_dir"], ["", long_review, "zzz qqq"])
    assert all(np.isfinite(p) and 0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities[1] > 0.5


@pytest.mark.parametrize("bad", [[3], ["fine", None], 42])
def test_non_string_input_gives_a_clear_error(demo_run, bad):
    with pytest.raises(ValueError, match="string"):
        workflow.predict(demo_run["run_dir"], bad)


def test_attention_writes_pngs(demo_run, tmp_path):
    out = workflow.attention(demo_run["run_dir"], "The plot was not clever.", tmp_path / "att.png")
    assert out == tmp_path / "att.png" and out.stat().st_size > 10_000
    assert (tmp_path / "att_layer0.png").exists() and (tmp_path / "att_importance.png").exists()
    with pytest.raises(ValueError, match="no word known"):
        workflow.attention(demo_run["run_dir"], "", tmp_path / "empty.png")


def test_missing_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one first"):
        workflow.predict(tmp_path / "nothing", ["a review"])


def test_classification_report_confusion_matrix():
    report = workflow.classification_report([0, 0, 1, 1, 1], [0.1, 0.7, 0.9, 0.2, 0.6])
    assert report["confusion_matrix"] == [[1, 1], [1, 2]]  # [[TN, FP], [FN, TP]]
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["loss"] > 0


# ----------------------------------------------------------------------------- resume
def test_interrupted_training_resumes_without_losing_an_epoch(tmp_path):
    config = ClassifierConfig.demo(epochs=3, patience=5)
    texts, labels = make_reviews(200, seed=0)
    train, val = (texts[:160], labels[:160]), (texts[160:], labels[160:])
    with pytest.raises(Interrupt):
        workflow.fit_classifier(config, train, val, tmp_path, verbose=0,
                                extra_callbacks=[InterruptAfterEpoch(0)])
    vocabulary = (tmp_path / "vocabulary.txt").read_text()
    assert (tmp_path / "backup").exists()

    # Resume given other training texts: the saved vocabulary must be reused, not re-adapted.
    recorder = RecordEpochs()
    other_texts, other_labels = make_reviews(160, seed=99)
    _, history = workflow.fit_classifier(config, (other_texts, other_labels), val, tmp_path,
                                         verbose=0, extra_callbacks=[recorder])
    assert recorder.epochs == [1, 2]
    assert len(history["loss"]) == 3
    assert (tmp_path / "vocabulary.txt").read_text() == vocabulary
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 3 and metrics["train_examples_per_second"] > 0
    assert (tmp_path / "learning_curves.png").exists() and (tmp_path / "logs").is_dir()

    with pytest.raises(ValueError, match="different settings \\(embed_dim\\)"):
        workflow.fit_classifier(ClassifierConfig.demo(epochs=3, patience=5, embed_dim=16),
                                train, val, tmp_path, verbose=0)


def test_make_config_quick_from_environment_and_overrides(monkeypatch):
    monkeypatch.setenv("KDL_QUICK", "1")
    config = workflow.make_config(overrides={"embed_dim": "64", "positions": "sinusoidal"}, epochs=2)
    assert config.sequence_length == ClassifierConfig.quick().sequence_length
    assert (config.embed_dim, config.positions, config.epochs) == (64, "sinusoidal", 2)
    monkeypatch.delenv("KDL_QUICK")
    assert workflow.make_config() == ClassifierConfig()
    with pytest.raises(ValueError, match="no field 'width'"):
        workflow.make_config(overrides={"width": "3"})


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_head_is_float32_under_mixed_precision(global_dtype_policy, policy):
    """A bfloat16 sigmoid saturates (probabilities of exactly 0 or 1) and makes BCE coarse."""
    global_dtype_policy(policy)
    model = build_classifier(ClassifierConfig.quick())
    assert model.get_layer("encoder_0").compute_dtype == keras.DTypePolicy(policy).compute_dtype
    ids = np.array([[12, 7, 3, 0], [5, 9, 0, 0]], "int64")
    probabilities = model(ids)
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    assert all(weight.dtype == "float32" for weight in model.weights)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    loss = model.train_on_batch(ids, np.array([[1.0], [0.0]], "float32"))
    assert np.isfinite(loss)


def test_an_interrupted_run_may_get_more_epochs_unless_they_set_the_schedule(tmp_path):
    texts, labels = make_reviews(120, seed=0)
    train, val = (texts[:96], labels[:96]), (texts[96:], labels[96:])
    with pytest.raises(Interrupt):  # the demo's learning rate is constant: epochs are a budget
        workflow.fit_classifier(ClassifierConfig.demo(epochs=2), train, val, tmp_path, verbose=0,
                                extra_callbacks=[InterruptAfterEpoch(0)])
    recorder = RecordEpochs()
    _, history = workflow.fit_classifier(ClassifierConfig.demo(epochs=3, patience=5), train, val,
                                         tmp_path, verbose=0, extra_callbacks=[recorder])
    assert recorder.epochs == [1, 2] and len(history["loss"]) == 3
    training.save_config(tmp_path / "cosine", ClassifierConfig(**TINY, epochs=2))
    with pytest.raises(ValueError, match="different settings \\(epochs\\)"):  # sets the decay
        workflow.fit_classifier(ClassifierConfig(**TINY, epochs=3), train, val, tmp_path / "cosine")
