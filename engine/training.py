"""The desktop's handle on a fine-tuning run: the trainer in its own (detached) process.

The engine never imports the trainer: it starts ``python -m trainer train ...`` (or, in the
packaged app, the executable's own ``train`` command) in a new session, so a run outlives the GUI
that started it. The trainer appends its progress events, one JSON object per line, to
``<run_dir>/progress.jsonl`` (as well as ``@progress`` lines on stdout, which go to
``<run_dir>/stdout.log`` here); this handle reads that file, so a GUI restarted mid-run can
:meth:`TrainingProcess.attach` to the run folder and carry on. Stop: a ``STOP`` file (the trainer
finishes the step and keeps the best model), then SIGTERM (the same, by signal), then a kill
(nothing is registered). Event fields are documented in trainer/progress.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PROGRESS_FILE = "progress.jsonl"
PROCESS_FILE = "process.json"
STOP_FILE = "STOP"
TERMINAL_EVENTS = ("done", "error")
#: Set in the trainer child's environment: the packaged app's own ``train`` command then trains
#: in that process instead of starting yet another child (see launcher.route).
TRAINER_CHILD_ENV = "POXSCREEN_TRAINER_CHILD"


@dataclass(frozen=True)
class TrainingResult:
    """How a run ended. ``status``: finished | early_stopped | stopped | failed | killed."""

    status: str
    returncode: int | None
    model_version: str | None
    model_path: str | None
    report_path: str | None
    registered: bool
    activated: bool
    message: str | None
    promotion: dict[str, Any] | None


@dataclass(frozen=True)
class TrainingRunSummary:
    """One training run folder, for the GUI's list of past runs."""

    run_dir: Path
    started_at: str | None
    running: bool
    status: str  # "running" or TrainingResult.status
    model_version: str | None
    pid: int | None


def trainer_command() -> list[str]:
    """How to start the trainer: ``python -m trainer``, or the frozen app's own executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "trainer"]


def default_runs_root() -> Path:
    """Where the desktop's training runs are kept (under the user data dir)."""
    from engine.paths import user_data_dir

    return user_data_dir() / "training"


def new_run_dir(root: Path, clock: Callable[[], datetime] | None = None) -> Path:
    """A new, empty run folder under ``root``, named by the UTC second and taken atomically
    (``mkdir`` without ``exist_ok``): two trainings started in the same second get two folders
    (``STAMP``, ``STAMP-1``...), never one, so neither overwrites the other's model file."""
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        candidate = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"{root}: cannot create a new run folder")


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is still our trainer: a process that ended, a zombie, or a reused pid now
    running something else (its command line names no trainer) counts as gone."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except psutil.ZombieProcess:
        return False
    except psutil.NoSuchProcess:
        return False
    except (psutil.AccessDenied, OSError):  # someone else's process: cannot tell, assume alive
        return True
    if not cmdline:  # command line not readable (some platforms): the pid alone decides
        return True
    return any("train" in part for part in cmdline)


#: The training child's environment defaults (the user's own settings win). OpenMP threads sleep
#: when idle, so the GUI stays responsive; glibc keeps freed activations in the heap instead of
#: unmapping them after every step: 30% of a CPU training's time was page faults without it
#: (measured 88 -> 65 ms per image, one thread). Other C libraries ignore the MALLOC_ names.
CHILD_ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(2**40),
    "MALLOC_TOP_PAD_": str(2**30),
}


def run_trainer_child(args: list[str]) -> int:
    """``poxscreen train ARGS`` from a terminal: the trainer in a child process (as the desktop
    starts it, but attached: its output goes to the terminal), so a crash or an out-of-memory
    kill in training never takes the caller down. Ctrl-C reaches the child too, which finishes
    its step and keeps its best model; this waits for that. Returns the child's exit status."""
    env = {**CHILD_ENV, **os.environ, TRAINER_CHILD_ENV: "1"}
    proc = subprocess.Popen([*trainer_command(), *args], env=env)
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:
            continue  # the child got the same Ctrl-C and stops cleanly
    if code < 0:  # ended by a signal (POSIX): say so, as a shell would not
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        print(f"poxscreen: the training process was ended by {name}{hint}", file=sys.stderr)
        return 1
    return code


