"""The BERT models on tiny shapes: the backbone's layer checks, the tied masked-LM head computed at
the masked positions only, the NSP head, and `.keras` round trips that keep the tie."""

import keras
import numpy as np
import pytest

from kdl_transformer.models.bert import BertBackbone, BertClassifier, BertPretrainer
from tests.layer_test_case import run_layer_test

SIZES = dict(vocab_size=40, sequence_length=12, embed_dim=16, num_heads=2, dense_dim=32,
             num_layers=2)
IDS = np.array([[2, 9, 11, 3, 17, 21, 3, 0], [2, 30, 12, 13, 3, 25, 3, 0]], "int32")
SEGMENTS = np.array([[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1, 1, 0]], "int32")
POSITIONS = np.array([[1, 5, 0], [2, 3, 5]], "int32")


def _inputs(positions=POSITIONS, ids=IDS):
    return {"token_ids": ids, "segment_ids": SEGMENTS, "mask_positions": positions}


def _pretrainer(nsp=True, **changes):
    return BertPretrainer(BertBackbone(**{**SIZES, **changes}, name="backbone"), nsp=nsp)


@pytest.mark.parametrize("norm_first", [False, True])
def test_backbone_layer_checks(norm_first):
    run_layer_test(
        BertBackbone,
        {**SIZES, "dropout": 0.1, "norm_first": norm_first},
        {None: {"token_ids": IDS, "segment_ids": SEGMENTS}},
        expected_output_shape=(2, 8, 16),
        run_precision_checks=False,  # a functional model: its layers are built before a policy
    )


def test_backbone_uses_segments_and_ignores_padding():
    backbone = BertBackbone(**SIZES)
    hidden = np.asarray(backbone({"token_ids": IDS, "segment_ids": SEGMENTS}))
    other_segments = np.asarray(backbone({"token_ids": IDS, "segment_ids": np.zeros_like(SEGMENTS)}))
    assert np.abs(hidden[0, :4] - other_segments[0, :4]).max() > 1e-4  # segment B changes A's states
    short = np.asarray(backbone({"token_ids": IDS[:, :7], "segment_ids": SEGMENTS[:, :7]}))
    np.testing.assert_allclose(hidden[:, :7], short, atol=1e-5)  # padding changes nothing


def test_mlm_head_is_tied_to_the_token_embedding_without_an_output_matrix():
    model = _pretrainer()
    model(_inputs())
    head, table = model.get_layer("mlm_head"), model.backbone.token_embedding
    assert head.token_embedding is table
    vocabulary_matrices = [w.path for w in model.weights
                           if SIZES["vocab_size"] in tuple(w.shape) and len(w.shape) == 2]
    assert vocabulary_matrices == [table.embeddings.path]  # the one (V, D) table, no (D, V) kernel

    hidden = np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")
    before = np.asarray(head(hidden, mask_positions=POSITIONS))
    embeddings = np.asarray(table.embeddings)
    # Change one token's row of the input embedding table (not by a constant: the head's
    # LayerNorm output sums to 0, so a constant shift would leave the logit as it is).
    embeddings[7] += np.linspace(-1.0, 1.0, 16)
    table.embeddings.assign(embeddings)
    after = np.asarray(head(hidden, mask_positions=POSITIONS))
    assert np.abs(after[..., 7] - before[..., 7]).min() > 1e-4  # its logit moved everywhere
    np.testing.assert_allclose(np.delete(after, 7, -1), np.delete(before, 7, -1), atol=1e-6)


def test_mlm_head_computes_only_the_masked_positions():
    model = _pretrainer()
    logits = model(_inputs())["mlm"]
    assert tuple(logits.shape) == (2, 3, SIZES["vocab_size"])  # (B, P, V), P = 3 < T = 8
    head = model.get_layer("mlm_head")
    hidden = np.random.default_rng(1).normal(size=(2, 8, 16)).astype("float32")
    picked = np.asarray(head(hidden, mask_positions=POSITIONS))
    changed = hidden.copy()
    changed[0, [2, 3, 4, 6, 7]] += 5.0  # row 0 predicts positions 1, 5 and 0 only
    np.testing.assert_allclose(np.asarray(head(changed, mask_positions=POSITIONS))[0], picked[0],
                               atol=1e-6)
    swapped = np.asarray(head(hidden, mask_positions=POSITIONS[:, ::-1]))
    np.testing.assert_allclose(swapped[:, ::-1], picked, atol=1e-6)  # one row per position


def test_nsp_head_reads_cls_and_nsp_false_drops_it():
    outputs = _pretrainer(nsp=True)(_inputs())
    assert tuple(outputs["nsp"].shape) == (2, 1)
    mlm_only = _pretrainer(nsp=False)
    assert set(mlm_only(_inputs())) == {"mlm"}
    assert not [w for w in mlm_only.weights if "pooler" in w.path or "nsp" in w.path]


def test_pretrainer_keras_round_trip_keeps_outputs_and_the_tie(tmp_path):
    model = _pretrainer()
    expected = model(_inputs())
    model.save(tmp_path / "pretrainer.keras")
    reloaded = keras.saving.load_model(tmp_path / "pretrainer.keras")
    for name in ("mlm", "nsp"):
        np.testing.assert_allclose(reloaded(_inputs())[name], expected[name], atol=1e-6)
    table = reloaded.backbone.token_embedding
    assert reloaded.get_layer("mlm_head").token_embedding is table
    assert reloaded.get_config()["nsp"] is True
    table.embeddings.assign(np.asarray(table.embeddings) * 2.0)
    assert np.abs(np.asarray(reloaded(_inputs())["mlm"]) - np.asarray(expected["mlm"])).max() > 1e-3


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_classifier_keras_round_trip_and_padding(tmp_path, pooling):
    backbone = BertBackbone(**SIZES, dropout=0.1)
    classifier = BertClassifier(backbone, pooling=pooling, head_dropout=0.2)
    ids = np.array([[2, 9, 11, 3, 0, 0], [2, 30, 12, 13, 25, 3]], "int64")
    probabilities = np.asarray(classifier(ids))
    assert probabilities.shape == (2, 1) and np.all((probabilities > 0) & (probabilities < 1))
    np.testing.assert_allclose(np.asarray(classifier(ids[:1, :4])), probabilities[:1], atol=1e-6)
    classifier.save(tmp_path / "classifier.keras")
    reloaded = keras.saving.load_model(tmp_path / "classifier.keras")
    np.testing.assert_allclose(np.asarray(reloaded(ids)), probabilities, atol=1e-6)
    assert reloaded.get_config()["pooling"] == pooling
    assert reloaded.backbone.get_config() == backbone.get_config()
