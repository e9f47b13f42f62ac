"""``python -m trainer`` (also what ``poxscreen train|evaluate`` runs as a child process).

Sub-commands: ``train``, ``evaluate``, ``split``, ``rollback``. Exit codes: 0 done (also after a
clean stop that kept a model), 1 error (an ``error`` progress event says why), 2 bad arguments,
130 aborted (second Ctrl+C: nothing registered).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from engine.cli.common import add_lang, apply_lang
from engine.device import DEVICE_CHOICES
from engine.recipe import BALANCING, BN_MODES, MONITORS, RECIPE, SCHEDULES

COMMANDS = ("train", "evaluate", "split", "rollback")
NO_DATA = (
    "no training data: give --data DIR (DIR/<class>/<images>) and/or --from-store "
    "(the case store's labelled photos)"
)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not within [0, 1]")
    return value


def _add_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune a model on labelled folders and/or the case store",
        description="Fine-tune MobileNetV2-MSCA-PFR. Progress: '@progress {json}' "
        "lines on stdout; stop cleanly with a STOP file in the run folder, "
        "SIGTERM or Ctrl+C.",
    )
    _add_train_data(p)
    _add_train_split(p)
    _add_train_fit(p)
    _add_train_promotion(p)
    p.set_defaults(handler=cmd_train)


def _add_train_data(p: argparse.ArgumentParser) -> None:
    """What to train on, where from, and where the run goes."""
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="DIR",
        type=Path,
        help="ImageFolder-style folder (DIR/<class>/<images>); repeatable",
    )
    p.add_argument(
        "--from-store",
        action="store_true",
        help="also train on the case store's labelled images (not 'refer')",
    )
    p.add_argument(
        "--lab-confirmed-only",
        action="store_true",
        help="with --from-store: only photos of visits with a lab result (positive or negative)",
    )
    p.add_argument(
        "--db",
        help="case store: path or SQLAlchemy URL (default: $POXSCREEN_DB, then the user data dir)",
    )
    p.add_argument(
        "--no-register",
        action="store_true",
        help="only write the run folder; do not register the model in the store",
    )
    p.add_argument(
        "--init",
        default="auto",
        metavar="auto|active|imagenet|random|FILE",
        help="start model (default: the store's active model, else ImageNet)",
    )
    p.add_argument(
        "--classes",
        nargs="+",
        help="change the class list on purpose (a fine-tune otherwise keeps every class of "
        "its start model, in its order); the change is recorded and named in the decision",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="RUN_DIR",
        help="run folder (default: <user data dir>/training/<time>)",
    )


def _add_train_split(p: argparse.ArgumentParser) -> None:
    """The recorded split: validation, gate and test parts, near-duplicate grouping."""
    p.add_argument(
        "--split",
        type=Path,
        metavar="FILE",
        dest="split_file",
        help="recorded split to reuse and extend, or to create (JSON)",
    )
    p.add_argument("--val-fraction", type=_fraction, default=RECIPE.val_fraction)
    p.add_argument(
        "--gate-fraction",
        type=_fraction,
        default=RECIPE.gate_fraction,
        help="hold out a gate slice: the images old and new model are compared on for "
        "promotion (never used for early stopping or calibration); recorded in the split",
    )
    p.add_argument(
        "--test-fraction",
        type=_fraction,
        default=RECIPE.test_fraction,
        help="hold out a test split too (reported, never used for choices)",
    )
    p.add_argument(
        "--hash-threshold",
        type=int,
        default=None,
        help=f"pHash Hamming distance for near-duplicates (default {RECIPE.hash_threshold} of 64)",
    )


def _add_train_fit(p: argparse.ArgumentParser) -> None:
    """The recipe: optimisation, freezing, BatchNorm, augmentation, device."""
    p.add_argument("--epochs", type=int, default=RECIPE.epochs)
    p.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    p.add_argument("--lr", type=float, default=RECIPE.lr)
    p.add_argument("--weight-decay", type=float, default=RECIPE.weight_decay)
    p.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=RECIPE.schedule,
        help="learning rate per epoch: constant (recipe), halve on plateau, or cosine",
    )
    p.add_argument(
        "--patience", type=int, default=RECIPE.patience, help="early-stopping patience (epochs)"
    )
    p.add_argument(
        "--monitor",
        choices=MONITORS,
        default=RECIPE.monitor,
        help="validation metric for early stopping and the best checkpoint",
    )
    p.add_argument(
        "--balance",
        choices=BALANCING,
        default=RECIPE.balance,
        help="class imbalance: balanced sampling, weighted loss, or none",
    )
    p.add_argument(
        "--freeze",
        type=_fraction,
        default=RECIPE.freeze,
        help=f"fraction of backbone blocks to freeze (default {RECIPE.freeze})",
    )
    p.add_argument(
        "--bn",
        choices=BN_MODES,
        default=RECIPE.bn,
        help="BatchNorm before training: preserve = function-preserving re-estimation "
        "(pretrained starts), recalibrate = plain statistics (random starts); auto picks",
    )
    _add_train_regularisation(p)
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)}, cuda:N")
    p.add_argument("--input-size", type=int, help="override the model's input size")
    p.add_argument("--seed", type=int, default=RECIPE.seed)
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)"
    )
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes")
    p.add_argument("--name", help="model name (default: finetune-<time>)")


def _add_train_regularisation(p: argparse.ArgumentParser) -> None:
    """What keeps a small set from being learnt by heart: augmentation, smoothing, EMA, mixing."""
    p.add_argument("--no-augment", action="store_true", help="no online augmentation")
    p.add_argument(
        "--augmentation",
        choices=("standard", "phone"),
        default="standard",
        help="phone: also white balance, slight blur, JPEG re-compression, 20 degree turns",
    )
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument(
        "--ema", type=float, default=0.0, help="EMA decay of the weights (e.g. 0.99; 0 = off)"
    )
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up epochs")
    p.add_argument(
        "--mix", type=float, default=0.0, help="share of batches mixed by MixUp or CutMix (0-1)"
    )


def _add_train_rule(p: argparse.ArgumentParser) -> None:
    """The cross-fitting's promotion rule (engine.recipe.DecisionRule)."""
    from engine.recipe import DECISION, OUTCOMES

    p.add_argument(
        "--folds", type=int, default=DECISION.folds, help=f"cross-fitting folds ({DECISION.folds})"
    )
    p.add_argument(
        "--outcome",
        choices=OUTCOMES,
        default=DECISION.outcome,
        help="what the cross-fitting compares per photo: the Brier score of the probabilities "
        "(and right at least as often) or right/wrong (default %(default)s)",
    )
    p.add_argument(
        "--no-mpox-offset",
        action="store_true",
        help="judge the new model as fitted, without raising its Mpox logit to catch as many "
        "labelled Mpox photos as the model in use",
    )
    p.add_argument(
        "--level",
        type=float,
        default=DECISION.level,
        help="share of bootstrap resamples in which the new model must do better "
        f"(default {DECISION.level})",
    )
    p.add_argument(
        "--reference-drop",
        type=float,
        default=DECISION.reference_drop,
        help="most macro-F1 the new model may lose on the shipped reference set "
        f"(default {DECISION.reference_drop})",
    )


