"""Notebook 03 (GRU seq2seq, additive attention, Transformer) runs top to bottom in quick mode."""

import pytest

from tests.test_notebooks import run_quick_notebook


@pytest.mark.data
def test_seq2seq_notebook_quick(data_dir, tmp_path):
    run_dir = tmp_path / "notebook03"
    outputs = run_quick_notebook("03_seq2seq_rnn_attention.ipynb", run_dir, data_dir)
    assert (run_dir / "alignment.png").stat().st_size > 10_000  # the heatmap is written
    assert (run_dir / "chrf_by_length.png").stat().st_size > 10_000
    assert (run_dir / "chrf_by_length_flores.png").stat().st_size > 10_000
    assert "QUICK=True" in outputs and "chrF beam" in outputs
    assert "match: True | padded weights exactly 0: True" in outputs  # the by-hand additive score
    assert "ValueError:" in outputs and "no attention map" in outputs  # the plain GRU has none
