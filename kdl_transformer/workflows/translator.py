"""English->Korean translator workflows: train, evaluate, translate, attention, export.

Each function is what one `kdl-transformer` subcommand runs, and what a notebook or a user's own
code can call directly. A run directory holds everything about one run:

    RUN_DIR/
      config.json            TranslatorConfig
      tokenizers/english/    SentencePiece vocabulary of the source (trained on the train split)
      tokenizers/korean/     ... of the target
      model.keras            the best model (lowest validation loss)
      history.json, best_epoch.json, learning_curves.png, logs/ (TensorBoard), backup/
      metrics.json           train_seconds, parameters, data sizes; then `evaluate` results
      extra_data.json        with extra_data: rows read, dropped and used per extra-pair file
"""

import dataclasses
import os
import warnings
from pathlib import Path

import keras
import numpy as np

from kdl_transformer import batching, distribute, evaluation, training
from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.models.architectures import build_translator_model
from kdl_transformer.objectives import compile_translator
from kdl_transformer.plotting import plot_translation_attention
from kdl_transformer.text import directions, subword_sampling
from kdl_transformer.translator import Translator
from kdl_transformer.workflows.translator_presets import final_run_dir

SOURCE_TOKENIZER_DIR = Path("tokenizers") / "english"
TARGET_TOKENIZER_DIR = Path("tokenizers") / "korean"
QUICK_TRAIN_PAIRS = 600  # quick mode: a slice of the training split, for CI
QUICK_EVAL_PAIRS = {"tatoeba_test": 40, "flores_devtest": 12, "synthetic_test": 40}
METRIC_LABELS = {  # what the learning curves' numbers are
    "loss": "cross-entropy per target subword\n(label smoothing, padding masked)",
    "accuracy": "target subwords predicted right\n(teacher forcing, padding masked)",
}


# ------------------------------------------------------------------------------ config, data
def is_quick(quick=False):
    """Quick mode: `quick=True` or the environment variable KDL_QUICK=1 (CI)."""
    return bool(quick) or os.environ.get("KDL_QUICK") == "1"


def make_config(quick=False, epochs=None, overrides=None):
    """The run's `TranslatorConfig`: defaults (or `quick()`), then `--set` overrides, then epochs."""
    config = TranslatorConfig.quick() if quick else TranslatorConfig()
    config = training.apply_overrides(config, overrides)
    if epochs is not None:
        config = dataclasses.replace(config, epochs=int(epochs))
    return config


