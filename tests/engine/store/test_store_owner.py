"""Whether a run's owner process is alive, asked of psutil (one answer on every platform)."""

from __future__ import annotations

import os
import subprocess
import sys

from engine.store.owner import pid_alive


def test_pid_alive_sees_this_process_and_not_a_finished_one() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)


def test_no_pid_is_never_alive() -> None:
    assert not pid_alive(0) and not pid_alive(-1)
