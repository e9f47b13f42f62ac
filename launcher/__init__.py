"""The ``poxscreen`` / ``PoxScreen`` entry point: one executable for the GUI and every command.

Qt-free and torch-free until it knows what to run, so ``poxscreen screen --help`` starts in a
blink and the packaged app answers CLI sub-commands without loading Qt. It sits above the
layers (it may import ``desktop``, ``trainer`` and ``engine``); nothing imports it.

    (no arguments) | gui [ARGS]              -> desktop.app.main (the window)
    train ...                                -> the trainer in a child process
                                                 (engine.training.run_trainer_child: ``python -m
                                                 trainer train``, or the packaged app's own
                                                 ``train``), so a crash or an out-of-memory kill
                                                 in training never takes the launcher down; in
                                                 that child (POXSCREEN_TRAINER_CHILD=1) it runs
                                                 trainer.cli.main in-process
    evaluate | split | rollback ...          -> trainer.cli.main (in-process; ``evaluate
                                                 --against lab`` goes to engine.cli)
    --self-test [--keep]                     -> launcher.selftest.main (smoke test of a bundle)
    -m trainer|engine|desktop ARGS           -> as ``python -m ...`` (a frozen app's sys.executable
                                                 is PoxScreen itself, so such calls still work)
    anything else                            -> engine.cli.main (screen, info, models, ...;
                                                 one module per command group)

``POXSCREEN_NO_NETWORK=1`` installs an audit hook that refuses any Python socket use, so a test
can prove a command never touches the network; ``POXSCREEN_STARTUP_PROBE=1`` makes the GUI
report its start-up time and quit (launcher/startup_probe.py).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

_T0 = time.perf_counter()  # launcher start, for the GUI start-up probe

TRAINER_COMMANDS = frozenset({"train", "evaluate", "split", "rollback"})
GUI_COMMAND = "gui"
SELF_TEST_FLAG = "--self-test"
NO_NETWORK_ENV = "POXSCREEN_NO_NETWORK"
MODULES = {"trainer": "trainer", "engine": "engine", "desktop": "gui"}  # `-m NAME` targets
#: Set in the trainer child's environment (engine.training.TRAINER_CHILD_ENV, same name).
TRAINER_CHILD_ENV = "POXSCREEN_TRAINER_CHILD"


def route(argv: Sequence[str], in_trainer_child: bool = False) -> tuple[str, list[str]]:
    """Which part runs, and the arguments it gets: ``(target, args)``.

    Pure (imports nothing) so the dispatch is unit-tested without starting anything.
    ``in_trainer_child``: this process is the trainer child, so ``train`` runs here.
    """
    args = list(argv)
    if not args:
        return "gui", []
    first = args[0]
    if first == GUI_COMMAND:
        return "gui", args[1:]
    if first == SELF_TEST_FLAG:
        return "selftest", args[1:]
    if first == "train" and not in_trainer_child:
        return "train-child", args
    if first in TRAINER_COMMANDS and not _against_lab(first, args):
        return "trainer", args
    if first == "-m" and len(args) > 1 and args[1] in MODULES:
        return MODULES[args[1]], args[2:]
    return "engine", args


def _against_lab(first: str, args: list[str]) -> bool:
    """``evaluate --against lab`` compares visits with lab results: the engine's, not the
    trainer's (which scores a model on folders)."""
    return first == "evaluate" and any(a.split("=")[0] == "--against" for a in args)


def _freeze_support() -> None:
    """A frozen app that starts children through multiprocessing must let them bootstrap.

    Only the frozen executable needs it, so the source run skips importing multiprocessing.
    """
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()


def _attach_windows_console() -> None:
    """A windowed (no-console) Windows build has no stdout; CLI commands reattach the caller's.

    Not verifiable on Linux: untested here (see README, "Build the desktop executable").
    """
    if sys.platform != "win32" or sys.stdout is not None:
        return
    import ctypes

    if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
        sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115


def run(target: str, args: list[str]) -> int:
    """Import the chosen part only now (heavy imports after dispatch) and run it."""
    if target == "gui":
        if os.environ.get("POXSCREEN_STARTUP_PROBE"):
            from launcher.startup_probe import install

            install(_T0)
        from desktop.app import main as gui_main

        return int(gui_main(args) or 0)
    _attach_windows_console()
    if target == "selftest":
        from launcher.selftest import main as selftest_main

        return selftest_main(args)
    if target == "train-child":
        from engine.training import run_trainer_child

        return run_trainer_child(args)
    if target == "trainer":
        # as in ``python -m trainer``: passive OpenMP waiting, set before torch loads libgomp
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from trainer.cli import main as trainer_main

        return int(trainer_main(args) or 0)
    from engine.cli import main as engine_main

    return int(engine_main(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script and bundle entry point; returns the exit status."""
    _freeze_support()
    args = sys.argv[1:] if argv is None else list(argv)
    guard = None
    if os.environ.get(NO_NETWORK_ENV, "") not in ("", "0"):
        from launcher.netguard import NetworkGuard

        guard = NetworkGuard.install()
    target, rest = route(args, os.environ.get(TRAINER_CHILD_ENV) == "1")
    try:
        status = run(target, rest)
    finally:
        if guard is not None and guard.violations:
            print(guard.describe(), file=sys.stderr)
    if guard is not None and guard.violations:
        return 3
    return status
