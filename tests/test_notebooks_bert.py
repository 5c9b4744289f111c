"""Notebook 04 (BERT-style pretraining, then fine-tuning on IMDB) runs top to bottom in quick mode."""

import json

import pytest

from kdl_transformer import training
from tests.test_notebooks import run_quick_notebook


@pytest.mark.data
def test_bert_notebook_quick(data_dir, tmp_path):
    run_dir = tmp_path / "notebook04"
    outputs = run_quick_notebook("04_bert_pretraining.ipynb", run_dir, data_dir)
    for run in ("pretrain_mlm_nsp", "mlm_nsp/cls_seed1337", "bigrams/seed1337"):
        assert training.is_finished(run_dir / run), run
    metrics = json.loads((run_dir / "mlm_nsp" / "cls_seed1337" / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_quick"]
    assert (run_dir / "figures" / "cls_attention.png").stat().st_size > 10_000
    assert (run_dir / "figures" / "pretraining_curves.png").stat().st_size > 10_000
    assert "QUICK=True" in outputs and "top-5 guesses" in outputs
    for printed in ("kind", "[MASK]", "NSP label 1", "NSP label 0", "fine-tuned BERT", "bert.json"):
        assert printed in outputs, printed
