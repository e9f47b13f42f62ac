"""Case-store sub-commands of ``poxscreen``: label, undo, redo, referral, history, runs, export.

``engine.cli`` calls :func:`register`; every command takes ``--db`` (a path or SQLAlchemy URL;
default ``$POXSCREEN_DB``, then the user data dir). SQLAlchemy is imported inside the handlers so
``poxscreen --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import WHO_ENV, add_db, add_who, err, guarded, who
from engine.paths import display_path


def _count(text: str) -> int:
    """A whole number of at least 0 (argparse says so for anything else)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; 0 lists every run")
    return value


def _label_classes(store: Any) -> list[str]:
    classes = store.label_classes()
    if classes is None:  # nothing registered yet: the shipped model's classes
        from engine.modelmeta import DEFAULT_CLASSES

        classes = list(DEFAULT_CLASSES)
    return classes


def cmd_label(args: argparse.Namespace, store: Any) -> int:
    """Set an image's label, recorded with who, when and a note (undoable)."""
    before = _current_or_none(store, args.image)
    outcome = store.label(
        args.image,
        args.label,
        who=who(args),
        note=args.note,
        source=args.source,
        classes=_label_classes(store),
    )
    print(
        f"{display_path(args.image)}: {before or '(no label)'} -> {outcome.current_label}"
        f"  [{outcome.sha256[:12]}]"
    )
    if outcome.warning:
        print(f"warning: {outcome.warning}", file=sys.stderr)
    return 0


def _current_or_none(store: Any, ref: str) -> str | None:
    from engine.store import NotFoundError

    try:
        return store.current_label(ref)
    except NotFoundError:
        return None


def cmd_undo(args: argparse.Namespace, store: Any) -> int:
    """Take back the image's latest label; the history keeps both events."""
    outcome = store.undo(args.image, who=who(args), note=args.note)
    print(f"{display_path(args.image)}: label now {outcome.current_label or '(no label)'}")
    return 0


def cmd_redo(args: argparse.Namespace, store: Any) -> int:
    """Restore the label the latest undo took back."""
    outcome = store.redo(args.image, who=who(args), note=args.note)
    print(f"{args.image}: label now {outcome.current_label}")
    return 0


def cmd_referral(args: argparse.Namespace, store: Any) -> int:
    """Show or set the referral rule the GUI, the CSV and the review filter all apply."""
    import dataclasses

    from engine.referral import ReferralRule

    rule = store.referral_rule()
    if args.action == "set":
        changes = {
            k: v
            for k, v in (("min_confidence", args.min_confidence), ("mpox_above", args.mpox_above))
            if v is not None
        }
        try:
            rule = store.set_referral_rule(dataclasses.replace(rule, **changes), who=who(args))
        except ValueError as exc:
            err(str(exc))
            return 2
    elif args.min_confidence is not None or args.mpox_above is not None:
        err("referral show takes no thresholds; use: poxscreen referral set ...")
        return 2
    assert isinstance(rule, ReferralRule)
    print(
        f"refer when the top-class probability is below {rule.min_confidence:g} "
        f"or P({rule.mpox_class}) is above {rule.mpox_above:g}"
    )
    return 0


def cmd_history(args: argparse.Namespace, store: Any) -> int:
    """Print an image's label events and the predictions made for it."""
    image = store.image(args.image)
    print(f"{image.sha256}  last seen at {display_path(image.path or '?')}")
    entries = store.history(args.image)
    if not entries:
        print("no labels yet")
    for e in entries:
        what = {
            "set": f"adjudicate {e.label}" if e.source == "adjudicate" else f"set {e.label}",
            "redo": f"redo {e.label} (undo #{e.undoes_id})",
        }.get(e.kind, f"undo #{e.undoes_id}")
        note = f"  note: {e.note}" if e.note else ""
        when = e.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"#{e.id:<5} {when}  {e.who:<16} {what:<22} -> {e.label_after or '-'}"
            f"  ({e.source}){note}"
        )
    for p in store.predictions(args.image):
        print(f"model {p.model_name}@{p.model_version[:12]}: {p.top_class} {p.confidence:.3f}")
    return 0


def cmd_runs(args: argparse.Namespace, store: Any) -> int:
    """List the screening runs, newest first, with their counts."""
    runs = store.runs(limit=args.limit or None)  # 0: every run
    if not runs:
        print("no screening runs yet")
    for r in runs:
        c = r.counts
        when = r.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
        print(
            f"#{r.id:<4} {when}  {r.status:<9} {c.screened:>6} screened {c.skipped:>6} skipped "
            f"{c.failed:>4} failed  {r.model_name}@{r.model_version[:12]}  {display_path(r.folder)}"
        )
    return 0


