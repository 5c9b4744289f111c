"""BERT pretraining and fine-tuning end to end on synthetic reviews (offline), the held-out reviews,
`init_from`, the exported fine-tuned model, and `kdl-transformer pretrain bert --quick` on IMDB."""

import io
import json
import subprocess
import sys
import tarfile

import keras
import numpy as np
import pytest

from kdl_transformer import cli, training
from kdl_transformer.configs import BertConfig, ClassifierConfig
from kdl_transformer.datasets import make_reviews
from kdl_transformer.models.bert import BertBackbone
from kdl_transformer.workflows import bert as workflow
from kdl_transformer.workflows import classifier
from tests.callbacks import Interrupt, InterruptAfterEpoch, RecordEpochs

PRETRAINING = dict(epochs=3, sequence_length=32, learning_rate=3e-3, validation_reviews=40)
# Runs in a fresh interpreter: TensorFlow and tensorflow_text's ops only.
RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401  (WordPiece ops)
reloaded = tf.saved_model.load(sys.argv[1])
print(json.dumps({
    "probability": reloaded.serve(tf.constant(json.loads(sys.argv[2])))["probability"].numpy().tolist(),
    "imported": [name for name in ("kdl_transformer", "keras_hub") if name in sys.modules],
}))
"""


def _reviews(n, seed):
    texts, labels = make_reviews(n, seed=seed)
    return [f"{text} Review {seed}-{i}." for i, text in enumerate(texts)], labels  # all distinct


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny BERT pretrained for a few seconds on 400 synthetic reviews."""
    texts, _ = _reviews(400, seed=0)
    out = tmp_path_factory.mktemp("bert")
    config = BertConfig.quick(**PRETRAINING)
    workflow.fit_bert(config, texts[:360], texts[360:], out, verbose=0)
    return out


@pytest.fixture(scope="module")
def finetuned(pretrained, tmp_path_factory):
    """A classifier fine-tuned from `pretrained` on synthetic reviews."""
    texts, labels = _reviews(300, seed=1)
    out = tmp_path_factory.mktemp("bert_classifier")
    config = ClassifierConfig.quick(init_from=str(pretrained), pooling="cls", epochs=2,
                                    truncation="head_tail")
    classifier.fit_classifier(config, (texts[:240], labels[:240]), (texts[240:], labels[240:]),
                              out, verbose=0)
    return out


