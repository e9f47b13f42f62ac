"""The one place where the fine-tune, models, compare and export dialogs meet the engine.

Qt-free. Every engine call those dialogs make goes through this module, so the switch to the
engine API of issue #8 (``engine.training.TrainingProcess``, ``store.promote``/``rollback``/
``agreement``) is a change here only. Until that API is merged, :class:`LocalTrainingProcess`
runs ``python -m trainer train`` as a detached child process the same way (progress lines to a
file in the run folder, a STOP file to stop cleanly, re-attach after a restart), and promotion
falls back to the registry's plain activation. The GUI never imports ``trainer``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.paths import user_data_dir

PREFIX = "@progress "  # the trainer's progress-line protocol (trainer/progress.py)
MIN_PER_CLASS = 10
"""Fewer labelled examples than this in a class leaves its validation share at one or two
images: the comparison with the active model would mean little."""
STDOUT_NAME = "progress.log"


# --- what will be trained on -----------------------------------------------------------------


@dataclass
class TrainingPlan:
    """What a fine-tuning run would use, shown before anything starts."""

    store_counts: dict[str, int] = field(default_factory=dict)
    folder_counts: dict[str, int] = field(default_factory=dict)
    excluded_refer: int = 0
    unreadable: int = 0
    warnings: list[str] = field(default_factory=list)
    split_text: str = ""
    split_file: Path | None = None

    @property
    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter(self.store_counts)
        total.update(self.folder_counts)
        return dict(sorted(total.items()))

    @property
    def can_start(self) -> bool:
        return len([c for c, n in self.totals.items() if n > 0]) >= 2


def split_path(store: Any) -> Path:
    """The split recorded for training from the store (trainer.sources.store_split_path)."""
    return Path(store.splits_dir) / "store-split.json"


def count_class_folders(folders: Sequence[Path]) -> dict[str, int]:
    """Images per class in ImageFolder-style folders (``DIR/<class>/...``)."""
    from engine.images import iter_image_files

    counts: Counter[str] = Counter()
    for folder in folders:
        for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
            counts[sub.name] += len(iter_image_files(sub, recursive=True))
    return dict(counts)


def training_plan(store: Any, folders: Sequence[Path] = (), use_store: bool = True) -> TrainingPlan:
    """Counts per class (store labels, class folders), exclusions, warnings and the split."""
    plan = TrainingPlan()
    if use_store:
        items = store.labelled_images(include_refer=True)
        plan.excluded_refer = sum(1 for i in items if i.label == "refer")
        plan.unreadable = sum(1 for i in items if i.label != "refer" and i.file is None)
        plan.store_counts = dict(
            sorted(Counter(i.label for i in items if i.label != "refer" and i.file).items())
        )
    plan.folder_counts = count_class_folders(folders) if folders else {}
    for name, n in plan.totals.items():
        if n < MIN_PER_CLASS:
            plan.warnings.append(
                f"{name}: only {n} example{'s' if n != 1 else ''}; at least {MIN_PER_CLASS} "
                "are needed for a meaningful validation split"
            )
    if not plan.can_start:
        plan.warnings.insert(0, "Training needs labelled images of at least two classes.")
    if plan.unreadable:
        plan.warnings.append(
            f"{plan.unreadable} labelled image(s) have no readable copy and will be skipped"
        )
    plan.split_file = split_path(store) if use_store else None
    plan.split_text = _split_text(plan.split_file)
    return plan


def _split_text(path: Path | None) -> str:
    if path is None or not path.is_file():
        return (
            "A new split: 15% of each class held out for validation, near-duplicate photos "
            "kept together, seed 0; it is recorded so later runs are judged on the same images."
        )
    try:
        counts = json.loads(path.read_text(encoding="utf-8")).get("counts", {})
        n_val = sum(counts.get("val", {}).values())
    except (OSError, ValueError, AttributeError):
        return f"The recorded split {path} cannot be read; training will report why."
    return (
        f"The recorded split ({n_val} validation images) is reused; new images are added to it "
        "with the same rule, so the new and active models are judged on the same images."
    )


# --- training in a child process -------------------------------------------------------------


@dataclass(frozen=True)
class TrainingResult:
    """How a run ended: status finished/early_stopped/stopped/failed, the model file it wrote."""

    status: str
    model: Path | None
    version: str | None
    report: Path | None
    message: str = ""
    exit_code: int | None = None


def parse_progress(line: str) -> dict[str, Any] | None:
    if not line.startswith(PREFIX):
        return None
    try:
        data = json.loads(line[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of ours that nobody reaped yet is a zombie: not running
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class LocalTrainingProcess:
    """``python -m trainer train`` detached from the GUI, its progress read from the run folder."""

    def __init__(self, run_dir: Path, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self._popen = popen
        self._offset = 0
        self._buffer = ""
        self.events: list[dict[str, Any]] = []
        self._stop_at: float | None = None
        self._grace = 30.0
        self.pid: int | None = popen.pid if popen else None

    @classmethod
    def start(
        cls, args: Sequence[str], db: str | None = None, run_dir: Path | None = None
    ) -> LocalTrainingProcess:
        """Start training; the model is written to the run folder and NOT registered (the
        GUI's Promote registers and activates it)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        run_dir = Path(run_dir or user_data_dir() / "training" / f"gui-{stamp}")
        run_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "trainer", "train", "--out", str(run_dir)]
        cmd += ["--no-register", "--no-progress-bar", *args]
        if db:
            cmd += ["--db", str(db)]
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        with (run_dir / STDOUT_NAME).open("wb") as out, (run_dir / "stderr.log").open("wb") as err:
            popen = subprocess.Popen(
                cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True, cwd=str(Path(__file__).resolve().parents[1]),
            )  # fmt: skip
        (run_dir / "gui.json").write_text(json.dumps({"pid": popen.pid, "cmd": cmd}))
        return cls(run_dir, popen)

    @classmethod
    def attach(cls, run_dir: Path) -> LocalTrainingProcess:
        """Re-attach to a run started earlier (running or finished) through its files."""
        proc = cls(Path(run_dir))
        try:
            proc.pid = int(json.loads((proc.run_dir / "gui.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            proc.pid = None
        proc.poll()
        return proc

    def poll(self) -> list[dict[str, Any]]:
        """New progress events since the last call; escalates a stop past its grace time."""
        path = self.run_dir / STDOUT_NAME
        new: list[dict[str, Any]] = []
        try:
            with path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            chunk = b""
        self._offset += len(chunk)
        self._buffer += chunk.decode("utf-8", errors="replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            event = parse_progress(line.strip())
            if event is not None:
                new.append(event)
        self.events.extend(new)
        self._escalate()
        return new

    @property
    def running(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        return self.pid is not None and _pid_alive(self.pid) and not self._ended()

    def _ended(self) -> bool:
        return any(e.get("event") in ("done", "error") for e in self.events)

    def stop(self, grace_s: float = 30.0) -> None:
        """Ask for a clean stop (STOP file: the best checkpoint is kept); SIGTERM after
        ``grace_s`` if the trainer has not ended by then (checked by :meth:`poll`)."""
        stop_file = next(
            (Path(e["stop_file"]) for e in self.events if e.get("event") == "run" and e.get("stop_file")),
            self.run_dir / "STOP",
        )  # fmt: skip
        stop_file.touch()
        self._stop_at, self._grace = time.monotonic(), grace_s

    def _escalate(self) -> None:
        if self._stop_at is None or not self.running or self.pid is None:
            return
        if time.monotonic() - self._stop_at > self._grace:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self._stop_at = None

    def result(self) -> TrainingResult | None:
        """How the run ended, or None while it runs."""
        if self.running:
            return None
        self.poll()
        code = self._popen.returncode if self._popen is not None else None
        for e in reversed(self.events):
            if e.get("event") == "done":
                model = Path(e["model"]) if e.get("model") else None
                report = Path(e["report"]) if e.get("report") else None
                return TrainingResult(
                    str(e.get("status")), model, e.get("version"), report, "", code
                )
            if e.get("event") == "error":
                return TrainingResult("failed", None, None, None, str(e.get("message")), code)
        return TrainingResult("failed", None, None, None, _stderr_tail(self.run_dir), code)


def _stderr_tail(run_dir: Path, lines: int = 5) -> str:
    try:
        text = (run_dir / "stderr.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "the trainer ended without a word"
    return "\n".join(text.strip().splitlines()[-lines:]) or "the trainer ended without a word"


try:  # issue #8's handle, once merged, replaces the local one: the only switch needed
    from engine.training import TrainingProcess  # type: ignore[import-not-found]
except ImportError:
    TrainingProcess = LocalTrainingProcess  # type: ignore[misc,assignment]


def training_args(settings: dict[str, Any], folders: Sequence[Path], use_store: bool) -> list[str]:
    """The trainer's command-line arguments for the dialog's settings."""
    args: list[str] = ["--from-store"] if use_store else []
    for folder in folders:
        args += ["--data", str(folder)]
    flags = {
        "epochs": "--epochs", "freeze": "--freeze", "lr": "--lr", "batch_size": "--batch-size",
        "device": "--device", "patience": "--patience", "weight_decay": "--weight-decay",
        "val_fraction": "--val-fraction", "seed": "--seed", "schedule": "--schedule",
        "balance": "--balance", "input_size": "--input-size", "threads": "--threads",
        "name": "--name", "init": "--init",
    }  # fmt: skip
    for key, flag in flags.items():
        value = settings.get(key)
        if value not in (None, ""):
            args += [flag, str(value)]
    if settings.get("augment") is False:
        args.append("--no-augment")
    return args


def latest_gui_run(root: Path | None = None) -> Path | None:
    """The newest run folder started from the GUI (to re-attach to after a restart)."""
    base = root or user_data_dir() / "training"
    runs = sorted(base.glob("gui-*/gui.json")) if base.is_dir() else []
    return runs[-1].parent if runs else None