class TrainingProcess:
    """A training run in a child process (started here, or attached to after a restart)."""

    def __init__(
        self, run_dir: Path, pid: int | None, popen: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.pid = pid
        self._popen = popen
        self._offset = 0
        self._partial = b""
        self._events: list[dict[str, Any]] = []

    # --- starting and attaching --------------------------------------------------------------

    @classmethod
    def start(
        cls,
        args: list[str],
        *,
        db: str | os.PathLike[str] | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        activate: bool = False,
        command: list[str] | None = None,
        who: str | None = None,
    ) -> TrainingProcess:
        """Start ``trainer train ARGS`` detached, in ``run_dir`` (default: a new folder under
        <user data dir>/training). Without ``activate`` the new model is registered but not
        activated (the GUI's Promote decides, through Store.promote); ``who`` is the clinician
        its audit events name (as $POXSCREEN_USER)."""
        folder = Path(run_dir) if run_dir is not None else new_run_dir(default_runs_root())
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [*(command or trainer_command()), "train", *args, "--out", str(folder)]
        cmd.append("--no-progress-bar")
        if db is not None and "--db" not in args:
            cmd += ["--db", os.fspath(db)]
        if not activate:
            cmd.append("--no-activate")
        kwargs: dict[str, Any] = {}
        if os.name == "nt":
            flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            kwargs["creationflags"] = flags | getattr(subprocess, "DETACHED_PROCESS", 0)
        else:
            kwargs["start_new_session"] = True  # no SIGINT/SIGHUP from the GUI's terminal
        env = {**CHILD_ENV, **os.environ, TRAINER_CHILD_ENV: "1"}  # the app trains in the child
        if who:
            env["POXSCREEN_USER"] = who
        with open(folder / "stdout.log", "ab") as out, open(folder / "stderr.log", "ab") as err:
            popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, **kwargs
            )
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record = {"pid": popen.pid, "command": cmd, "started_at": started, "activate": activate}
        (folder / PROCESS_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        return cls(folder, popen.pid, popen)

    @classmethod
    def attach(cls, run_dir: str | os.PathLike[str]) -> TrainingProcess:
        """A handle on an existing run folder (running or finished), e.g. after a restart."""
        folder = Path(run_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such training run folder")
        pid = None
        with contextlib.suppress(OSError, ValueError, TypeError):
            pid = int(json.loads((folder / PROCESS_FILE).read_text(encoding="utf-8"))["pid"])
        proc = cls(folder, pid)
        proc.poll()
        if pid is None:
            run = next((e for e in proc._events if e.get("event") == "run"), None)
            proc.pid = int(run["pid"]) if run and run.get("pid") else None
        return proc

    # --- events -------------------------------------------------------------------------------

    def poll(self) -> list[dict[str, Any]]:
        """New progress events since the last call (complete lines only), parsed."""
        path = self.run_dir / PROGRESS_FILE
        try:
            with open(path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        new = []
        for line in lines:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    new.append(event)
        self._events += new
        return new

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event so far (reads what is new first)."""
        self.poll()
        return list(self._events)

    @property
    def running(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the process has ended (True) or ``timeout`` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    # --- stopping -----------------------------------------------------------------------------

    def stop(self, grace_s: float = 30.0) -> TrainingResult | None:
        """Stop cleanly: a STOP file, then SIGTERM after ``grace_s``, then a kill after another
        ``grace_s``. Blocks (call from a worker). Returns the result."""
        stop_file = self.run_dir / STOP_FILE
        deadline = time.monotonic() + grace_s
        while self.running and time.monotonic() < deadline:
            if not stop_file.exists():  # (re)create: a starting trainer removes stale ones
                stop_file.touch()
            time.sleep(0.2)
        if self.running and self.pid is not None:
            self._signal(signal.SIGTERM)
            self.wait(grace_s)
        if self.running and self.pid is not None:
            self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))
            self.wait(10)
        return self.result()

    def _signal(self, sig: int) -> None:
        if self._popen is not None and os.name == "nt":
            self._popen.terminate() if sig == signal.SIGTERM else self._popen.kill()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, sig)  # type: ignore[arg-type]

    # --- outcome ------------------------------------------------------------------------------

    def result(self) -> TrainingResult | None:
        """How the run ended; None while it is still running."""
        events = self.events
        if self.running:
            return None
        end = next((e for e in reversed(events) if e.get("event") in TERMINAL_EVENTS), None)
        code = self.returncode
        if end is None:
            return TrainingResult(
                "killed", code, None, None, None, False, False,
                "the trainer ended without a final event (killed or crashed); nothing was kept",
                None,
            )  # fmt: skip
        if end["event"] == "error":
            return TrainingResult(
                "failed", code, None, None, None, False, False, end.get("message"), None
            )
        registration = end.get("registration") or {}
        return TrainingResult(
            status=str(end.get("status")),
            returncode=code,
            model_version=end.get("version"),
            model_path=registration.get("path") or end.get("model"),
            report_path=end.get("report"),
            registered=bool(end.get("registered")),
            activated=bool(end.get("activated")),
            message=end.get("message") or (end.get("promotion") or {}).get("reason"),
            promotion=end.get("promotion"),
        )


def list_training_runs(root: str | os.PathLike[str] | None = None) -> list[TrainingRunSummary]:
    """Training run folders under ``root`` (default <user data dir>/training), newest first."""
    base = Path(root) if root is not None else default_runs_root()
    if not base.is_dir():
        return []
    out = []
    for folder in base.iterdir():
        if not folder.is_dir() or not (
            (folder / PROGRESS_FILE).exists() or (folder / PROCESS_FILE).exists()
        ):
            continue
        proc = TrainingProcess.attach(folder)
        started = None
        with contextlib.suppress(OSError, ValueError):
            started = json.loads((folder / PROCESS_FILE).read_text(encoding="utf-8"))["started_at"]
        if started is None and proc._events:
            stamp = proc._events[0].get("time")
            started = (
                datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")
                if stamp
                else None
            )
        result = proc.result()
        out.append(
            TrainingRunSummary(
                run_dir=folder,
                started_at=started,
                running=result is None,
                status="running" if result is None else result.status,
                model_version=result.model_version if result else None,
                pid=proc.pid,
            )
        )
    return sorted(out, key=lambda r: (r.started_at or "", r.run_dir.name), reverse=True)