# ----------------------------------------------------------------------------- pretraining
@pytest.mark.slow
def test_pretraining_lowers_the_masked_lm_loss_and_writes_a_run_directory(pretrained):
    history = json.loads((pretrained / "history.json").read_text())
    assert history["val_mlm_loss"][-1] < history["val_mlm_loss"][0] - 0.2
    assert history["mlm_loss"][-1] < history["mlm_loss"][0] - 0.3
    assert {"nsp_loss", "val_nsp_accuracy", "val_mlm_accuracy"} <= set(history)
    metrics = json.loads((pretrained / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 3 and metrics["pretraining_reviews"] == 360
    assert metrics["pretrain_seconds"] >= metrics["train_seconds"] > 0
    assert 0.0 < metrics["val_masked_accuracy"] < 1.0 and "val_nsp_accuracy" in metrics
    vocabulary = (pretrained / "vocabulary.txt").read_text().split("\n")
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for name in ("config.json", "model.keras", "learning_curves.png", "best_epoch.json"):
        assert (pretrained / name).exists(), name
    assert (pretrained / "logs").is_dir() and not (pretrained / "backup").exists()


@pytest.mark.slow
def test_interrupted_pretraining_resumes_mlm_only(tmp_path):
    texts, _ = _reviews(120, seed=2)
    config = BertConfig.quick(epochs=2, sequence_length=24, validation_reviews=20, nsp=False)
    with pytest.raises(Interrupt):
        workflow.fit_bert(config, texts[:100], texts[100:], tmp_path, verbose=0,
                          extra_callbacks=[InterruptAfterEpoch(0)])
    vocabulary = (tmp_path / "vocabulary.txt").read_text()
    recorder = RecordEpochs()
    model, history = workflow.fit_bert(config, texts[:100], texts[100:], tmp_path, verbose=0,
                                       extra_callbacks=[recorder])
    assert recorder.epochs == [1] and len(history["loss"]) == 2
    assert (tmp_path / "vocabulary.txt").read_text() == vocabulary
    assert "nsp_loss" not in history and not [w for w in model.weights if "nsp" in w.path]
    with pytest.raises(ValueError, match="different settings \\(nsp\\)"):
        workflow.fit_bert(BertConfig.quick(epochs=2, sequence_length=24, validation_reviews=20),
                          texts[:100], texts[100:], tmp_path, verbose=0)


def _add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def test_pretraining_reads_neither_validation_nor_test_reviews(tmp_path, monkeypatch):
    from kdl_transformer.datasets import imdb

    texts, labels = _reviews(100, seed=3)
    with tarfile.open(tmp_path / "aclImdb_v1.tar.gz", "w:gz") as archive:
        for i, (text, label) in enumerate(zip(texts, labels)):
            split = "train" if i < 80 else "test"
            _add(archive, f"aclImdb/{split}/{'pos' if label else 'neg'}/{i}_7.txt", text.encode())
    decoded = []
    decode = imdb._decode
    monkeypatch.setattr(imdb, "_decode", lambda data, where: decoded.append(where) or decode(data, where))
    config = BertConfig.quick(validation_reviews=6)
    train, val = workflow.load_pretraining_reviews(config, data_dir=tmp_path)
    assert decoded and not [where for where in decoded if "/test/" in where]
    assert len(val) == 6 and not set(train) & set(val)
    splits = classifier.load_data(ClassifierConfig(validation_fraction=0.2), data_dir=tmp_path)
    pretraining = set(train) | set(val)
    assert len(splits["val"][0]) == 16 and not pretraining & set(splits["val"][0])
    assert not pretraining & set(splits["test"][0])
    assert pretraining | set(splits["val"][0]) == set(texts[:80])  # every other training review


# ----------------------------------------------------------------------------- fine-tuning
def test_init_from_loads_the_pretrained_weights(pretrained):
    config = workflow.finetuning_config(ClassifierConfig.quick(init_from=str(pretrained), dropout=0.1))
    assert config.model == "bert" and config.sequence_length == PRETRAINING["sequence_length"]
    model = classifier.build_network(config)
    pretrained_backbone = keras.saving.load_model(pretrained / "model.keras", compile=False).backbone
    for mine, theirs in zip(model.backbone.weights, pretrained_backbone.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    assert model.backbone.dropout == config.dropout  # fine-tuning sets the encoder's dropout
    scratch = BertBackbone.from_config(pretrained_backbone.get_config())
    assert not np.allclose(np.asarray(scratch.token_embedding.embeddings),
                           np.asarray(pretrained_backbone.token_embedding.embeddings))


def test_finetuning_needs_the_split_held_out_of_pretraining(pretrained):
    with pytest.raises(ValueError, match="pretrained without the validation split"):
        workflow.finetuning_config(ClassifierConfig.quick(init_from=str(pretrained), seed=7))


def test_bad_init_from_is_one_clear_error(tmp_path, capsys):
    missing = tmp_path / "no-such-run"
    assert cli.main(["train", "classifier", "--quick", "--set", f"init_from={missing}"]) == 2
    err = capsys.readouterr().err
    assert "is not a finished `kdl-transformer pretrain bert` run" in err
    assert len(err.strip().splitlines()) == 1 and not missing.exists()


@pytest.mark.slow
def test_finetuned_classifier_predicts_round_trips_and_exports(finetuned, tmp_path):
    import tensorflow as tf

    config = training.load_config(finetuned, ClassifierConfig)
    assert (config.model, config.sequence_length) == ("bert", PRETRAINING["sequence_length"])
    texts = ["The acting was brilliant.", "", "I did not enjoy the story. " * 30, "Ünïcödé good"]
    probabilities = classifier.predict(finetuned, texts)
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    text_model = classifier.load_text_classifier(finetuned)
    text_model.save(tmp_path / "text_model.keras")
    reloaded = keras.saving.load_model(tmp_path / "text_model.keras")
    np.testing.assert_allclose(reloaded.predict(texts, verbose=0)[:, 0], probabilities, atol=1e-5)
    many, _ = _reviews(300, seed=4)  # the bucketed path for long lists
    np.testing.assert_allclose(classifier.predict_texts(text_model, many),
                               text_model(tf.constant(many))[:, 0], atol=1e-5)

    exported = classifier.export(finetuned, tmp_path / "saved_model")
    result = subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, str(exported), json.dumps(texts)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["imported"] == []
    np.testing.assert_allclose(served["probability"], probabilities, atol=1e-5)
    with pytest.raises(ValueError, match="model='transformer' runs only"):
        classifier.attention(finetuned, "A fine film.")


# ----------------------------------------------------------------------------- real data
@pytest.mark.data
@pytest.mark.slow
def test_cli_pretrain_bert_quick_then_fine_tune_on_imdb(data_dir, tmp_path):
    out = tmp_path / "bert"
    assert cli.main(["pretrain", "bert", "--quick", "--out", str(out), "--data-dir", str(data_dir)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 2 and metrics["pretraining_reviews"] > 300
    assert metrics["val_masked_accuracy"] > 0.0 and (out / "learning_curves.png").exists()
    run = tmp_path / "classifier"
    assert cli.main(["train", "classifier", "--quick", "--epochs", "1", "--out", str(run),
                     "--data-dir", str(data_dir), "--set", f"init_from={out}"]) == 0
    assert cli.main(["evaluate", "classifier", str(run), "--quick", "--data-dir", str(data_dir)]) == 0
    assert 0.0 <= json.loads((run / "metrics.json").read_text())["test_accuracy"] <= 1.0


def test_other_seeds_fine_tune_on_the_held_out_split(pretrained):
    config = ClassifierConfig.quick(init_from=str(pretrained), seed=7, split_seed=1337)
    assert workflow.finetuning_config(config).data_seed == 1337


# ----------------------------------------------------------------------------- looking inside
_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "fine", "film", "dull",
               "plot", "the", "##s"]


def test_masked_predictions_rank_the_guesses_at_the_chosen_positions():
    from kdl_transformer.models.bert import BertPretrainer

    backbone = BertBackbone(len(_VOCABULARY), 8, embed_dim=8, num_heads=2, dense_dim=16,
                            num_layers=1)
    model = BertPretrainer(backbone)
    x = {"token_ids": np.array([[2, 6, 4, 8, 4, 3, 0, 0]]),
         "segment_ids": np.zeros((1, 8), "int32"), "mask_positions": np.array([[4, 2, 0]])}
    y = {"mlm": np.array([[9, 7, 0]])}  # the third slot is unused
    rows = workflow.masked_predictions(model, x, y, _VOCABULARY, k=3)
    assert [(row["position"], row["original"]) for row in rows] == [(2, "fine"), (4, "dull")]
    for row in rows:
        probabilities = [p for _, p in row["top"]]
        assert len(row["top"]) == 3 and probabilities == sorted(probabilities, reverse=True)
        guesses = [piece for piece, _ in row["top"]]
        expected = guesses.index(row["original"]) + 1 if row["original"] in guesses else None
        assert row["rank"] == expected
    everything = workflow.masked_predictions(model, x, y, _VOCABULARY, k=len(_VOCABULARY))
    assert all(row["rank"] is not None for row in everything)
    assert abs(sum(p for _, p in everything[0]["top"]) - 1.0) < 1e-5


def test_cls_attention_is_the_cls_row_of_the_backbones_attention():
    from kdl_transformer.models.bert import BertClassifier
    from kdl_transformer.models.classifier import build_text_classifier
    from kdl_transformer.text.wordpiece import WordPieceVectorizer

    backbone = BertBackbone(len(_VOCABULARY), 12, embed_dim=8, num_heads=2, dense_dim=16,
                            num_layers=2)
    ids = np.array([[2, 11, 8, 6, 3, 0]])
    hidden, scores = workflow.encode_with_attention(backbone, ids)
    expected = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids)})
    np.testing.assert_allclose(hidden, np.asarray(expected), atol=1e-5)
    assert len(scores) == 2 and scores[0].shape == (1, 2, 6, 6)
    np.testing.assert_allclose(scores[1][0, :, :, 5], 0.0)  # the padded key
    text_model = build_text_classifier(WordPieceVectorizer(_VOCABULARY, 12),
                                       BertClassifier(backbone))
    result = workflow.cls_attention(text_model, "The films, a dull plot.")
    assert result["tokens"] == ["[CLS]", "the", "film", "##s", "[UNK]", "a", "dull", "plot", ".",
                                "[SEP]"]
    assert result["weights"].shape == (2, 10) and 0.0 <= result["probability"] <= 1.0
    np.testing.assert_allclose(result["weights"].sum(axis=1), 1.0, atol=1e-5)
    ids = np.array([[_VOCABULARY.index(t) if t in _VOCABULARY else 1 for t in result["tokens"]]])
    last_block = workflow.encode_with_attention(backbone, ids)[1][-1]  # (1, H, n, n)
    np.testing.assert_allclose(result["weights"], last_block[0, :, 0])
