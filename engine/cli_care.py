"""Care of the case store and of patient data: ``check``, ``backup``, ``restore``, ``forget``.

Kept apart from engine.cli_store so each module stays small; ``register`` adds the commands.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli_store import _add_db, _guarded


def cmd_check(args: argparse.Namespace, store: Any) -> int:
    """Full integrity check on demand (slow on big stores, so never at start-up)."""
    problems = store.check(full=True)
    if not problems:
        print(f"{store.location}: ok")
        return 0
    print(f"{store.location}: the database is damaged:")
    for line in problems:
        print(f"  {line}")
    print("Restore a backup (`poxscreen restore BACKUP`) or ask for help.", file=sys.stderr)
    return 1


def cmd_forget(args: argparse.Namespace, store: Any) -> int:
    """Remove a photo's pixels from the data folder; the audit history keeps hash and events."""
    if not args.yes:
        print(
            "poxscreen: error: forgetting deletes the photo's copy, thumbnails and previews and "
            "cannot be undone; add --yes",
            file=sys.stderr,
        )
        return 2
    outcome = store.forget(args.image)
    print(
        f"forgot {outcome.sha256[:12]}: {len(outcome.removed)} files removed; kept {outcome.kept}"
    )
    for line in outcome.failed:
        print(f"not removed: {line}", file=sys.stderr)
    return 1 if outcome.failed else 0


def register(subparsers: Any) -> None:
    """Add the store-care sub-commands to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser("check", help="check the case store for damage (full check)")
    _add_db(p)
    p.set_defaults(func=_guarded(cmd_check))

    p = subparsers.add_parser("forget", help="remove a photo's copy, thumbnails and previews")
    p.add_argument("image", help="image file, or its sha256 (a unique prefix is enough)")
    p.add_argument("--yes", action="store_true", help="really forget (cannot be undone)")
    _add_db(p)
    p.set_defaults(func=_guarded(cmd_forget))
