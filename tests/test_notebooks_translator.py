"""Notebook 02 (English->Korean translation) runs top to bottom in quick mode."""

import os

import pytest

from tests.test_notebooks import NOTEBOOKS, run_notebook


@pytest.mark.data
def test_translation_notebook_quick(data_dir, tmp_path):
    run_dir = tmp_path / "notebook02"
    notebook = run_notebook(
        NOTEBOOKS / "02_translation_en_ko.ipynb",
        {"KDL_QUICK": "1", "KDL_RUN_DIR": str(run_dir), "KDL_DATA_DIR": str(data_dir),
         "PYTHONPATH": os.pathsep.join([str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH", "")])},
    )
    assert (run_dir / "cross_attention.png").stat().st_size > 10_000
    assert (run_dir / "saved_model" / "saved_model.pb").exists()
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "QUICK=True" in outputs and "chrF" in outputs and "search errors" in outputs
