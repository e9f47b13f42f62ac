"""Care of the case store and of patient data: ``check``, ``backup``, ``restore``, ``forget``.

``register`` adds the commands; SQLAlchemy is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli.common import add_db, add_who, err, guarded, who


def cmd_check(args: argparse.Namespace, store: Any) -> int:
    """Full integrity check on demand (slow on big stores, so never at start-up)."""
    problems = store.check(full=True)
    if not problems:
        return _check_model_files(store)
    print(f"{store.location}: problems found:")
    for line in problems:
        print(f"  {line}")
    print("Restore a backup (`poxscreen restore BACKUP`) or ask for help.", file=sys.stderr)
    return 1


def _check_model_files(store: Any) -> int:
    """Every registered model file must still hold the weights it was registered with."""
    problems = store.check_model_files()
    if not problems:
        print(f"{store.location}: ok")
        return 0
    print(f"{store.location}: registered model files do not hold their models:")
    for line in problems:
        print(f"  {line}")
    print(
        "Add the model again from a good copy (`poxscreen models add FILE`), or activate "
        "another model (`poxscreen models activate`).",
        file=sys.stderr,
    )
    return 1


def cmd_forget(args: argparse.Namespace, store: Any) -> int:
    """Remove a photo's pixels from the data folder; the audit history keeps hash and events."""
    if not args.yes:
        err(
            "forgetting deletes the photo's copy, thumbnails and previews and "
            "cannot be undone; add --yes"
        )
        return 2
    from engine.thumbnails import clean_on_forget

    outcome = clean_on_forget(store).forget(args.image)  # thumbnails and previews go too
    print(
        f"forgot {outcome.sha256[:12]}: {len(outcome.removed)} files removed; kept {outcome.kept}"
    )
    for line in outcome.failed:
        print(f"not removed: {line}", file=sys.stderr)
    return 1 if outcome.failed else 0


def cmd_backup(args: argparse.Namespace, store: Any) -> int:
    """Copy the database and the image copies into a new folder under ``args.dest``."""
    info = store.backup(args.dest)
    print(f"backup written: {info.folder} (database and {info.images} image copies)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a verified backup in place of the store (the current database is moved aside, not
    deleted); refused, naming who, while any other process has the store open."""
    from pathlib import Path

    from engine.store import StoreError
    from engine.store.care import restore
    from engine.store.database import default_image_root
    from engine.store.db import resolve_db_url, sqlite_file

    source = Path(args.backup).expanduser().resolve()
    try:
        path = sqlite_file(resolve_db_url(args.db))
        if path is None:
            raise StoreError("restore works on SQLite stores; use the server's tools for others")
        outcome = restore(
            source, path, default_image_root(None, path), unverified=args.unverified, who=who(args)
        )
    except (StoreError, OSError) as exc:
        err(str(exc))
        return 2
    if outcome.moved is not None:
        print(f"the database it replaced was kept as {outcome.moved}")
    print(f"restored {source} -> {path}")
    if outcome.reforgotten:
        print(
            f"{outcome.reforgotten} photos forgotten since this backup was made were forgotten "
            "again"
        )
    return 0


def register(subparsers: Any) -> None:
    """Add the store-care sub-commands to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser("check", help="check the case store for damage (full check)")
    add_db(p)
    p.set_defaults(func=guarded(cmd_check))

    p = subparsers.add_parser("forget", help="remove a photo's copy, thumbnails and previews")
    p.add_argument("image", help="image file, or its sha256 (a unique prefix is enough)")
    p.add_argument("--yes", action="store_true", help="really forget (cannot be undone)")
    add_who(p)
    add_db(p)
    p.set_defaults(func=guarded(cmd_forget))

    p = subparsers.add_parser("backup", help="back up the case store and its image copies")
    p.add_argument("dest", help="folder in which a new backup folder is made")
    add_who(p)
    add_db(p)
    p.set_defaults(func=guarded(cmd_backup))

    p = subparsers.add_parser("restore", help="restore a backup made by 'poxscreen backup'")
    p.add_argument("backup", help="the backup folder (poxscreen-backup-...)")
    p.add_argument(
        "--unverified",
        action="store_true",
        help="accept a backup of an older PoxScreen, whose manifest has no file hashes",
    )
    add_who(p)
    add_db(p)
    p.set_defaults(func=cmd_restore)
