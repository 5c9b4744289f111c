import keras
import numpy as np
import pytest
from keras import ops

from kdl_transformer.layers import MaskedGlobalPooling1D, PositionalEmbedding, TransformerEncoder
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
    """The padding mask reaches the next layer through Keras' public route (`mask=`)."""
    tokens = keras.Input((None,), dtype="int32")
    hidden = TransformerEncoder(16, 32, 2)(PositionalEmbedding(8, 20, 16)(tokens))
    model = keras.Model(tokens, [hidden, MaskedGlobalPooling1D("max")(hidden)])
    ids = np.array([[4, 5, 0, 0], [6, 7, 8, 0]], "int32")
    hidden, pooled = (ops.convert_to_numpy(t) for t in model.predict(ids, verbose=0))
    expected = [hidden[0, :2].max(0), hidden[1, :3].max(0)]  # padded positions never win
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
    assert TransformerEncoder(16, 32, 2).compute_mask(hidden, ids != 0) is not None


def test_mask_argument_is_the_public_route():
    ids = np.array([[4, 5, 6, 0, 0]])
    x = ops.convert_to_tensor(np.random.default_rng(1).normal(size=(1, 5, 16)).astype("float32"))
    encoder = TransformerEncoder(16, 32, 2)
    by_mask = encoder(x, mask=ids != 0)
    by_padding_mask = encoder(x, padding_mask=ids != 0)
    np.testing.assert_allclose(by_mask, by_padding_mask, atol=1e-6)
    assert not np.allclose(by_mask, encoder(x), atol=1e-4)  # the mask mattered


def test_no_layer_warns_that_it_destroys_the_mask(recwarn):
    tokens = keras.Input((None,), dtype="int32")
    x = PositionalEmbedding(8, 20, 16)(tokens)
    x, scores = TransformerEncoder(16, 32, 2)(x, return_attention_scores=True)
    model = keras.Model(tokens, [MaskedGlobalPooling1D("mean")(x), scores])
    model.predict(np.array([[4, 5, 0]], "int32"), verbose=0)
    TransformerEncoder(16, 32, 2)(PositionalEmbedding(8, 20, 16)(np.array([[4, 5, 0]])))  # eager
    assert not [w for w in recwarn if "destroy the mask" in str(w.message)]


def test_encoder_scores_on_symbolic_inputs():
    x = keras.Input((None, 16))
    outputs, scores = TransformerEncoder(16, 32, 4)(x, return_attention_scores=True)
    assert outputs.shape == (None, None, 16)
    assert scores.shape == (None, 4, None, None)
