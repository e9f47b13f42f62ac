"""Patients, visits and lab results: ``visits`` (list, ``import`` a manifest), ``lab`` (record a
PCR result, or many from a CSV) and ``evaluate --against lab`` (the model and the clinicians
against the lab results).

SQLAlchemy is imported inside the handlers (through the store) so ``poxscreen --help`` stays
instant.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import WHO_ENV, add_db, err, guarded, who
from engine.paths import display_path
from engine.visits import LAB_RESULTS, ManifestError, VisitIdError, parse_visit_ref, read_manifest

__all__ = ["against_lab", "register", "run_evaluate_lab"]


def _cell(value: object) -> str:
    return "-" if value in (None, "") else str(value)


def cmd_visits(args: argparse.Namespace, store: Any) -> int:
    """One row per visit: patient, visit, photos, referred photos, decision, lab result."""
    rows = store.visits.visit_rows(args.run)
    if not rows:
        where = f"run #{args.run}" if args.run is not None else "the case store"
        print(f"No photo in {where} belongs to a visit (see `screen --layout` or `visits import`).")
        return 0
    table = [("patient", "visit", "photos", "referred", "decision", "lab result")]
    for r in rows:
        lab = " ".join(x for x in (r.lab_result, r.lab_date, r.lab_test) if x) or None
        table.append(
            (
                r.patient,
                r.visit,
                str(r.photos),
                str(r.referred_photos),
                _cell(r.decision),
                _cell(lab),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_import(args: argparse.Namespace, store: Any) -> int:
    """Assign photos to visits from a ``file,patient,visit`` CSV; bad rows are listed."""
    try:
        manifest = read_manifest(args.manifest)
    except ManifestError as exc:
        err(str(exc))
        return 2
    outcome = store.visits.import_manifest(manifest)
    print(f"{outcome.assigned} photos assigned to visits from {display_path(args.manifest)}")
    for problem in outcome.problems:
        print(f"  left out: {problem}", file=sys.stderr)
    return 0


def cmd_lab(args: argparse.Namespace, store: Any) -> int:
    """Record one visit's lab result, or every row of ``--csv``."""
    if args.csv:
        return _lab_csv(args, store)
    if not args.visit or not args.result:
        err("give PATIENT/VISIT and positive|negative|pending, or --csv FILE")
        return 2
    try:
        patient, visit = parse_visit_ref(args.visit)
    except VisitIdError as exc:
        err(str(exc))
        return 2
    if args.result not in LAB_RESULTS:
        err(f"{args.result!r} is not a lab result; use {', '.join(LAB_RESULTS)}")
        return 2
    store.visits.set_lab(patient, visit, args.result, who=who(args), on=args.date, test=args.test)
    print(f"{patient}/{visit}: lab result {args.result}")
    return 0


def _lab_csv(args: argparse.Namespace, store: Any) -> int:
    """Rows ``patient,visit,result[,date,test]``; a bad row is listed, the rest recorded."""
    from engine.store import StoreError

    path = Path(args.csv)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        err(f"{display_path(path)}: cannot read the lab results ({exc})")
        return 2
    done = 0
    for number, row in enumerate(rows, start=2):
        cells = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            store.visits.set_lab(
                cells.get("patient", ""),
                cells.get("visit", ""),
                cells.get("result", "").lower(),
                who=who(args),
                on=cells.get("date") or None,
                test=cells.get("test") or None,
            )
            done += 1
        except StoreError as exc:
            print(f"  {display_path(path)} line {number}: {exc}", file=sys.stderr)
    print(f"{done} lab results recorded from {display_path(path)}")
    return 0


def cmd_evaluate_lab(args: argparse.Namespace, store: Any) -> int:
    """Sensitivity and specificity of the model's and the clinicians' visit calls."""
    from engine.lab_compare import compare_with_lab

    rows = store.visits.visit_rows(args.run)
    with_result = [r for r in rows if r.lab_result in ("positive", "negative")]
    if not with_result:
        print("No visit has a lab result yet (record them with `poxscreen lab`).")
        return 0
    positives = sum(r.lab_result == "positive" for r in with_result)
    print(
        f"{len(with_result)} visits with a lab result ({positives} positive, "
        f"{len(with_result) - positives} negative)"
    )
    for c in compare_with_lab(with_result, store.referral_rule().mpox_class):
        extra = f"  ({c.no_call} visits without a call)" if c.no_call else ""
        print(f"{c.who}:{extra}")
        print(f"  sensitivity {c.sensitivity.text()}")
        print(f"  specificity {c.specificity.text()}")
    return 0


def against_lab(extra: list[str]) -> bool:
    """Whether ``evaluate``'s arguments ask for the comparison with the lab results."""
    return any(a == "--against" or a.startswith("--against=") for a in extra)


def run_evaluate_lab(extra: list[str]) -> int:
    """``poxscreen evaluate --against lab [--run N] [--db DB]`` (the trainer's ``evaluate``
    scores a model on folders; this one needs only the case store)."""
    p = argparse.ArgumentParser(prog="poxscreen evaluate")
    p.add_argument("--against", choices=("lab",), required=True)
    p.add_argument("--run", type=int, help="only the photos of this screening run")
    add_db(p)
    return guarded(cmd_evaluate_lab, read_only=True)(p.parse_args(extra))


def register(subparsers: Any) -> None:
    """Add ``visits`` and ``lab``."""
    p = subparsers.add_parser("visits", help="one row per visit; `visits import` a manifest")
    p.add_argument("--run", type=int, help="only the photos of this screening run")
    add_db(p)
    p.set_defaults(func=guarded(cmd_visits, read_only=True))
    sub = p.add_subparsers(dest="visits_command")
    q = sub.add_parser("import", help="assign photos to visits from a file,patient,visit CSV")
    q.add_argument("manifest", help="CSV with the columns file,patient,visit")
    add_db(q)
    q.set_defaults(func=guarded(cmd_import, writes=True))

    p = subparsers.add_parser("lab", help="record a visit's lab (PCR) result")
    p.add_argument("visit", nargs="?", help="PATIENT/VISIT")
    p.add_argument("result", nargs="?", help="positive, negative or pending")
    p.add_argument("--date", help="date of the result, YYYY-MM-DD")
    p.add_argument("--test", help="name of the test (e.g. 'MPXV PCR')")
    p.add_argument("--csv", help="CSV with the columns patient,visit,result[,date,test]")
    p.add_argument("--who", help=f"who records it (default: ${WHO_ENV} or the login name)")
    add_db(p)
    p.set_defaults(func=guarded(cmd_lab, writes=True))
