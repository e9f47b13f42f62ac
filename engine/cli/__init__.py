"""``poxscreen`` command line: thin sub-commands over the engine (and the trainer, as a child).

One module per command group: ``screen``; ``store`` (label, undo, redo, referral, history, runs,
export); ``care`` (check, forget, backup, restore); ``report``; ``audit``; ``admin`` (roles); ``models`` (info, import,
models); ``train`` (gui, train, evaluate: run as their own processes). ``common`` holds what they
share. Heavy imports (torch, SQLAlchemy) happen inside the handlers so ``poxscreen --help`` is
instant.
"""

from __future__ import annotations

import argparse
import sys

from engine.cli import admin, audit, care, models, report, screen, store, train, visits
from engine.cli.common import add_lang, apply_lang

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``poxscreen`` parser, commands in the order ``--help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="poxscreen",
        description=(
            "Offline screening aid for skin photos (Mpox, Chickenpox, Measles, Normal). "
            "Not a diagnosis."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    screen.register(sub)
    models.register_files(sub)
    train.register(sub)
    store.register(sub)
    models.register_versions(sub)
    care.register(sub)
    report.register(sub)
    visits.register(sub)
    audit.register(sub)
    admin.register(sub)
    add_lang(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    apply_lang(args)
    status = train.run(args, extra)
    if status is not None:
        return status
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.func(args) or 0)
