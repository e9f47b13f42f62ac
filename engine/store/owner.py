"""Who is screening a run, and whether they are still alive.

A run records its owner (host name, process id, a random start token) and the owner refreshes
``heartbeat_at`` every HEARTBEAT_SECONDS from a background thread, batch or no batch: a lock wait
or a slow network share must not make a live screening look dead. Another process reopens a
``running`` run only when the owner is gone: on the same host its process no longer exists; on
another host (whose processes cannot be seen) it has been silent for OWNER_SILENT_SECONDS.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

import psutil

HEARTBEAT_SECONDS = 10.0
OWNER_SILENT_SECONDS = 120.0


def this_host() -> str:
    return socket.gethostname()[:255]


def new_owner() -> tuple[str, int, str]:
    """(host, pid, start token) for a run this process begins or takes over."""
    return this_host(), os.getpid(), uuid.uuid4().hex


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (True when it cannot be told:
    a live screening must never be taken over by mistake)."""
    if pid <= 0:
        return False
    try:
        return psutil.pid_exists(pid)
    except (OSError, psutil.Error):
        return True


def owner_gone(host: str | None, pid: int | None, last_sign: datetime, now: datetime) -> bool:
    """True when a ``running`` run may be reopened: its owner process is gone (same host) or
    it has given no sign of life (batch or heartbeat) for OWNER_SILENT_SECONDS."""
    if (now - last_sign).total_seconds() >= OWNER_SILENT_SECONDS:
        return True
    if host is not None and pid is not None and host == this_host():
        return not pid_alive(pid)
    return False


class Heartbeat:
    """Calls ``beat()`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, beat: Callable[[], object], interval: float | None = None) -> None:
        self._beat = beat
        self._interval = HEARTBEAT_SECONDS if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="run-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:  # a missed beat (database busy) is retried on the next tick
                continue

    def stop(self) -> None:
        self._stop.set()
