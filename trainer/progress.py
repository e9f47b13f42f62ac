"""Machine-readable progress lines for the parent process, a tqdm bar for people, and stopping.

Protocol (stdout, one event per line, flushed): ``@progress {json}``. Every object has ``event``
and ``time`` (unix seconds). Events, in order of a run:

- ``run`` (first, at once): run_dir, stop_file (create it to stop cleanly; a stop file that
  exists before this event is treated as stale and removed), pid
- ``start``: run_dir, device, device_reason, classes, n_train, n_val, n_test, epochs, steps
- ``stage``: stage ("scan" | "decode" | "split" | "bn" | "calibrate" | "evaluate" | "save" |
  "export" | "register"), message, optionally done/total
- ``step``: epoch, epochs, step, steps, loss (running mean of the epoch), lr, elapsed_s, eta_s
  (throttled to about 2 per second)
- ``epoch``: epoch, epochs, train_loss, val_loss, val_accuracy, val_macro_f1, improved,
  best_epoch, best_score, bad_epochs, patience, elapsed_s, eta_s (to the epoch limit),
  eta_patience_s (until early stopping if nothing improves)
- ``stopping``: reason ("stop file" | "SIGTERM" | "SIGINT")
- ``done``: status ("finished" | "stopped" | "early_stopped"), model, report, metrics,
  registered (bool), activated (bool), version
- ``done`` also ends a run stopped before its first validated epoch: status "stopped",
  model null, registered false (nothing to keep; exit code 0)
- ``error``: message (then the process exits non-zero)

Other stdout lines (none expected) and all of stderr are for humans. ``python -m trainer train``
also appends every event as one JSON line to ``<run_dir>/progress.jsonl`` (no prefix), which
``engine.training.TrainingProcess`` reads: a GUI restarted mid-run re-attaches to that file.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tqdm import tqdm

PREFIX = "@progress "


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def parse_line(line: str) -> dict[str, Any] | None:
    """The event of one stdout line, or None when it is not a progress line (for parents)."""
    if not line.startswith(PREFIX):
        return None
    try:
        data = json.loads(line[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


class Reporter:
    """Writes progress events to ``stream`` and drives a tqdm bar on a terminal's stderr."""

    def __init__(
        self, stream: TextIO | None = None, bar: bool | None = None, step_interval_s: float = 0.5
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.bar_enabled = sys.stderr.isatty() if bar is None else bar
        self.step_interval_s = step_interval_s
        self._last_step = 0.0
        self._bar: tqdm | None = None
        self._log: TextIO | None = None

    def log_to(self, path: Path) -> None:
        """Also append every event to ``path`` as JSON lines (the run folder's progress log)."""
        self.close_log()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close_log)

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def emit(self, event: str, **fields: Any) -> None:
        data = {"event": event, "time": round(time.time(), 3), **fields}
        line = json.dumps(_jsonable(data), sort_keys=False)
        self.stream.write(PREFIX + line + "\n")
        self.stream.flush()
        if self._log is not None:
            self._log.write(line + "\n")
            self._log.flush()

    def step(self, force: bool = False, **fields: Any) -> None:
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{fields.get('loss', math.nan):.4f}", refresh=False)
        if force or now - self._last_step >= self.step_interval_s:
            self._last_step = now
            self.emit("step", **fields)

    def epoch_bar(self, epoch: int, epochs: int, steps: int) -> None:
        self.close_bar()
        if self.bar_enabled:
            self._bar = tqdm(
                total=steps,
                desc=f"epoch {epoch}/{epochs}",
                unit="step",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def say(self, message: str) -> None:
        """A line for people (stderr), kept clear of the bar."""
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)


class StoppedEarly(Exception):
    """A stop was requested before any epoch was validated: there is no model to keep."""


class StopControl:
    """A stop request from a stop file, SIGTERM or SIGINT; checked between training steps.

    The first SIGINT/SIGTERM asks for a clean stop (finish the step, keep the best model); a second
    SIGINT raises KeyboardInterrupt (abort: nothing is registered).
    """

    def __init__(self, stop_file: Path | None = None) -> None:
        self.stop_file = stop_file
        self.reason: str | None = None
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def install(self) -> StopControl:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.request(name)
        print(
            f"\n{name}: stopping after the current step, keeping the best model so far "
            "(Ctrl+C again to abort)",
            file=sys.stderr,
            flush=True,
        )

    def check(self, where: str) -> None:
        """Raise StoppedEarly when a stop was requested (used before training has a model)."""
        if self.requested:
            raise StoppedEarly(f"stopped ({self.reason}) {where}; nothing was trained or kept")

    @property
    def requested(self) -> bool:
        if not self._event.is_set() and self.stop_file is not None and self.stop_file.exists():
            self.request("stop file")
        return self._event.is_set()