def load_splits(config, data_dir=None, quick=False):
    """Train / validation / test pairs for `config.dataset` (deterministic in `config.seed`).

    Returns:
        dict "train", "validation", "test" -> lists of (english, korean); for Tatoeba the
        split is by English sentence, and `config.extra_data` adds the extra pairs to "train"
        (tidied, minus anything that matches a validation, test or FLORES sentence; each file
        capped and repeated as `config.extra_caps` / `extra_repeats` say) after
        `config.tatoeba_repeats` copies of the Tatoeba training pairs. Then "extra_sources"
        holds the per-file report of `kdl_transformer.datasets.weigh_sources`.
    """
    if config.dataset == "synthetic":
        from kdl_transformer.datasets import make_translation_pairs

        pairs = make_translation_pairs(config.synthetic_pairs, seed=config.seed)
        held_out = max(len(pairs) // 10, 1)
        splits = {
            "train": pairs[: -2 * held_out],
            "validation": pairs[-2 * held_out : -held_out],
            "test": pairs[-held_out:],
        }
    else:
        from kdl_transformer.datasets import load_tatoeba_kor_eng

        data = load_tatoeba_kor_eng(data_dir=data_dir, seed=config.seed)
        splits = {"train": list(data.train), "validation": list(data.val), "test": list(data.test)}
        if config.extra_data:
            from kdl_transformer.datasets import load_extra_enko, load_flores_eng_kor

            from kdl_transformer.datasets import weigh_sources

            exclude = data.val + data.test + load_flores_eng_kor(data_dir=data_dir)
            extra = load_extra_enko(exclude=exclude, data_dir=data_dir, tidy=True)
            pairs, splits["extra_sources"] = weigh_sources(
                extra, config.extra_repeats, config.extra_caps, seed=config.seed
            )
            splits["train"] = splits["train"] * config.tatoeba_repeats + pairs
    if quick:
        splits["train"] = splits["train"][:QUICK_TRAIN_PAIRS]
        splits["validation"] = splits["validation"][: QUICK_TRAIN_PAIRS // 4]
    return splits


def evaluation_sets(config, data_dir=None, quick=False):
    """Named evaluation pair lists: the test split (and FLORES devtest for Tatoeba runs)."""
    test = load_splits(dataclasses.replace(config, extra_data=False), data_dir)["test"]
    if config.dataset == "synthetic":
        sets = {"synthetic_test": test}
    else:
        from kdl_transformer.datasets import load_flores_eng_kor

        sets = {"tatoeba_test": test, "flores_devtest": load_flores_eng_kor(data_dir=data_dir)}
    if quick:  # evenly spaced, so that quick runs see long sentences too (the split is sorted)
        sets = {name: pairs[:: max(len(pairs) // QUICK_EVAL_PAIRS[name], 1)][: QUICK_EVAL_PAIRS[name]]
                for name, pairs in sets.items()}
    return sets


def train_tokenizers(train_pairs, config):
    """SentencePiece vocabularies trained on the training split only (English lowercased).

    With `config.shared_vocab_size`, one vocabulary for both languages (`text.directions`).
    """
    from kdl_transformer.text import SubwordTokenizer

    if config.shared_vocab_size:
        return directions.train_shared_tokenizers(
            train_pairs, config.shared_vocab_size, config.both_directions)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The training text supports only")
        english = SubwordTokenizer.train(
            [en for en, _ in train_pairs], vocab_size=config.source_vocab_size, lowercase=True
        )
        korean = SubwordTokenizer.train(
            [ko for _, ko in train_pairs], vocab_size=config.target_vocab_size, lowercase=False
        )
    return english, korean


def _token_dropout(rate, seed):
    """Word dropout on the source and decoder-input subwords; the targets stay intact.

    The decoder must still predict every true subword, from a context with holes in it.
    """
    from kdl_transformer.text import UNK_ID, word_dropout

    def apply(inputs):
        source, target_input = inputs
        source = word_dropout(source, rate, UNK_ID, seed)
        target_input = word_dropout(target_input, rate, UNK_ID, seed, keep_first=True)  # [START]
        return source, target_input

    return apply


def make_dataset(pairs, source_tokenizer, target_tokenizer, config, shuffle, window_batches=16,
                 drop_remainder=False):
    """`((source, decoder_inputs), targets)` batches of similar lengths, padding trimmed.

    Rows come from `kdl_transformer.text.encode_translation_pairs` (padded to
    `config.sequence_length`). Training batches (`shuffle=True`) get `config.token_dropout`,
    and with `config.subword_sampling` are tokenized anew each epoch with BPE-dropout.
    They go through `kdl_transformer.batching.length_bucketed_dataset`, sorted by target
    length: each tensor of a batch is cut to its own longest row. Shapes vary from batch to
    batch: keep `jit_compile` off (measured: much slower with it on). `drop_remainder` drops the
    last, partial batch (training on several replicas: `distribute.replica_batches`).
    """
    from kdl_transformer.text import encode_translation_pairs
    from kdl_transformer.text.translation_dataset import encode_translation_batch

    augment = _token_dropout(config.token_dropout, config.seed) if config.token_dropout else None
    bucketing = dict(shuffle=shuffle, seed=config.seed, window_batches=window_batches,
                     augment=augment, sort_by="labels", drop_remainder=drop_remainder)
    if shuffle and config.subword_sampling and pairs:
        def encode(sources, targets):  # a window of string pairs -> id rows, segmented anew
            source, target_input, target_output = encode_translation_batch(
                sources, targets, source_tokenizer, target_tokenizer, config.sequence_length,
                sampling=config.subword_sampling)
            return (source, target_input), target_output

        sources, targets = (np.array([pair[i] for pair in pairs], dtype=object) for i in (0, 1))
        return batching.length_bucketed_dataset(sources, targets, config.batch_size,
                                                encode=encode, **bucketing)
    source, target_input, target_output = encode_translation_pairs(
        pairs, source_tokenizer, target_tokenizer, config.sequence_length
    )
    return batching.length_bucketed_dataset(
        (source, target_input), target_output, config.batch_size, **bucketing)


# ------------------------------------------------------------------------------ training
# What a fine-tuning run must share with the run it starts from (`config.init_from`).
MODEL_FIELDS = ("architecture", "rnn_units", "source_vocab_size", "target_vocab_size",
                "shared_vocab_size", "both_directions", "sequence_length", "embed_dim",
                "dense_dim", "num_heads", "num_encoder_layers", "num_decoder_layers",
                "norm_first", "positions")


def _check_init_from(config):
    """Refuse an `init_from` that is not a finished run, or whose model has other sizes."""
    if not Path(config.init_from).is_dir() or not training.is_finished(config.init_from):
        raise FileNotFoundError(
            f"init_from={config.init_from!r} is not a finished translator run directory; "
            "train that run first, or fix the path."
        )
    parent = training.load_config(config.init_from, TranslatorConfig)
    differ = [name for name in MODEL_FIELDS if getattr(parent, name) != getattr(config, name)]
    if differ:
        raise ValueError(
            f"init_from={config.init_from!r} has a model of other sizes "
            f"({', '.join(f'{n}={getattr(parent, n)}' for n in differ)}); "
            "use the same values in this run."
        )


def _tokenizers(run_dir, train_pairs, config):
    """Load the run's tokenizers (resume), or those of `config.init_from`, or train new ones."""
    from kdl_transformer.text import SubwordTokenizer

    english_dir, korean_dir = run_dir.path / SOURCE_TOKENIZER_DIR, run_dir.path / TARGET_TOKENIZER_DIR
    if english_dir.exists() and korean_dir.exists():
        return SubwordTokenizer.load(english_dir), SubwordTokenizer.load(korean_dir)
    if config.init_from:
        parent = Path(config.init_from)
        english = SubwordTokenizer.load(parent / SOURCE_TOKENIZER_DIR)
        korean = SubwordTokenizer.load(parent / TARGET_TOKENIZER_DIR)
    else:
        english, korean = train_tokenizers(train_pairs, config)
    english.save(english_dir)
    korean.save(korean_dir)
    return english, korean


def train_run(run_dir, config, splits, verbose="auto", extra_callbacks=(), reuse_finished=False,
              strategy=None):
    """Train a translator on `splits` into `run_dir` (resuming an interrupted run).

    Args:
        run_dir: run directory.
        config: `TranslatorConfig`.
        splits: dict with "train" and "validation" pair lists.
        verbose: Keras `fit` verbosity.
        extra_callbacks: more Keras callbacks.
        reuse_finished: when `run_dir` already holds a finished run with this config, load it
            instead of training again (notebooks re-executed after the full run).
        strategy: a `tf.distribute.Strategy` (`kdl_transformer.distribute.make_strategy`); the
            model, optimizer and metrics are built in its scope. None: the default (one device).
            `config.batch_size` is the global batch, split over the replicas.

    Returns:
        the `Translator` with the best weights.
    """
    run_dir = training.RunDir(run_dir)
    training.check_resumable(run_dir, config)  # epochs, patience and decoding defaults may change
    if reuse_finished and training.is_finished(run_dir):
        training.show_finished_run(run_dir, METRIC_LABELS)
        return load_translator(run_dir.path)
    if config.init_from:
        _check_init_from(config)

    def prepare(run):  # what the chief writes before training: config, data report, tokenizers
        training.save_config(run, config)
        if "extra_sources" in splits:
            from kdl_transformer.datasets import format_source_report

            print("Extra pairs by file:\n" + format_source_report(splits["extra_sources"]))
            run.write_json("extra_data.json", splits["extra_sources"])
        keras.utils.set_random_seed(config.seed)
        _tokenizers(run, splits["train"], config)

    with training.worker_run_dir(run_dir, strategy, prepare) as run_dir:
        keras.utils.set_random_seed(config.seed)
        english, korean = _tokenizers(run_dir, splits["train"], config)
        # Both directions: tagged pairs, read without the English tokenizer's "<2ko> " prefix.
        train_pairs = directions.training_pairs(splits["train"], config.both_directions)
        val_pairs = directions.training_pairs(splits["validation"], config.both_directions,
                                              reverse=False)
        source = directions.source_tokenizer(english)
        subword_sampling.seed(config.seed)
        train_ds = make_dataset(train_pairs, source, korean, config, shuffle=True,
                                drop_remainder=distribute.replica_batches(strategy))
        val_ds = make_dataset(val_pairs, source, korean, config, shuffle=False)
        with distribute.strategy_scope(strategy), distribute.precision_scope(config.precision):
            model = build_translator_model(config, english.vocabulary_size, korean.vocabulary_size)
            if config.init_from:  # fine-tuning: start from the trained weights (a resume overrides)
                model.load_weights(training.RunDir(config.init_from).model_path)
            compile_translator(model, config)
        training.fit(
            model, train_ds, val_ds, run_dir, epochs=config.epochs, patience=config.patience,
            verbose=verbose, extra_callbacks=extra_callbacks, average_best=config.average_best,
            metric_labels=METRIC_LABELS,
        )
        run_dir.update_metrics(
            parameters=int(model.count_params()),
            train_pairs=len(train_pairs),
            validation_pairs=len(splits["validation"]),
            source_vocabulary_size=english.vocabulary_size,
            target_vocabulary_size=korean.vocabulary_size,
            replicas=int(getattr(strategy, "num_replicas_in_sync", 1)),
        )
    return Translator.from_config(model, english, korean, config)


def train(out, data_dir=None, epochs=None, quick=False, overrides=None, strategy="auto",
          cpu_devices=None, verbose="auto"):
    """`kdl-transformer train translator`: train on Tatoeba (default) into the run directory `out`.

    Args:
        out: run directory (created; an interrupted run there is resumed).
        data_dir: folder with the datasets (default `$KDL_DATA_DIR`, then cache/download).
        epochs: maximum epochs (default: the config's).
        quick: tiny model on a slice of the data, for CI (also KDL_QUICK=1).
        overrides: `{"field": "value"}` strings for `TranslatorConfig` fields.
        strategy: "auto", "one-device", "mirrored", "multi-worker" or a `tf.distribute.Strategy`
            (`kdl_transformer.distribute.make_strategy`); created first, before anything else
            uses TensorFlow. `batch_size` stays the global batch.
        cpu_devices: split the host CPU into this many logical devices (replicas on a CPU).
        verbose: Keras `fit` verbosity.

    Returns:
        dict: metrics.json of the run.
    """
    strategy = distribute.make_strategy(strategy, cpu_devices)
    quick = is_quick(quick)
    config = make_config(quick, epochs, overrides)
    splits = load_splits(config, data_dir, quick)
    train_run(out, config, splits, verbose=verbose, strategy=strategy)
    return training.RunDir(out).read_json("metrics.json")


# ------------------------------------------------------------------------------ using a run
def load_translator(run_dir):
    """The `Translator` of a finished run directory (model, tokenizers, decoding defaults).

    `run_dir` may also be the folder of a `--preset` run: its final stage is loaded.

    The model computes in the run's `precision`, as it trained.
    """
    from kdl_transformer.text import SubwordTokenizer

    run_dir = training.RunDir(final_run_dir(run_dir))  # a preset's folder: its final stage
    model_path = run_dir.require_model()
    config = training.load_config(run_dir, TranslatorConfig)
    with distribute.precision_scope(config.precision):
        model = keras.models.load_model(model_path, compile=False)
    english = SubwordTokenizer.load(run_dir.path / SOURCE_TOKENIZER_DIR)
    korean = SubwordTokenizer.load(run_dir.path / TARGET_TOKENIZER_DIR)
    return Translator.from_config(model, english, korean, config)


def translate(run_dir, texts, method="beam", **search):
    """`kdl-transformer translate`: Korean translations of English sentences (list of str);
    `search`: `beam_size`, `length_penalty`, `no_repeat_ngram_size` (absent or None: the run's)."""
    return load_translator(run_dir).translate(list(texts), method=method, **search)


def evaluate(run_dir, data_dir=None, quick=False, beam_size=None, length_penalty=None,
             no_repeat_ngram_size=None):
    """`kdl-transformer evaluate translator`: BLEU/chrF, samples and error analysis.

    Translates the test split (Tatoeba test and FLORES-200 devtest for Tatoeba runs) with greedy
    and beam search, and writes the results under "evaluation" in metrics.json, with the beam
    settings used under "evaluation_search". `beam_size`, `length_penalty` and
    `no_repeat_ngram_size` default (None) to the run's (config.json).

    Returns:
        dict: evaluation set -> method -> scores (samples left out; they are in metrics.json).
    """
    quick = is_quick(quick)
    run_dir = final_run_dir(run_dir)  # a preset's folder: its final stage
    run = training.RunDir(run_dir)
    translator = load_translator(run_dir)
    if no_repeat_ngram_size is not None:
        translator.no_repeat_ngram_size = no_repeat_ngram_size  # the translator checks it
    config = training.load_config(run, TranslatorConfig)
    search = {  # None: the run's value
        "beam_size": translator.beam_size if beam_size is None else beam_size,
        "length_penalty": translator.length_penalty if length_penalty is None else length_penalty,
    }
    results = {
        name: evaluation.evaluate_translator(translator, pairs, **search)
        for name, pairs in evaluation_sets(config, data_dir, quick).items()
    }
    run.update_metrics(evaluation=results, evaluation_quick=quick, evaluation_search={
        **search, "no_repeat_ngram_size": translator.no_repeat_ngram_size})
    return {
        name: {method: {k: v for k, v in scores.items() if k not in ("samples", "signatures")}
               for method, scores in by_method.items()}
        for name, by_method in results.items()
    }


def attention(run_dir, text, out):
    """`kdl-transformer attention translator`: attention maps of the translation of `text`."""
    maps = load_translator(run_dir).attention(text)
    return plot_translation_attention(maps, out)[0]


def export(run_dir, out):
    """`kdl-transformer export translator`: a SavedModel from English strings to Korean strings."""
    from kdl_transformer.export import export_translator

    return export_translator(load_translator(run_dir), out)
