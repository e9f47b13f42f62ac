"""Who has an SQLite case store open, and the lock a restore takes.

Every process that opens a store file leaves a small marker in ``<db>.openers/`` (host, process
id and start time, what it is: the desktop app, a screening, a training...) and refreshes its
modification time every HEARTBEAT_SECONDS; it removes the marker when it closes. The markers are
plain files beside the database, so they work on a shared folder too. ``restore`` creates
``<db>.restoring`` exclusively before it looks at the markers, and every opener looks for that
file after writing its marker: whichever comes second sees the other, so a store is never opened
mid-restore and never restored under a live process.

A marker does not block when its process is gone: on this host the process id no longer runs (or
runs a newer process); from another host, whose processes cannot be seen, it has not been
refreshed for OWNER_SILENT_SECONDS.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from engine.store.errors import StoreError
from engine.store.owner import HEARTBEAT_SECONDS, OWNER_SILENT_SECONDS, Heartbeat, this_host

#: What ``poxscreen <command>`` is, in the words a refusal uses.
COMMAND_KINDS = {
    "screen": "a screening (poxscreen screen)",
    "train": "a training (poxscreen train)",
    "label": "a labelling command (poxscreen label)",
    "gui": "the PoxScreen desktop app",
}
DESKTOP_KIND = "the PoxScreen desktop app"


class StoreInUseError(StoreError):
    """The store is open elsewhere (or being restored): the message names who and where."""


@dataclass(frozen=True)
class Opener:
    """One process that has the store open."""

    host: str
    pid: int
    kind: str
    started: float
    marker: Path

    def describe(self) -> str:
        return f"{self.kind} (process {self.pid} on {self.host})"


def openers_dir(db_file: Path) -> Path:
    return db_file.with_name(f"{db_file.name}.openers")


def restore_lock(db_file: Path) -> Path:
    return db_file.with_name(f"{db_file.name}.restoring")


def process_kind() -> str:
    """What this process is, from its command line (``poxscreen screen ...`` is a screening)."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if args and args[0] in COMMAND_KINDS:
        return COMMAND_KINDS[args[0]]
    if args:
        return f"poxscreen {args[0]}"
    return Path(sys.argv[0] or "python").name


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _alive(opener: Opener, now: float) -> bool:
    """Whether the marker's process may still have the store open."""
    if opener.host == this_host():
        started = _start_time(opener.pid)
        if started is None:
            return False
        return abs(started - opener.started) < 2.0  # a reused pid is another process
    try:
        refreshed = opener.marker.stat().st_mtime
    except OSError:
        return False
    return now - refreshed < OWNER_SILENT_SECONDS


def _read(marker: Path) -> Opener | None:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        return Opener(
            str(data["host"]), int(data["pid"]), str(data["kind"]), float(data["started"]), marker
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_openers(db_file: Path, *, exclude: Path | None = None) -> list[Opener]:
    """The processes that have ``db_file`` open now; markers of dead ones are removed."""
    folder = openers_dir(db_file)
    if not folder.is_dir():
        return []
    now = time.time()
    found = []
    for marker in sorted(folder.glob("*.json")):
        if marker == exclude:
            continue
        opener = _read(marker)
        if opener is None:
            continue
        if _alive(opener, now):
            found.append(opener)
        elif opener.host == this_host():
            marker.unlink(missing_ok=True)  # a crashed process of this host
    return found


def _refuse_if_restoring(db_file: Path) -> None:
    lock = restore_lock(db_file)
    holder = _read(lock) if lock.exists() else None
    if holder is None and lock.exists():
        raise StoreInUseError(f"{db_file}: a restore is in progress; try again when it is done")
    if holder is not None and _alive(holder, time.time()):
        raise StoreInUseError(
            f"{db_file}: {holder.describe()} is restoring a backup into this case store; "
            "try again when it is done"
        )
    if holder is not None:  # a restore that crashed: its lock no longer holds
        lock.unlink(missing_ok=True)


def _marker_text(kind: str) -> str:
    pid = os.getpid()
    return json.dumps(
        {
            "host": this_host(),
            "pid": pid,
            "kind": kind,
            "started": _start_time(pid) or time.time(),
        }
    )


class Registration:
    """This process's marker for one open store; :meth:`close` removes it."""

    def __init__(self, db_file: Path, kind: str) -> None:
        self.db_file = db_file
        self.marker: Path | None = None
        self._heartbeat: Heartbeat | None = None
        folder = openers_dir(db_file)
        try:
            folder.mkdir(exist_ok=True)
            marker = folder / f"{this_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
            marker.write_text(_marker_text(kind), encoding="utf-8")
        except OSError:  # a read-only folder: nobody can restore over this file either
            return
        self.marker = marker
        try:
            _refuse_if_restoring(db_file)
        except StoreInUseError:
            self.close()
            raise
        self._heartbeat = Heartbeat(self._touch, HEARTBEAT_SECONDS).start()

    def _touch(self) -> None:
        if self.marker is not None:
            os.utime(self.marker)

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self.marker is not None:
            self.marker.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # removed only when no one else has it open
                self.marker.parent.rmdir()
            self.marker = None


@contextmanager
def exclusive(db_file: Path) -> Iterator[None]:
    """Hold the restore lock on ``db_file`` while no other process has it open; raises
    StoreInUseError naming the processes that do (what they are and on which host)."""
    lock = restore_lock(db_file)
    _refuse_if_restoring(db_file)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError as exc:
        raise StoreInUseError(f"{db_file}: another restore is in progress") from exc
    except OSError as exc:
        raise StoreError(f"{lock}: cannot take the restore lock ({exc.strerror or exc})") from exc
    beat = Heartbeat(lambda: os.utime(lock), HEARTBEAT_SECONDS)  # seen alive from other hosts
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_marker_text("a restore (poxscreen restore)"))
        beat.start()
        others = live_openers(db_file)
        if others:
            names = "; ".join(o.describe() for o in others)
            raise StoreInUseError(
                f"{db_file}: the case store is open in {names}. Close it there (or wait for it "
                "to finish), then restore again"
            )
        yield
    finally:
        beat.stop()
        lock.unlink(missing_ok=True)


def register_opener(db: str | os.PathLike[str] | None, kind: str | None) -> Registration | None:
    """Record this process as an opener of the SQLite file ``db`` names (None for a server
    database or a file that does not exist yet, which nobody can be restoring into)."""
    from engine.store.db import resolve_db_url, sqlite_file

    try:
        path = sqlite_file(resolve_db_url(db))
    except StoreError:
        return None  # open_engine says what is wrong with it
    if path is None or not path.parent.is_dir():
        return None
    return Registration(path, kind or process_kind())