def cmd_export(args: argparse.Namespace, store: Any) -> int:
    """Write a run (or every image) as CSV, the cases CSV or labelled folders."""
    out = Path(args.out)
    if args.format == "cases":
        from engine.cases import export_cases_csv
        from engine.store import ReviewFilter

        target = out if out.suffix.lower() == ".csv" else out / f"cases-run-{args.run}.csv"
        n = export_cases_csv(store, target, args.run if args.run is not None else ReviewFilter())
        print(f"{n} rows -> {target}")
        return 0
    if args.format == "csv":
        target = (
            out
            if out.suffix.lower() == ".csv"
            else out / (f"run-{args.run}.csv" if args.run is not None else "all-images.csv")
        )
        n = store.export_csv(target, run_id=args.run)
        print(f"{n} rows -> {target}")
        return 0
    summary = store.export_imagefolder(out, run_id=args.run, include_refer=args.include_refer)
    per_class = ", ".join(f"{k}: {v}" for k, v in summary.per_class.items()) or "none"
    print(f"{summary.written} labelled images -> {out} ({per_class}), without metadata")
    if summary.manifest is not None:
        print(f"original and exported SHA-256 of each file: {summary.manifest}")
    if summary.forgotten:
        print(
            f"skipped {summary.forgotten} forgotten photos (their pixels were deleted on request)"
        )
    for line in summary.missing:
        print(f"not exported: {line}", file=sys.stderr)
    return 1 if summary.missing else 0


def register(subparsers: Any) -> None:
    """Add the case-store sub-commands to ``poxscreen``'s sub-parsers."""
    _register_labelling(subparsers)
    _register_viewing(subparsers)
    _register_export(subparsers)


def _register_labelling(subparsers: Any) -> None:
    """Add label, undo and redo: the commands that change an image's label."""
    p = subparsers.add_parser("label", help="label an image (file or sha256) in the case store")
    p.add_argument("image", help="image file, or its sha256 (a unique prefix is enough)")
    p.add_argument("label", help="a class name, or 'refer' for refer / uncertain")
    p.add_argument("--who", help=f"clinician name (default: ${WHO_ENV} or the login name)")
    p.add_argument("--note", help="optional free-text note")
    p.add_argument(
        "--source",
        default="clinician",
        help="clinician (default), import, ...; adjudicate: settle a disputed photo (an admin)",
    )
    add_db(p)
    p.set_defaults(func=guarded(cmd_label, writes=True))

    p = subparsers.add_parser("undo", help="take back an image's latest label")
    p.add_argument("image")
    p.add_argument("--who")
    p.add_argument("--note")
    add_db(p)
    p.set_defaults(func=guarded(cmd_undo))  # nothing to undo in a new store

    p = subparsers.add_parser("redo", help="restore the label the latest undo took back")
    p.add_argument("image")
    p.add_argument("--who")
    p.add_argument("--note")
    add_db(p)
    p.set_defaults(func=guarded(cmd_redo))


def _register_viewing(subparsers: Any) -> None:
    """Add referral, history and runs: the commands that show (or set) the store's state."""
    p = subparsers.add_parser(
        "referral", help="show or set the referral rule (kept in the case store)"
    )
    p.add_argument("action", choices=("show", "set"), nargs="?", default="show")
    p.add_argument("--min-confidence", type=float, help="refer below this top-class probability")
    p.add_argument("--mpox-above", type=float, help="refer above this Mpox probability")
    p.add_argument("--who")
    add_db(p)
    p.set_defaults(func=guarded(cmd_referral))

    p = subparsers.add_parser("history", help="an image's label history and predictions")
    p.add_argument("image")
    add_db(p)
    p.set_defaults(func=guarded(cmd_history, read_only=True))

    p = subparsers.add_parser("runs", help="list screening runs (newest first)")
    p.add_argument(
        "--limit", type=_count, default=20, help="newest N runs (default 20; 0 lists every run)"
    )
    add_db(p)
    p.set_defaults(func=guarded(cmd_runs, read_only=True))


def _register_export(subparsers: Any) -> None:
    """Add export: the command that copies data out."""
    p = subparsers.add_parser("export", help="export a run as CSV, or labelled images by class")
    p.add_argument("--run", type=int, help="screening run number (default: all images)")
    p.add_argument(
        "--format",
        choices=("csv", "cases", "imagefolder"),
        required=True,
        help="csv: predictions; cases: predictions + label, who, when, note, referral",
    )
    p.add_argument("--out", required=True, help="output folder (or .csv file for --format csv)")
    p.add_argument("--include-refer", action="store_true", help="also export 'refer' images")
    add_who(p)
    add_db(p)
    p.set_defaults(func=guarded(cmd_export))  # writes its `export` audit event
