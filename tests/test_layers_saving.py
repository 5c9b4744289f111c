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


def test_keras_file_reloads_in_fresh_process_without_custom_objects(tmp_path):
    model = build_seq2seq()
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    target = np.array([[2, 9, 0], [2, 8, 11]], "int32")
    expected = model.predict([source, target], verbose=0)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "source.npy", source)
    np.save(tmp_path / "target.npy", target)

    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        import kdl_transformer  # registers the layers; no custom_objects below
        model = keras.saving.load_model({str(tmp_path / "model.keras")!r})
        out = model.predict([np.load({str(tmp_path / "source.npy")!r}),
                             np.load({str(tmp_path / "target.npy")!r})], verbose=0)
        np.save({str(tmp_path / "reloaded.npy")!r}, out)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "unbuilt state" not in result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "reloaded.npy"), expected)
