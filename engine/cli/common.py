"""What every ``poxscreen`` command group shares: error messages, ``--db``, opening the store
and turning store errors into a message and exit code 2.

SQLAlchemy is imported inside the functions so ``poxscreen --help`` stays instant.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "UNVERIFIED",
    "WHO_ENV",
    "add_db",
    "add_lang",
    "add_who",
    "apply_lang",
    "err",
    "guarded",
    "open_store_cli",
    "store_errors",
    "who",
]

WHO_ENV = "POXSCREEN_USER"
DB_HELP = "case store: a path or SQLAlchemy URL (default: user data dir)"


def err(msg: str) -> None:
    """Print an error the way argparse does, so every command reads alike."""
    print(f"poxscreen: error: {msg}", file=sys.stderr)


UNVERIFIED = " (login, unverified)"
_told: list[str] = []  # the unverified login name is announced once per process


def who(args: argparse.Namespace) -> str:
    """Who a label or decision is recorded for: ``--who``, else $POXSCREEN_USER, else the login
    name marked unverified (said once on stderr: nobody confirmed it is the clinician)."""
    given = getattr(args, "who", None) or os.environ.get(WHO_ENV)
    if given and str(given).strip():
        return str(given).strip()
    try:
        login = getpass.getuser()
    except Exception:  # no login name (some containers): make the user say who they are
        return ""
    name = f"{login}{UNVERIFIED}"
    if not _told:
        _told.append(name)
        print(
            f"poxscreen: recording you as {name!r}; give --who NAME or set {WHO_ENV} "
            "to record your own name",
            file=sys.stderr,
        )
    return name


def store_errors() -> tuple[type[Exception], ...]:
    """StoreError when the case store is in use (``--no-store`` never imports SQLAlchemy)."""
    store = sys.modules.get("engine.store")
    return (store.StoreError,) if store is not None else ()


def open_store_cli(db: str | None, *, writes: bool, read_only: bool = False) -> Any:
    """Open ``--db`` for a command. Only commands that write may create a database (a mistyped
    --db must not become an empty store), and a new one is announced; ``read_only`` commands
    open an SQLite file without writing to it at all (a backup stays byte for byte)."""
    from engine.store import Store
    from engine.store.db import missing_sqlite_file

    new = missing_sqlite_file(db) if writes else None
    store = Store.open(db, create=writes, read_only=read_only)
    if new is not None:
        print(f"poxscreen: created a new, empty case store at {new}", file=sys.stderr)
    return store


def guarded(
    handler: Callable[[argparse.Namespace, Any], int],
    *,
    writes: bool = False,
    read_only: bool = False,
) -> Callable[[argparse.Namespace], int]:
    """Open the store from ``--db``, run the handler; store and file errors become a message
    naming the file and the cause, and exit code 2 (never a traceback)."""

    def run(args: argparse.Namespace) -> int:
        from engine.store import StoreError

        try:
            with open_store_cli(args.db, writes=writes, read_only=read_only) as store:
                store.db.actor = lambda: who(args)  # who the audit events name
                return handler(args, store)
        except (StoreError, OSError) as exc:
            err(str(exc))
            return 2

    return run


def add_who(p: argparse.ArgumentParser) -> None:
    """The ``--who`` option of commands the audit trail records."""
    p.add_argument("--who", help=f"who does it (default: ${WHO_ENV} or the login name)")


def add_db(p: argparse.ArgumentParser) -> None:
    """The ``--db`` option every store command takes."""
    p.add_argument("--db", help=DB_HELP)


def _language(text: str) -> str:
    from engine.i18n import SUPPORTED, normalise_language

    found = normalise_language(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a language PoxScreen speaks ({', '.join(SUPPORTED)})"
        )
    return found


def add_lang(subparsers: Any) -> None:
    """``--lang`` on every sub-command that parses its own options (pass-through commands such
    as ``train`` hand it on to the program they start)."""
    for p in subparsers.choices.values():
        if p.add_help and "--lang" not in p._option_string_actions:
            p.add_argument(
                "--lang",
                type=_language,
                help="language of the report, exports and messages: en, fr or pt "
                "(default: the system's)",
            )


def apply_lang(args: argparse.Namespace) -> None:
    """Use the ``--lang`` a command was given (none: the system's language stays)."""
    if getattr(args, "lang", None):
        from engine.i18n import set_language

        set_language(args.lang)
