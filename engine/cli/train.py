"""Commands that run another part as its own process: ``gui`` (the desktop app) and ``train``,
``evaluate`` (the trainer). The engine never imports the desktop (Qt) nor the trainer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any


def cmd_gui(args: argparse.Namespace, extra: list[str]) -> int:
    """The desktop app, as its own process: the engine never imports the desktop (Qt)."""
    return subprocess.call([sys.executable, "-m", "desktop", *extra])


def cmd_trainer(args: argparse.Namespace, extra: list[str]) -> int:
    """Train/evaluate run in a child process: the engine never imports the trainer."""
    return subprocess.call([sys.executable, "-m", "trainer", args.command, *extra])


def register(subparsers: Any) -> None:
    """Add ``gui``, ``train`` and ``evaluate``; their arguments pass through untouched."""
    p = subparsers.add_parser(
        "gui", help="open the desktop app (--db, --settings, --screen FOLDER)", add_help=False
    )
    p.set_defaults(func=None, passthrough=True, gui=True)

    for name, text in (
        ("train", "fine-tune a model (runs the trainer)"),
        ("evaluate", "evaluate a model on a labelled folder (runs the trainer)"),
    ):
        p = subparsers.add_parser(name, help=text, add_help=False)
        p.set_defaults(func=None, passthrough=True)


def run(args: argparse.Namespace, extra: list[str]) -> int | None:
    """Run a pass-through command (None: ``args`` is not one)."""
    if getattr(args, "gui", False):
        return cmd_gui(args, extra)
    if getattr(args, "passthrough", False):
        from engine.cli.visits import against_lab, run_evaluate_lab

        if args.command == "evaluate" and against_lab(extra):  # needs the store, not the trainer
            return run_evaluate_lab(extra)
        return cmd_trainer(args, extra)
    return None