def _add_train_promotion(p: argparse.ArgumentParser) -> None:
    """Naming, the promotion gate and how the run can be stopped."""
    from engine.recipe import DECISION
    from trainer.promote import DEFAULT_MIN_DELTA, GATE_METRICS, MIN_GATE_IMAGES

    p.add_argument(
        "--decision",
        choices=("auto", "cross-fit", "gate"),
        default="auto",
        help="how the new model is judged: cross-fitting on every label (auto: a fine-tune of "
        f"the model in use on the store's labels, up to {DECISION.crossfit_max}) or a held-out "
        "gate slice",
    )
    _add_train_rule(p)
    p.add_argument("--promote-metric", choices=GATE_METRICS, default=RECIPE.promote_metric)
    p.add_argument(
        "--min-delta",
        type=float,
        default=DEFAULT_MIN_DELTA,
        help="margin the new model must beat the active one by on the gate slice "
        f"(default {DEFAULT_MIN_DELTA}); with fewer than {MIN_GATE_IMAGES} gate photos only "
        "--force-promote activates",
    )
    p.add_argument(
        "--force-promote",
        action="store_true",
        help="activate the new model even if it does not beat the active one",
    )
    p.add_argument(
        "--no-activate",
        action="store_true",
        help="register the model but never activate it (the GUI's Promote decides)",
    )
    p.add_argument(
        "--stop-file", type=Path, help="stop cleanly when this file appears (default: RUN_DIR/STOP)"
    )
    p.add_argument("--no-progress-bar", action="store_true")


