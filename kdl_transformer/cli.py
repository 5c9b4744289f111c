"""`kdl-transformer`: the command line (also `python -m kdl_transformer`).

    kdl-transformer demo                                  # offline: both models on synthetic data
    kdl-transformer train classifier --out runs/imdb      # IMDB from $KDL_DATA_DIR or a download
    kdl-transformer train classifier --set model=bigrams  # the book's bag-of-bigrams baseline
    kdl-transformer pretrain bert --out runs/bert         # BERT-style pretraining on IMDB reviews
    kdl-transformer pretrain bert --out runs/bert_mlm --set nsp=false   # masked LM only
    kdl-transformer train classifier --out runs/imdb_bert --set init_from=runs/bert --set pooling=cls
    kdl-transformer train translator --out runs/enko --set num_layers=3
    kdl-transformer train translator --strategy mirrored --set precision=mixed_bfloat16
    kdl-transformer train translator --preset extra --out runs/enko_extra   # 2 stages, one command
    kdl-transformer evaluate translator runs/enko
    kdl-transformer translate runs/enko "I like coffee." --method beam
    kdl-transformer predict runs/imdb "A wonderful film."
    kdl-transformer attention translator runs/enko "I like coffee." --out attention.png
    kdl-transformer export classifier runs/imdb exported/imdb

Each subcommand is a thin wrapper over a function of
`kdl_transformer.workflows.classifier` / `.translator` / `.bert`, which notebooks and
users' own code can call directly.
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

# Nothing at the top of this module may import TensorFlow: main() quiets its start-up logs first.
from kdl_transformer.quiet import quiet_tensorflow_logs

MODELS = ("classifier", "translator")
PRETRAINED = ("bert",)  # `kdl-transformer pretrain MODEL`: kdl_transformer.workflows.MODEL.pretrain
STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")  # kdl_transformer.distribute's
PRESETS = ("extra",)  # kdl_transformer.workflows.translator_presets.PRESETS


def _workflow(model):
    return importlib.import_module(f"kdl_transformer.workflows.{model}")


def _parse_overrides(pairs):
    overrides = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"--set {pair!r} is not of the form key=value (e.g. --set embed_dim=128).")
        key, value = pair.split("=", 1)
        overrides[key.strip()] = value.strip()
    return overrides


def _print_json(result):
    if result is not None:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def _demo(args):
    for model in MODELS:
        print(f"\n=== {model} demo ===", flush=True)
        getattr(importlib.import_module("kdl_transformer.workflows.demo"), model)(args.out / model)


def _train(args):
    if args.preset:
        if args.model != "translator":
            raise ValueError("--preset applies to `train translator` only.")
        if args.epochs is not None:
            raise ValueError("--epochs does not apply with --preset (each stage sets its own); "
                             "use --set epochs=N to give every stage N epochs.")
        from kdl_transformer.workflows.translator_presets import train_preset

        train_preset(args.preset, out=args.out or Path("runs") / f"enko_{args.preset}",
                     data_dir=args.data_dir, quick=args.quick, overrides=_parse_overrides(args.set),
                     strategy=args.strategy, cpu_devices=args.cpu_devices)
        return
    _workflow(args.model).train(
        out=args.out or Path("runs") / args.model,
        data_dir=args.data_dir,
        epochs=args.epochs,
        quick=args.quick,
        overrides=_parse_overrides(args.set),
        strategy=args.strategy,
        cpu_devices=args.cpu_devices,
    )


def _pretrain(args):
    _workflow(args.model).pretrain(
        out=args.out or Path("runs") / args.model,
        data_dir=args.data_dir,
        epochs=args.epochs,
        quick=args.quick,
        overrides=_parse_overrides(args.set),
    )


def _search_settings(args):
    """The --beam-size / --length-penalty / --no-repeat-ngram given; None (absent): the run's."""
    return {"beam_size": args.beam_size, "length_penalty": args.length_penalty,
            "no_repeat_ngram_size": args.no_repeat_ngram}


def _evaluate(args):
    settings = {}
    if args.model == "translator":
        settings = _search_settings(args)
    elif any(value is not None for value in _search_settings(args).values()):
        raise ValueError("--beam-size, --length-penalty and --no-repeat-ngram apply to "
                         "`evaluate translator` only.")
    workflow = _workflow(args.model)
    _print_json(workflow.evaluate(args.run_dir, data_dir=args.data_dir, quick=args.quick, **settings))


def _export(args):
    path = _workflow(args.model).export(args.run_dir, args.out)
    print(f"exported to {path or args.out}")


def _attention(args):
    path = _workflow(args.model).attention(args.run_dir, args.text, args.out)
    print(f"wrote {path or args.out}")


