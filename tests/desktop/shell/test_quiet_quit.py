"""The real app, started and quit in a child process, prints no Qt warning about objects,
threads or timers (a "QObject: shared QObject was deleted directly" may crash a clinic PC)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.desktop.conftest import make_photos

ROOT = Path(__file__).resolve().parents[3]
BAD = ("QObject", "QThread", "QBasicTimer", "QTimer", "QSocketNotifier", "Traceback")


@pytest.mark.parametrize("quit_ms", [300, 6000], ids=["at-once", "after-screening"])
def test_start_screen_and_quit_print_no_qt_warning(tmp_path: Path, quit_ms: int) -> None:
    photos = make_photos(tmp_path / "photos", n=4, bad=True)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        POXSCREEN_DATA_DIR=str(tmp_path / "data"),
        POXSCREEN_USER="dr-test",
        POXSCREEN_QUIT_AFTER_MS=str(quit_ms),
        OMP_WAIT_POLICY="PASSIVE",
    )
    env.pop("POXSCREEN_SETTINGS", None)
    args = ["--db", str(tmp_path / "case.db"), "--settings", str(tmp_path / "settings.ini")]
    proc = subprocess.run(
        [sys.executable, "-m", "desktop", *args, "--screen", str(photos)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    warnings = [line for line in output.splitlines() if any(b in line for b in BAD)]
    assert warnings == [], output
