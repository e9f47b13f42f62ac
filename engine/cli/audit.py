"""``poxscreen audit``: the audit trail (who did what, when, where), and with ``--agreement``
how often the clinicians' labels agree.

``register`` adds the command; SQLAlchemy is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli.common import add_db, guarded

KIND_HELP = "only events of this kind (label, forget, export, promote, ...); may be repeated"


def _short(obj: str | None) -> str:
    """``photo:<sha256>`` as ``photo:<first 12>`` for the table (the CSV keeps it whole)."""
    if not obj:
        return "-"
    kind, _, ident = obj.partition(":")
    return f"{kind}:{ident[:12]}" if ident else obj


def cmd_audit(args: argparse.Namespace, store: Any) -> int:
    """List the events (oldest first), or print the readers' agreement."""
    from engine.store.audit import parse_since, write_csv

    if args.agreement:
        return print_agreement(store)
    since = parse_since(args.since) if args.since else None
    events = store.events(since=since, who=args.who, kinds=args.kind)
    if args.format == "csv":
        write_csv(events, sys.stdout)
        return 0
    for e in events:
        when = e.created_at.strftime("%Y-%m-%d %H:%M:%S")
        details = json.dumps(e.details, sort_keys=True, default=str) if e.details else ""
        who = f"{e.who} [{e.db_user}]" if e.db_user else e.who  # [the server's user]
        print(f"{when}Z  {who:<20} {e.host:<14} {e.kind:<10} {_short(e.object):<19} {details}")
    if not events:
        print("no events", file=sys.stderr)
    return 0


def print_agreement(store: Any) -> int:
    """Cohen's kappa between readers of the same photos, and the pairs per class pair."""
    a = store.audit.agreement()
    if not a.pairs:
        print("no photo has labels from two clinicians yet: nothing to compare")
        return 0
    kappa = f"{a.kappa:.3f}" if a.kappa is not None else "undefined (one class only)"
    print(f"{a.photos} photos read by two or more clinicians, {a.pairs} pairs of readings")
    print(f"agreed: {a.agreed} of {a.pairs} pairs; Cohen's kappa: {kappa}")
    for (first, second), n in a.counts.items():
        mark = "agree" if first == second else "disagree"
        print(f"  {first:<14} {second:<14} {n:>6}  {mark}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``audit`` to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser(
        "audit", help="the audit trail: who labelled, forgot, exported, promoted... and when"
    )
    p.add_argument("--since", help="only events from this date on (YYYY-MM-DD, UTC)")
    p.add_argument("--who", help="only events by this clinician (the name as recorded)")
    p.add_argument("--kind", action="append", help=KIND_HELP)
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.add_argument(
        "--agreement",
        action="store_true",
        help="Cohen's kappa between clinicians who labelled the same photos, and pair counts",
    )
    add_db(p)
    p.set_defaults(func=guarded(cmd_audit, read_only=True))