def _predict(args):
    for text, probability in zip(args.texts, _workflow("classifier").predict(args.run_dir, args.texts)):
        print(f"{probability:.3f}  {'positive' if probability >= 0.5 else 'negative'}  {text}")


def _translate(args):
    outputs = _workflow("translator").translate(
        args.run_dir, args.texts, method=args.method, **_search_settings(args)
    )
    for text, translation in zip(args.texts, outputs):
        print(f"{text}\n  -> {translation}")


def _add_search_arguments(parser):
    parser.add_argument(
        "--beam-size", type=int, default=None, help="beam width (default: the run's beam_size)"
    )
    parser.add_argument(
        "--length-penalty", type=float, default=None, metavar="ALPHA",
        help="GNMT length-penalty exponent, >= 0 (default: the run's length_penalty)",
    )
    parser.add_argument(
        "--no-repeat-ngram", type=int, default=None, metavar="N",
        help="never write the same N subwords twice in a translation; 0 allows repeats "
             "(default: the run's no_repeat_ngram_size)",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kdl-transformer",
        description="Train, evaluate, inspect and export the Transformer models of kdl_transformer.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="offline demo: train small models on synthetic data")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    demo.set_defaults(handler=_demo)

    train = commands.add_parser("train", help="train a model into a run directory (resumable)")
    train.add_argument("model", choices=MODELS)
    train.add_argument("--data-dir", type=Path, default=None, help="folder with the datasets (default: $KDL_DATA_DIR)")
    train.add_argument("--epochs", type=int, default=None, help="maximum number of epochs")
    train.add_argument("--out", type=Path, default=None, help="run directory (default: runs/MODEL)")
    train.add_argument("--quick", action="store_true", help="tiny subset and model, for smoke tests")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    train.add_argument(
        "--preset", choices=PRESETS, default=None,
        help="translator only: run every stage of a multi-stage recipe (each stage a resumable "
             "run directory inside --out, starting from the previous stage's weights)",
    )
    train.add_argument(
        "--strategy", choices=STRATEGIES, default="auto",
        help="tf.distribute strategy (auto: mirrored over every GPU when there are several); "
             "the batch size stays the global batch",
    )
    train.add_argument(
        "--cpu-devices", type=int, default=None, metavar="N",
        help="split the host CPU into N logical devices (replicas without GPUs)",
    )
    train.set_defaults(handler=_train)

    pretrain = commands.add_parser(
        "pretrain", help="pretrain an encoder without labels (BERT: masked LM + next sentence)"
    )
    pretrain.add_argument("model", choices=PRETRAINED)
    pretrain.add_argument("--data-dir", type=Path, default=None, help="folder with the datasets (default: $KDL_DATA_DIR)")
    pretrain.add_argument("--epochs", type=int, default=None, help="passes over the reviews")
    pretrain.add_argument("--out", type=Path, default=None, help="run directory (default: runs/MODEL)")
    pretrain.add_argument("--quick", action="store_true", help="tiny subset and model, for smoke tests")
    pretrain.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    pretrain.set_defaults(handler=_pretrain)

    evaluate = commands.add_parser("evaluate", help="evaluate a trained run on its test sets")
    evaluate.add_argument("model", choices=MODELS)
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--data-dir", type=Path, default=None)
    evaluate.add_argument("--quick", action="store_true", help="evaluate on a small subset")
    _add_search_arguments(evaluate)  # translator only
    evaluate.set_defaults(handler=_evaluate)

    export = commands.add_parser("export", help="export a SavedModel that takes raw strings")
    export.add_argument("model", choices=MODELS)
    export.add_argument("run_dir", type=Path)
    export.add_argument("out", type=Path)
    export.set_defaults(handler=_export)

    attention = commands.add_parser("attention", help="plot the attention maps of one input")
    attention.add_argument("model", choices=MODELS)
    attention.add_argument("run_dir", type=Path)
    attention.add_argument("text")
    attention.add_argument("--out", type=Path, default=Path("attention.png"))
    attention.set_defaults(handler=_attention)

    predict = commands.add_parser("predict", help="sentiment probabilities of reviews")
    predict.add_argument("run_dir", type=Path)
    predict.add_argument("texts", nargs="+")
    predict.set_defaults(handler=_predict)

    translate = commands.add_parser("translate", help="translate English sentences into Korean")
    translate.add_argument("run_dir", type=Path)
    translate.add_argument("texts", nargs="+")
    translate.add_argument("--method", choices=("greedy", "beam"), default="beam")
    _add_search_arguments(translate)
    translate.set_defaults(handler=_translate)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    quiet_tensorflow_logs()  # before the handler loads TensorFlow (a no-op once it is loaded)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume training.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
