"""The architecture comparison's bookkeeping: which candidate is kept, and the table."""

from kdl_transformer import training
from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.workflows import architectures


def fake_run(path, architecture, best, average=None):
    run = training.RunDir(path)
    training.save_config(run, TranslatorConfig(architecture=architecture))
    metrics = {"best_val_loss": best, "epochs_trained": 30, "train_seconds": 60.0}
    if average is not None:
        metrics["checkpoint_average"] = {"average_val_loss": average, "used": average < best}
    run.write_json("metrics.json", metrics)
    return path


def test_selection_compares_the_kept_weights_averaged_or_not(tmp_path):
    dirs = {"gru": {
        "heavy": fake_run(tmp_path / "a", "gru", best=3.60, average=3.65),  # keeps 3.60
        "light": fake_run(tmp_path / "b", "gru", best=3.62, average=3.55),  # keeps the average
    }}
    chosen = architectures.select(dirs)["gru"]
    assert chosen["chosen"] == "light" and chosen["run_dir"] == str(tmp_path / "b")
    assert chosen["candidates"]["heavy"]["val_loss"] == 3.60
    assert chosen["candidates"]["light"]["val_loss"] == 3.55
    assert chosen["candidates"]["light"]["settings"]["architecture"] == "gru"


def test_the_table_has_a_row_per_architecture_and_a_dash_for_an_empty_bucket():
    def result(chrf_long):
        buckets = {"1-4": {"sentences": 5, "chrf": 10.0}, "13+": {"sentences": 0, "chrf": chrf_long}}
        method = {"chrf": 9.5, "bleu_13a": 1.25, "chrf_by_source_length": buckets}
        return {"parameters": 1234567, "train_seconds": 90.0, "epochs_trained": 3,
                "test": {"greedy": method, "beam": method},
                "ms_per_sentence": {"beam": {"batch_1": 12.34, "batch_64": 1.5}}}

    table = architectures.comparison_table({"gru": result(None), "transformer": result(0.0)})
    lines = table.splitlines()
    assert len(lines) == 3 and "chrF 13+" in lines[0]
    assert lines[1].split()[:3] == ["gru", "1,234,567", "1.5"] and lines[1].split()[7] == "-"
    assert lines[2].split()[7] == "0.00"  # a real 0 is a score, not a missing one
