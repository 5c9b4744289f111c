"""The notebooks run top to bottom in quick mode (KDL_QUICK=1), in a kernel of this venv."""

import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(path, env, timeout=600):
    """Execute notebook `path` with the environment variables `env`; returns the executed notebook.

    The kernel is "python3" started by nbclient, which jupyter_client launches with this
    interpreter (`sys.executable`), so it sees the same venv: no kernel has to be installed.
    """
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(
            notebook, timeout=timeout, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent.parent)}},  # the repository root
        )
        client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def run_quick_notebook(name, run_dir, data_dir):
    """Execute notebook `name` in quick mode into `run_dir`; returns the text of all its outputs."""
    notebook = run_notebook(
        NOTEBOOKS / name,
        {"KDL_QUICK": "1", "KDL_RUN_DIR": str(run_dir), "KDL_DATA_DIR": str(data_dir),
         "PYTHONPATH": os.pathsep.join([str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH", "")])},
    )
    return "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


@pytest.mark.data
def test_classifier_notebook_quick(data_dir, tmp_path):
    run_dir = tmp_path / "notebook01"
    outputs = run_quick_notebook("01_text_classification.ipynb", run_dir, data_dir)
    assert (run_dir / "attention.png").stat().st_size > 10_000
    assert (run_dir / "saved_model" / "saved_model.pb").exists()
    assert "QUICK=True" in outputs and "test accuracy" in outputs
