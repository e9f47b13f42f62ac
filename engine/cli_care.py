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


def register(subparsers: Any) -> None:
    """Add the store-care sub-commands to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser("check", help="check the case store for damage (full check)")
    _add_db(p)
    p.set_defaults(func=_guarded(cmd_check))
