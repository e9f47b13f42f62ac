"""``poxscreen screen``: screen a folder of photos into the case store and, optionally, a CSV.

torch and SQLAlchemy are imported inside the handler so ``poxscreen --help`` stays instant.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from engine.cli.common import DB_HELP, err, open_store_cli, store_errors
from engine.device import DEVICE_CHOICES
from engine.paths import display_path


def open_store_from_args(args: argparse.Namespace) -> Any:
    """The case store a screening writes into (created, and announced, when new)."""
    if getattr(args, "no_store", False):
        return None
    return open_store_cli(getattr(args, "db", None), writes=True)


def _screen_setup(args: argparse.Namespace) -> tuple[Any, Any]:
    """The store and predictor for ``screen``; errors become messages naming file and cause."""
    from engine.device import DeviceError
    from engine.modelmeta import ModelFileError
    from engine.session import open_model

    store = None
    try:
        store = open_store_from_args(args)
        active = open_model(store, args.model, args.device)
        predictor = active.predictor(batch_size=args.batch_size)
    except (ModelFileError, DeviceError, *store_errors()) as exc:
        if store is not None:
            store.close()
        raise _SetupFailed(str(exc)) from exc
    meta = active.meta
    print(f"Model: {meta.version}  Device: {predictor.choice}", file=sys.stderr)
    if predictor.note:
        print(f"Note: {predictor.note}", file=sys.stderr)
    print(f"Out-of-scope check: {predictor.guard_status}", file=sys.stderr)
    if not meta.trained:
        from engine.default_model import UNTRAINED_WARNING

        print(f"WARNING: {UNTRAINED_WARNING}", file=sys.stderr)
    return store, predictor


class _SetupFailed(Exception):
    """The model, device or store could not be opened (the message says which and why)."""


def cmd_screen(args: argparse.Namespace) -> int:
    """Screen ``args.folder``; Ctrl+C cancels after the current batch, twice aborts."""
    from tqdm import tqdm

    from engine.screening import Progress, ScreeningFailed, ScreeningJob

    folder = Path(args.folder)
    visits = _manifest_visits(args.manifest) if folder.is_dir() else None
    if not folder.is_dir():
        err(f"{display_path(folder)}: not a folder")
    if visits is None:
        return 2
    try:
        store, predictor = _screen_setup(args)
    except _SetupFailed as exc:
        err(str(exc))
        return 2
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
        readd_forgotten=args.readd_forgotten,
        layout=args.layout,
        visits=visits,
    )
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        summary = job.run()
    except KeyboardInterrupt:
        print("Aborted: no output file written.", file=sys.stderr)
        return 130
    except (ScreeningFailed, OSError, *store_errors()) as exc:
        return _screen_failed(exc, args.out)
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
        if store is not None:
            store.close()
    return _screen_done(summary, args.out)


def _manifest_visits(manifest: str | None) -> dict[Path, tuple[str, str]] | None:
    """The photos' visits from ``--manifest`` ({} without one; None: unreadable, said why);
    rows for missing files are listed and left out."""
    from engine.visits import ManifestError, read_manifest

    if not manifest:
        return {}
    try:
        read = read_manifest(manifest)
    except ManifestError as exc:
        err(str(exc))
        return None
    for problem in read.problems:
        print(f"Manifest {display_path(manifest)}, {problem}", file=sys.stderr)
    return read.visits


def _say_misfits(summary: Any) -> None:
    """Folders that do not fit ``--layout``, each with its files (screened, without a visit)."""
    for misfit in summary.misfits:
        names = ", ".join(p.name for p in misfit.files[:10])
        more = f" and {len(misfit.files) - 10} more" if len(misfit.files) > 10 else ""
        print(
            f"Not in the layout: {display_path(misfit.folder)} ({misfit.reason}): {names}{more}",
            file=sys.stderr,
        )


def _screen_done(summary: Any, out: str | None) -> int:
    _say_misfits(summary)
    if summary.with_visit:
        print(f"{summary.with_visit} photos given a patient and visit.", file=sys.stderr)
    state = "cancelled" if summary.cancelled else "done"
    print(
        f"Screening {state}: {summary.predicted} screened, {summary.skipped} already screened "
        f"(skipped), {len(summary.errors)} could not be read, of {summary.total} images.",
        file=sys.stderr,
    )
    if summary.forgotten:
        print(
            f"{summary.forgotten} of the skipped photos were forgotten in the case store and "
            "stay forgotten (listed in the results with the date); --readd-forgotten adds them "
            "again",
            file=sys.stderr,
        )
    if out:
        print(f"Results: {out}", file=sys.stderr)
    if summary.errors:
        print("Files that could not be screened:", file=sys.stderr)
        for path, reason in summary.errors:
            print(f"  {display_path(path)}: {reason}", file=sys.stderr)
    return 130 if summary.cancelled else 0


def _screen_failed(exc: Exception, out: str | None) -> int:
    """A screening stopped by a store or output error: say which file and why, and where the
    results screened so far are (the run is already closed as failed)."""
    summary = getattr(exc, "summary", None)
    if summary is None:  # failed before anything was screened (e.g. --out is a folder)
        err(display_path(str(exc)))
        return 2
    err(f"screening stopped: {display_path(str(exc))}")
    if out:
        if summary.csv_kept:
            print(
                f"Results of the {summary.predicted} images screened so far: {out}", file=sys.stderr
            )
        else:
            print(f"No results file written ({out}).", file=sys.stderr)
    return 1


def register(subparsers: Any) -> None:
    """Add ``screen`` to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser("screen", help="screen a folder of photos")
    p.add_argument("folder")
    p.add_argument("--recursive", "-r", action="store_true", help="include sub-folders")
    p.add_argument("--out", "-o", help="CSV file to write (default: none)")
    p.add_argument("--model", help="model file (.safetensors); default: active or shipped model")
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)}, cuda:N")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--no-store", action="store_true", help="do not record into the case store")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument(
        "--readd-forgotten",
        action="store_true",
        help="screen and store again photos that were forgotten (default: skip them)",
    )
    p.add_argument(
        "--layout",
        choices=("patient/visit",),
        help="read patient and visit from FOLDER/PATIENT/VISIT/photo (implies --recursive)",
    )
    p.add_argument("--manifest", help="CSV file,patient,visit giving each photo's visit")
    p.set_defaults(func=cmd_screen)
