"""``poxscreen report``: the printable case report of a screening run (PDF), as the GUI makes it.

reportlab, SQLAlchemy and torch are imported inside the handler so ``poxscreen --help`` stays
instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from engine.cli.common import DB_HELP, WHO_ENV, err, who
from engine.device import DEVICE_CHOICES

CLINIC_ENV = "POXSCREEN_CLINIC"


def cmd_report(args: argparse.Namespace) -> int:
    """Write the PDF of run ``args.run`` (or of the visit ``args.visit``); store and file
    errors become a message, exit 2."""
    from engine.report import ReportOptions, write_report
    from engine.store import Store, StoreError

    if args.visit:
        return _visit_report(args)
    if args.run is None:
        err("give --run N (a screening run) or --visit PATIENT/VISIT")
        return 2

    options = ReportOptions(
        clinic=args.clinic or os.environ.get(CLINIC_ENV) or None,
        gradcam=not args.no_gradcam,
        device=args.device,
        page_size=args.page_size,
    )
    try:
        with Store.open(args.db) as store:
            summary = write_report(store, args.out, args.run, options=options)
    except StoreError as exc:
        err(str(exc))
        return 2
    except OSError as exc:
        err(f"{args.out}: cannot write the report ({exc.strerror or exc})")
        return 2
    for problem in summary.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(
        f"{summary.images} images, {summary.pages} pages, {summary.size_bytes / 2**20:.1f} MB "
        f"in {summary.elapsed_s:.1f} s -> {summary.out}"
    )
    return 0


def _visit_report(args: argparse.Namespace) -> int:
    """The report of one visit: identifiers, clinician, lab result, signature line."""
    from engine.report.visit import write_visit_report
    from engine.store import Store, StoreError
    from engine.visits import VisitIdError, parse_visit_ref

    try:
        patient, visit = parse_visit_ref(args.visit)
        with Store.open(args.db) as store:
            summary = write_visit_report(
                store,
                args.out,
                patient,
                visit,
                clinician=who(args),
                clinic=args.clinic or os.environ.get(CLINIC_ENV) or None,
            )
    except (StoreError, VisitIdError) as exc:
        err(str(exc))
        return 2
    except OSError as exc:
        err(f"{args.out}: cannot write the report ({exc.strerror or exc})")
        return 2
    for problem in summary.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"{patient}/{visit}: {summary.images} photos, {summary.pages} pages -> {summary.out}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``report`` to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser("report", help="printable case report (PDF) of a run or a visit")
    p.add_argument("--run", type=int, help="screening run number (see `runs`)")
    p.add_argument("--visit", help="PATIENT/VISIT: the report of one visit")
    p.add_argument("--who", help=f"clinician on a visit report (default: ${WHO_ENV} or login)")
    p.add_argument("--out", "-o", required=True, help="PDF file to write")
    p.add_argument("--clinic", help=f"clinic name on every page (default: ${CLINIC_ENV})")
    p.add_argument("--no-gradcam", action="store_true", help="thumbnails only (faster)")
    p.add_argument("--device", default="auto", help=f"Grad-CAM on {', '.join(DEVICE_CHOICES)}")
    p.add_argument("--page-size", choices=("A4", "letter"), default="A4")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_report)
