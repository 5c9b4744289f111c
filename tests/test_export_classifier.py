"""The classifier's SavedModel: raw strings in, probabilities out, loadable with TensorFlow alone."""

import json
import subprocess
import sys

import numpy as np
import pytest

from kdl_transformer import training
from kdl_transformer.datasets import make_reviews
from kdl_transformer.configs import ClassifierConfig
from kdl_transformer.models.classifier import build_classifier
from kdl_transformer.workflows import classifier as workflow

# Runs in a fresh interpreter that imports TensorFlow only.
RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf
reloaded = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
signature = reloaded.signatures["serving_default"]
print(json.dumps({
    "serve": reloaded.serve(texts)["probability"].numpy().tolist(),
    "signature": signature(texts=texts)["probability"].numpy().tolist(),
    "input": [str(spec.dtype.name) for spec in signature.structured_input_signature[1].values()],
    "imports_kdl_transformer": "kdl_transformer" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory with a (briefly trained) tiny classifier, made without real data."""
    config = ClassifierConfig.demo(epochs=1)
    texts, labels = make_reviews(256, seed=0)
    out = tmp_path_factory.mktemp("classifier_run")
    workflow.fit_classifier(config, (texts[:200], labels[:200]), (texts[200:], labels[200:]),
                            out, verbose=0)
    return out


def test_exported_saved_model_matches_keras_in_a_fresh_process(run_dir, tmp_path):
    texts = ["The acting was brilliant.", "", "I did not enjoy the story. " * 40, "Ünïcödé 영화 good"]
    exported = workflow.export(run_dir, tmp_path / "saved_model")
    assert (exported / "saved_model.pb").exists()
    result = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, str(exported), json.dumps(texts)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not reloaded["imports_kdl_transformer"]
    assert reloaded["input"] == ["string"]
    keras_probabilities = workflow.predict(run_dir, texts)
    np.testing.assert_allclose(reloaded["serve"], keras_probabilities, atol=1e-5)
    np.testing.assert_allclose(reloaded["signature"], keras_probabilities, atol=1e-5)
    assert all(0.0 <= p <= 1.0 for p in reloaded["serve"])


def test_exported_model_reads_html_line_breaks_as_the_loader_does(run_dir, tmp_path):
    """Raw IMDB reviews carry `<br />`; the loader drops it, and so must the exported model."""
    import tensorflow as tf

    reloaded = tf.saved_model.load(str(workflow.export(run_dir, tmp_path / "saved_model")))
    raw = "The acting was brilliant.<br /><br />I loved the music.<BR>Boring plot."
    clean = "The acting was brilliant.  I loved the music. Boring plot."
    with_tags, without = reloaded.serve(tf.constant([raw, clean]))["probability"].numpy()
    np.testing.assert_allclose(with_tags, without, atol=1e-6)
    vectorizer = workflow.make_vectorizer(training.load_config(run_dir, ClassifierConfig),
                                          vocabulary=workflow.read_vocabulary(training.RunDir(run_dir)))
    words = [w for w in workflow.token_labels(vectorizer, workflow.vectorize(vectorizer, [raw])[0])]
    assert "br" not in words and "brilliant" in words


def test_export_rejects_non_string_batches(run_dir, tmp_path):
    import tensorflow as tf

    reloaded = tf.saved_model.load(str(workflow.export(run_dir, tmp_path / "saved_model")))
    with pytest.raises((TypeError, ValueError)):
        reloaded.serve(tf.constant([1, 2]))


def test_untrained_weights_would_not_match(run_dir, tmp_path):
    """The comparison above can fail: a different model's export gives other probabilities."""
    import tensorflow as tf

    config = training.load_config(run_dir, ClassifierConfig)
    other = tmp_path / "other_run"
    training.save_config(other, config)
    (other / "vocabulary.txt").write_text((run_dir / "vocabulary.txt").read_text())
    build_classifier(config).save(other / "model.keras")
    reloaded = tf.saved_model.load(str(workflow.export(other, tmp_path / "other_model")))
    texts = ["The acting was brilliant.", "I did not enjoy the story."]
    exported = reloaded.serve(tf.constant(texts))["probability"].numpy()
    assert np.abs(exported - np.array(workflow.predict(run_dir, texts))).max() > 1e-3
