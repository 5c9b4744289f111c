"""Multi-stage translator recipes run by one command: `train translator --preset NAME`.

A preset is a list of stages. Each stage is a resumable translator run directory inside the
preset's folder, and each stage after the first starts from the weights (and tokenizers) of
the one before (`init_from`). Run the same command again after an interruption: finished stages
are loaded, not retrained, and the interrupted one resumes.

    OUT/
      preset.json        the preset, its stages and which stage holds the final model
      1_extra/ ...       one run directory per stage (config.json, model.keras, history.json, ...)
      2_tatoeba_x3/      the final model: `evaluate`, `translate`, `attention` and `export`
                         accept OUT itself and read this stage

"extra" is the extra-data model's recipe (Tatoeba training pairs + the extra pairs): shared
settings for every stage, then per stage what changes.
"""

import dataclasses
import json
from pathlib import Path

PRESET_FILE = "preset.json"
# Fields that size the model or choose the data: shared by every stage of a preset. In quick
# mode (CI) the vocabulary sizes stay the quick ones: a slice of 600 pairs cannot fill them.
SIZE_FIELDS = ("source_vocab_size", "target_vocab_size", "shared_vocab_size")
QUICK_SHARED_VOCAB = 1000  # quick mode: a shared vocabulary stays shared, at a size 600 pairs fill


@dataclasses.dataclass(frozen=True)
class Preset:
    """A multi-stage recipe: `shared` overrides for every stage, then `stages` in order.

    Attributes:
        description: one line, printed when the preset starts.
        shared: dict of `TranslatorConfig` field -> value, for every stage.
        stages: tuple of `(stage name, dict of field -> value)`.
    """

    description: str
    shared: dict
    stages: tuple


PRESETS = {
    # Chosen on the validation split (benchmarks/results/translator_recipe.json): one shared
    # subword vocabulary with tied embeddings (+0.4 chrF beam at 3 epochs, fewer parameters and
    # 13% faster); 2+2 blocks of 256, because the wider model's +1.3 costs 2.3x the time;
    # then Tatoeba x3 with word dropout, as the previous extra-data model (+4 on validation).
    "extra": Preset(
        description="the extra-data model: Tatoeba + the extra pairs, 2 stages, the second from "
                    "the first",
        shared=dict(shared_vocab_size=4000, extra_data=True, dropout=0.1, patience=3),
        stages=(
            ("1_extra", dict(token_dropout=0.0, average_best=0, epochs=3)),
            ("2_tatoeba_x3", dict(tatoeba_repeats=3, epochs=2, learning_rate=5e-4,
                                  warmup_steps=200)),
        ),
    ),
}


def get_preset(name):
    """The `Preset` called `name`, or a ValueError naming the presets there are."""
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not one of {tuple(PRESETS)}.")
    return PRESETS[name]


def stage_overrides(preset, index, previous_dir=None, quick=False, overrides=None):
    """The `--set` values of stage `index`: shared, the stage's, `init_from`, then the user's."""
    name, changes = preset.stages[index]
    values = {**preset.shared, **changes}
    if quick:  # CI: one epoch a stage, the quick model's vocabulary sizes
        shared_vocab = values.get("shared_vocab_size")
        values = {k: v for k, v in values.items() if k not in SIZE_FIELDS}
        if shared_vocab:
            values["shared_vocab_size"] = QUICK_SHARED_VOCAB
        values["epochs"] = 1
    if previous_dir is not None:
        values["init_from"] = str(previous_dir)
    return {**values, **(overrides or {})}


def train_preset(name, out, data_dir=None, quick=False, overrides=None, strategy="auto",
                 cpu_devices=None, verbose="auto"):
    """Run every stage of preset `name` into `out` (resumable), each from the last one's weights.

    Args:
        name: a key of `PRESETS`.
        out: the preset's folder (created); stage k trains in `out/<stage name>`.
        data_dir, quick, strategy, cpu_devices, verbose: as `workflows.translator.train`.
        overrides: `{"field": "value"}` applied to every stage, after the preset's values.

    Returns:
        dict: metrics.json of the final stage.
    """
    from kdl_transformer import distribute, training
    from kdl_transformer.workflows import translator

    preset = get_preset(name)
    strategy = distribute.make_strategy(strategy, cpu_devices)  # first, as `train` does
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stages = [out / stage for stage, _ in preset.stages]
    record = {"preset": name, "description": preset.description, "quick": bool(quick),
              "stages": [stage for stage, _ in preset.stages], "final_stage": preset.stages[-1][0],
              "overrides": dict(overrides or {})}
    if distribute.is_chief(strategy):
        (out / PRESET_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(f"preset {name!r}: {preset.description}")
    previous = None
    for index, stage_dir in enumerate(stages):
        values = stage_overrides(preset, index, previous, quick, overrides)
        print(f"\n=== stage {index + 1}/{len(stages)}: {stage_dir.name} ===", flush=True)
        config = translator.make_config(quick, overrides=values)
        splits = translator.load_splits(config, data_dir, quick)
        translator.train_run(stage_dir, config, splits, verbose=verbose, strategy=strategy)
        previous = stage_dir
    return training.RunDir(previous).read_json("metrics.json")


def stage_run_dirs(path):
    """A preset folder's stage run directories in training order, or `[path]` for a plain run."""
    path = Path(path)
    record = path / PRESET_FILE
    if record.is_file():
        return [path / stage for stage in json.loads(record.read_text())["stages"]]
    return [path]


def final_run_dir(path):
    """The run directory holding a preset folder's final model, or `path` itself."""
    return stage_run_dirs(path)[-1]