def _add_others(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="score a model on a labelled folder; write report + plots")
    p.add_argument("model", help="model file, or 'active' for the case store's active model")
    p.add_argument("data_dir", type=Path, nargs="+", metavar="DATA_DIR")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: ./evaluation)")
    p.add_argument(
        "--split",
        type=Path,
        dest="split_file",
        metavar="FILE",
        help="evaluate only one part of this recorded split",
    )
    p.add_argument(
        "--subset",
        choices=("train", "val", "test"),
        default=None,
        help="which part of --split (default: test)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    p.add_argument("--db", help="case store for 'active' (default: $POXSCREEN_DB, user data dir)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("split", help="make (and record) a grouped, stratified split of folders")
    p.add_argument("data_dir", type=Path, nargs="+", metavar="DATA_DIR")
    p.add_argument("--out", type=Path, required=True, help="split JSON file to write")
    p.add_argument("--val-fraction", type=_fraction, default=RECIPE.val_fraction)
    p.add_argument("--test-fraction", type=_fraction, default=RECIPE.split_test_fraction)
    p.add_argument(
        "--gate-fraction",
        type=_fraction,
        default=0.0,
        help="also hold out a promotion-gate slice (see train --gate-fraction)",
    )
    p.add_argument("--seed", type=int, default=RECIPE.seed)
    p.add_argument("--hash-threshold", type=int, default=None)
    p.set_defaults(handler=cmd_split)

    p = sub.add_parser(
        "rollback", help="activate an earlier model version (default: the active model's parent)"
    )
    p.add_argument("version", nargs="?", help="hash, hash prefix, name@hash or unique name")
    p.add_argument("--db")
    p.add_argument(
        "--reason", help="why a version its records advise against is used anyway (recorded)"
    )
    p.add_argument("--who", help="who rolls back (default: $POXSCREEN_USER or the login name)")
    p.set_defaults(handler=cmd_rollback)


def register(subparsers: Any) -> None:
    """Add the trainer's sub-commands to another program's argparse sub-parsers."""
    _add_train(subparsers)
    _add_others(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m trainer`` parser (train, evaluate, split, rollback)."""
    parser = argparse.ArgumentParser(
        prog="python -m trainer", description="PoxScreen trainer (runs as its own process)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    add_lang(sub)
    return parser


def train_options(args: argparse.Namespace) -> Any:
    """The parsed ``train`` arguments as the TrainOptions (with its FitConfig) a run takes."""
    from engine.recipe import DECISION
    from trainer.fit import FitConfig
    from trainer.splits import DEFAULT_THRESHOLD
    from trainer.train import TrainOptions

    fit = FitConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        monitor=args.monitor,
        balance=args.balance,
        seed=args.seed,
        num_workers=args.workers,
        schedule=args.schedule,
        label_smoothing=args.label_smoothing,
        ema_decay=args.ema,
        warmup_epochs=args.warmup,
        mix=args.mix,
    )
    rule = dataclasses.replace(
        DECISION, folds=args.folds, outcome=args.outcome, level=args.level,
        reference_drop=args.reference_drop, keep_mpox=not args.no_mpox_offset,
    )  # fmt: skip
    return TrainOptions(
        decision=args.decision,
        rule=rule,
        data_dirs=list(args.data),
        from_store=args.from_store,
        lab_only=args.lab_confirmed_only,
        db=args.db,
        register=not args.no_register,
        init=args.init,
        classes=args.classes,
        out=args.out,
        split_file=args.split_file,
        val_fraction=args.val_fraction,
        gate_fraction=args.gate_fraction,
        test_fraction=args.test_fraction,
        hash_threshold=args.hash_threshold
        if args.hash_threshold is not None
        else DEFAULT_THRESHOLD,
        freeze=args.freeze,
        bn=args.bn,
        augment=not args.no_augment,
        augmentation=args.augmentation,
        device=args.device,
        input_size=args.input_size,
        name=args.name,
        promote_metric=args.promote_metric,
        force_promote=args.force_promote,
        min_delta=args.min_delta,
        activate=not args.no_activate,
        stop_file=args.stop_file,
        fit=fit,
    )


def _input_errors() -> tuple[type[Exception], ...]:
    """What a training refuses because of its input (said in one line), as opposed to a fault."""
    from engine.checkpoint import ModelFileError
    from engine.store.errors import StoreError
    from trainer.data import DataError
    from trainer.guard import GuardError
    from trainer.splits import SplitError

    return (DataError, SplitError, GuardError, StoreError, ModelFileError)


def cmd_train(args: argparse.Namespace) -> int:
    """Run one fine-tuning; progress goes to stdout as ``@progress`` lines."""
    from trainer.class_plan import NotEnoughLabels
    from trainer.progress import Reporter, StopControl, StoppedEarly
    from trainer.train import run_training

    if not args.data and not args.from_store and args.out is None:  # before a folder is made
        print(f"poxscreen train: error: {NO_DATA}", file=sys.stderr)
        return 2
    opts = train_options(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    reporter = Reporter(bar=False if args.no_progress_bar else None)
    stop = StopControl(args.stop_file).install()
    try:
        if opts.out is None:
            from trainer.train import default_run_dir

            opts.out = default_run_dir()
        if stop.stop_file is None:
            stop.stop_file = Path(opts.out) / "STOP"
        reporter.log_to(Path(opts.out) / "progress.jsonl")
        report = run_training(opts, reporter, stop)
    except StoppedEarly as exc:
        reporter.close_bar()
        reporter.emit(
            "done",
            status="stopped",
            model=None,
            registered=False,
            activated=False,
            message=str(exc),
        )
        reporter.say(str(exc))
        return 0
    except KeyboardInterrupt:
        reporter.close_bar()
        reporter.emit("error", message="aborted by the user; nothing was registered")
        return 130
    except _input_errors() as exc:  # bad data, folder, split or store: a message, no traceback
        reporter.close_bar()
        reporter.emit("error", message=str(exc))
        print(f"poxscreen train: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, NotEnoughLabels) else 1
    except Exception as exc:  # report every failure as an event, then exit non-zero
        reporter.close_bar()
        reporter.emit("error", message=f"{type(exc).__name__}: {exc}")
        logging.getLogger(__name__).debug("training failed", exc_info=True)
        print(traceback.format_exc(), file=sys.stderr)
        return 1
    finally:
        stop.uninstall()
        reporter.close_log()
    _say_result(reporter, report)
    return 0


def _say_result(reporter: Any, report: dict[str, Any]) -> None:
    """The trained model, and whether it was registered and activated (and why)."""
    promo = report.get("promotion", {})
    reporter.say(f"{report['status']}: {report['model']}  ({report['version']})")
    if report.get("registered"):
        reg = report["registered"]
        reporter.say(
            ("activated" if reg["activated"] else "registered, not activated")
            + f": {reg.get('reason') or promo.get('reason')}"
        )


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a model on labelled folders and write the report and figures."""
    from trainer.evaluate import evaluate_folder

    out = args.out or Path("evaluation")
    model = Path(args.model)
    if args.model == "active" and not model.exists():
        from engine.session import ensure_active_model
        from trainer.sources import open_store

        with open_store(args.db) as store:
            info = ensure_active_model(store)
        model = Path(info.path or "")
    report = evaluate_folder(
        model,
        args.data_dir,
        out,
        split_file=args.split_file,
        subset=args.subset,
        device=args.device,
        batch_size=args.batch_size,
    )
    m = report["metrics"]
    print(
        f"{report['model']['version']} on {m['n']} images: accuracy {m.get('accuracy', 0):.4f}"
        f"  macro-F1 {m.get('macro_f1', 0):.4f}  MCC {m.get('mcc', 0):.4f}"
        f"  ECE {m.get('ece', 0):.4f}"
    )
    for name, c in m.get("per_class", {}).items():
        print(
            f"  {name:<12} precision {c['precision']:.3f}  recall {c['recall']:.3f}  "
            f"F1 {c['f1']:.3f}  (n={c['support']})"
        )
    print(f"report: {out / 'report.json'}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    """Make and record a grouped, stratified split so later runs reuse it."""
    from engine.checkpoint import ModelMeta
    from engine.images import load_image
    from trainer.data import cache_size_for, merge_samples, scan_image_folder
    from trainer.splits import DEFAULT_THRESHOLD, make_split, phash_pair

    found = [scan_image_folder(d)[0] for d in args.data_dir]
    samples, _ = merge_samples(*found)
    size = cache_size_for(ModelMeta())  # decode as training does, so hashes match exactly
    hashes = [phash_pair(load_image(s.path, target_size=size)) for s in samples]
    split = make_split(
        [s.sha256 for s in samples],
        [s.label for s in samples],
        hashes,
        val_fraction=args.val_fraction,
        gate_fraction=args.gate_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        threshold=args.hash_threshold if args.hash_threshold is not None else DEFAULT_THRESHOLD,
        paths=[str(s.path) for s in samples],
    )
    split.save(args.out)
    print(json.dumps(split.counts(), indent=1))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Activate an earlier model version (default: the active model's parent); one its records
    advise against needs --reason, recorded with who and when (as ``poxscreen models``)."""
    from engine.activation import activate_checked
    from engine.cli.common import who
    from trainer.sources import open_store

    with open_store(args.db) as store:
        info = activate_checked(
            store, args.version, who=who(args) or "unknown", reason=args.reason or "",
            rollback=True,
        )  # fmt: skip
    print(f"active model: {info.version}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit status."""
    args = build_parser().parse_args(argv)
    apply_lang(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if args.command == "train":
        return args.handler(args)
    try:
        return int(args.handler(args) or 0)
    except Exception as exc:  # typed errors (bad folder, model file, split) -> one clear line
        print(f"python -m trainer {args.command}: error: {exc}", file=sys.stderr)
        return 1
