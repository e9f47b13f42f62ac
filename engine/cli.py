"""``poxscreen`` command line: thin sub-commands over the engine (and the trainer, as a child).

Heavy imports (torch, SQLAlchemy) happen inside the handlers so ``poxscreen --help`` is instant.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from engine.device import DEVICE_CHOICES


def _err(msg: str) -> None:
    print(f"poxscreen: error: {msg}", file=sys.stderr)


def open_store_from_args(args: argparse.Namespace) -> Any:
    if getattr(args, "no_store", False):
        return None
    from engine.store import open_store

    return open_store(getattr(args, "db", None))


def cmd_screen(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engine.device import DeviceError
    from engine.modelmeta import ModelFileError
    from engine.screening import Progress, ScreeningJob
    from engine.session import open_model

    folder = Path(args.folder)
    if not folder.is_dir():
        _err(f"{folder}: not a folder")
        return 2
    store = open_store_from_args(args)
    try:
        active = open_model(store, args.model, args.device)
        predictor = active.predictor(batch_size=args.batch_size)
    except (ModelFileError, DeviceError) as exc:
        _err(str(exc))
        return 2
    meta = active.meta
    print(f"Model: {meta.version}  Device: {predictor.choice}", file=sys.stderr)
    if predictor.note:
        print(f"Note: {predictor.note}", file=sys.stderr)
    if not meta.trained:
        from engine.default_model import UNTRAINED_WARNING

        print(f"WARNING: {UNTRAINED_WARNING}", file=sys.stderr)
    cancel = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nCancelling after the current batch (Ctrl+C again to abort)...", file=sys.stderr)

    bar = tqdm(total=0, unit="img", file=sys.stderr, disable=args.quiet)

    def on_progress(p: Progress) -> None:
        bar.set_description("listing" if p.phase == "walking" else "screening", refresh=False)
        bar.total = p.total
        bar.n = p.done
        bar.set_postfix(errors=p.errors, skipped=p.skipped, refresh=False)
        bar.refresh()

    job = ScreeningJob(
        predictor,
        folder,
        recursive=args.recursive,
        csv_path=args.out,
        store=store,
        on_progress=on_progress,
        cancel=cancel,
    )
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        summary = job.run()
    except KeyboardInterrupt:
        print("Aborted: no output file written.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    state = "cancelled" if summary.cancelled else "done"
    print(
        f"Screening {state}: {summary.predicted} screened, {summary.skipped} already screened "
        f"(skipped), {len(summary.errors)} could not be read, of {summary.total} images.",
        file=sys.stderr,
    )
    if args.out:
        print(f"Results: {args.out}", file=sys.stderr)
    if summary.errors:
        print("Files that could not be screened:", file=sys.stderr)
        for path, reason in summary.errors:
            print(f"  {path}: {reason}", file=sys.stderr)
    return 130 if summary.cancelled else 0


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from engine.modelmeta import ModelFileError, read_meta

    try:
        meta = read_meta(args.model)
    except ModelFileError as exc:
        _err(str(exc))
        return 2
    import dataclasses

    print(json.dumps(dataclasses.asdict(meta), indent=2))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from engine.checkpoint import ModelFileError, import_state_dict, save_model

    try:
        model, meta = import_state_dict(args.pth, classes=args.classes, padding=args.padding)
    except ModelFileError as exc:
        _err(str(exc))
        return 2
    stored = save_model(args.out, model, meta)
    print(f"Imported {args.pth} -> {args.out} ({stored.version})")
    return 0


def cmd_gui(args: argparse.Namespace, extra: list[str]) -> int:
    """The desktop app, as its own process: the engine never imports the desktop (Qt)."""
    return subprocess.call([sys.executable, "-m", "desktop", *extra])


def cmd_trainer(args: argparse.Namespace, extra: list[str]) -> int:
    """Train/evaluate run in a child process: the engine never imports the trainer."""
    return subprocess.call([sys.executable, "-m", "trainer", args.command, *extra])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poxscreen",
        description=(
            "Offline screening aid for skin photos (Mpox, Chickenpox, Measles, Normal). "
            "Not a diagnosis."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("screen", help="screen a folder of photos")
    p.add_argument("folder")
    p.add_argument("--recursive", "-r", action="store_true", help="include sub-folders")
    p.add_argument("--out", "-o", help="CSV file to write (default: none)")
    p.add_argument("--model", help="model file (.safetensors); default: active or shipped model")
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)}, cuda:N")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--db", help="case store: a path or SQLAlchemy URL (default: user data dir)")
    p.add_argument("--no-store", action="store_true", help="do not record into the case store")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("info", help="show a model file's metadata")
    p.add_argument("model")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("import", help="import an authors' .pth state dict into a model file")
    p.add_argument("pth")
    p.add_argument("out")
    p.add_argument("--classes", nargs="+", default=None)
    p.add_argument("--padding", choices=("symmetric", "tf"), default="symmetric")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "gui", help="open the desktop app (--db, --settings, --screen FOLDER)", add_help=False
    )
    p.set_defaults(func=None, passthrough=True, gui=True)

    for name, text in (
        ("train", "fine-tune a model (runs the trainer)"),
        ("evaluate", "evaluate a model on a labelled folder (runs the trainer)"),
    ):
        p = sub.add_parser(name, help=text, add_help=False)
        p.set_defaults(func=None, passthrough=True)

    try:
        from engine.cli_store import register
    except ImportError:  # store commands not installed in this build
        pass
    else:
        register(sub)
    from engine.cli_report import register as register_report

    register_report(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "gui", False):
        return cmd_gui(args, extra)
    if getattr(args, "passthrough", False):
        return cmd_trainer(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
