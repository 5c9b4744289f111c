"""A model made of our layers survives a .keras round trip into a fresh process."""

import subprocess
import sys
import textwrap

import keras
import numpy as np

from kdl_transformer.layers import PositionalEmbedding, TransformerDecoder, TransformerEncoder


def build_seq2seq():
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    encoded = TransformerEncoder(16, 32, 2)(PositionalEmbedding(8, 30, 16, positions="sinusoidal")(source))
    decoded = TransformerDecoder(16, 32, 2, norm_first=True)(PositionalEmbedding(8, 30, 16)(target), encoded)
    return keras.Model([source, target], keras.layers.Dense(30)(decoded))


def predict_in_fresh_process(model, inputs, tmp_path):
    """Save `model` as .keras, reload it in a new Python process, predict `inputs` there.

    Returns `(outputs, stderr)`: the list of the reloaded model's outputs and the child's stderr.
    """
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "inputs.npz", *inputs)
    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        import kdl_transformer  # registers the layers; no custom_objects below
        model = keras.saving.load_model({str(tmp_path / "model.keras")!r})
        inputs = np.load({str(tmp_path / "inputs.npz")!r})
        outs = model.predict([inputs[f"arr_{{i}}"] for i in range(len(inputs))], verbose=0)
        np.savez({str(tmp_path / "reloaded.npz")!r}, *(outs if isinstance(outs, list) else [outs]))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    reloaded = np.load(tmp_path / "reloaded.npz")
    return [reloaded[f"arr_{i}"] for i in range(len(reloaded))], result.stderr


def test_keras_file_reloads_in_fresh_process_without_custom_objects(tmp_path):
    model = build_seq2seq()
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    target = np.array([[2, 9, 0], [2, 8, 11]], "int32")
    expected = model.predict([source, target], verbose=0)
    (reloaded,), stderr = predict_in_fresh_process(model, [source, target], tmp_path)
    assert "unbuilt state" not in stderr
    np.testing.assert_array_equal(reloaded, expected)


def build_seq2seq_with_attention_maps():
    """The model a user writes to look at attention: the scores are outputs of the model."""
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    encoded, encoder_scores = TransformerEncoder(16, 32, 2)(
        PositionalEmbedding(8, 30, 16)(source), return_attention_scores=True
    )
    decoded, self_scores, cross_scores = TransformerDecoder(16, 32, 2)(
        PositionalEmbedding(8, 30, 16)(target), encoded, return_attention_scores=True
    )
    logits = keras.layers.Dense(30, name="logits")(decoded)
    return keras.Model([source, target], [logits, encoder_scores, self_scores, cross_scores])


def test_functional_model_with_attention_outputs_fits_saves_and_reloads(tmp_path):
    model = build_seq2seq_with_attention_maps()
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    target = np.array([[2, 9, 0], [2, 8, 11]], "int32")
    logits, encoder_scores, self_scores, cross_scores = model.predict([source, target], verbose=0)
    assert logits.shape == (2, 3, 30)
    assert encoder_scores.shape == (2, 2, 4, 4)
    assert self_scores.shape == (2, 2, 3, 3) and cross_scores.shape == (2, 2, 3, 4)
    assert np.all(cross_scores[1, ..., 2:] == 0.0)  # source padding, through the implicit mask

    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=["sparse_categorical_crossentropy", None, None, None],
    )
    labels = np.array([[9, 1, 0], [8, 11, 1]], "int32")
    history = model.fit([source, target], labels, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]

    expected = model.predict([source, target], verbose=0)
    reloaded, _ = predict_in_fresh_process(model, [source, target], tmp_path)
    for array, again in zip(expected, reloaded):
        np.testing.assert_allclose(again, array, atol=1e-6)
