"""Notebook 02 (English->Korean translation) runs top to bottom in quick mode."""

import pytest

from tests.test_notebooks import run_quick_notebook


@pytest.mark.data
def test_translation_notebook_quick(data_dir, tmp_path):
    run_dir = tmp_path / "notebook02"
    outputs = run_quick_notebook("02_translation_en_ko.ipynb", run_dir, data_dir)
    assert (run_dir / "cross_attention.png").stat().st_size > 10_000
    assert (run_dir / "saved_model" / "saved_model.pb").exists()
    assert "QUICK=True" in outputs and "chrF" in outputs and "search errors" in outputs
    # The everyday sentences, next to the extra-data model's recorded ones and its cafe maps
    assert outputs.count("extra-data model:") == 20 and "forced reference:" in outputs
