import numpy as np
import pytest

from kdl_transformer.layers import PositionalEmbedding, TransformerEncoder
from tests.layer_test_case import run_layer_test


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_checks(norm_first):
    run_layer_test(
        TransformerEncoder,
        {"embed_dim": 8, "dense_dim": 16, "num_heads": 2, "dropout": 0.1, "norm_first": norm_first},
        np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32"),
        expected_output_shape=(2, 5, 8),
    )


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="num_heads=3 does not divide embed_dim=16"):
        TransformerEncoder(embed_dim=16, dense_dim=32, num_heads=3)


def test_scores_shape_and_padded_keys_get_zero_weight():
    ids = np.array([[4, 5, 6, 0, 0], [7, 8, 0, 0, 0]])
    x = PositionalEmbedding(8, 20, 16)(ids)
    outputs, scores = TransformerEncoder(16, 32, 4)(x, return_attention_scores=True)
    assert outputs.shape == (2, 5, 16)
    assert scores.shape == (2, 4, 5, 5)  # (batch, heads, query, key)
    scores = np.asarray(scores)
    assert np.all(scores[0, ..., 3:] == 0.0)
    assert np.all(scores[1, ..., 2:] == 0.0)
    assert np.all(scores[0, ..., :3] > 0.0)


@pytest.mark.parametrize("explicit", [False, True])
def test_appending_padding_leaves_real_positions_unchanged(explicit):
    embedding = PositionalEmbedding(12, 20, 16)
    encoder = TransformerEncoder(16, 32, 4, norm_first=False)
    short = np.array([[4, 5, 6, 0], [7, 8, 9, 3]])
    long = np.pad(short, ((0, 0), (0, 6)))

    def encode(ids):
        x = embedding(ids)
        return encoder(x, padding_mask=ids != 0 if explicit else None)

    np.testing.assert_allclose(encode(long)[0, :3], encode(short)[0, :3], atol=1e-5)
    np.testing.assert_allclose(encode(long)[1, :4], encode(short)[1, :4], atol=1e-5)


def test_explicit_padding_mask_wins_over_implicit_mask():
    ids = np.array([[4, 5, 6, 7]])
    x = PositionalEmbedding(8, 20, 16)(ids)  # implicit mask: all real
    encoder = TransformerEncoder(16, 32, 2)
    _, scores = encoder(x, padding_mask=np.array([[1, 1, 0, 0]]), return_attention_scores=True)
    assert np.all(np.asarray(scores)[..., 2:] == 0.0)


def test_encoder_passes_mask_on():
    ids = np.array([[4, 5, 0]])
    x = PositionalEmbedding(8, 20, 16)(ids)
    outputs = TransformerEncoder(16, 32, 2)(x)
    np.testing.assert_array_equal(outputs._keras_mask, ids != 0)
