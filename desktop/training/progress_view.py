"""A fine-tuning run as it goes: live curves, a progress bar, elapsed and remaining time, and a
line of status, all from the trainer's progress events."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from desktop.services.i18n import N_, _, format_number
from desktop.training.curves import TrainingCurves

Event = dict[str, Any]  # one progress line of the trainer (JSON)

# What follows the epochs (or the fitted models), counted in the bar and in the time left.
GATE_TAIL = ("calibrate", "evaluate", "guard", "save", "export", "register")
CROSS_FIT_TAIL = ("reference", "save", "export", "register")
STARTED = N_("elapsed {elapsed}")
GOING = N_("elapsed {elapsed} \u00b7 about {left} left")
ENDED = N_("elapsed {elapsed} \u00b7 ended")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingProgress(QGroupBox):
    """Shows the trainer's events (start, stage, step, epoch, stopping)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_("Progress"), parent)
        layout = QVBoxLayout(self)
        self.curves = TrainingCurves()
        self.status = QLabel(_("Not started."), wordWrap=True)
        self.times = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFormat(_("%p%"))  # "45 %" in French
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        layout.addWidget(self.curves, stretch=1)
        row = QHBoxLayout()
        row.addWidget(self.bar, stretch=1)
        row.addWidget(self.times)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._epoch_text = ""
        self._t0: float | None = None  # the run's first event (unix seconds)
        self._main, self._tail, self._running = 1, GATE_TAIL, False

    def restart(self, text: str) -> None:
        self._epoch_text = ""
        self._t0, self._main, self._tail, self._running = None, 1, GATE_TAIL, True
        self.bar.setRange(0, 1000 * (1 + len(self._tail)))
        self.bar.setValue(0)
        self.times.setText("")
        self.curves.clear()
        self.curves.setVisible(True)
        self.status.setText(text)

    def _units(self, main: int) -> None:
        self._main = max(1, main)
        self.bar.setRange(0, 1000 * (self._main + len(self._tail)))

    def _advance(self, value: float) -> None:
        self.bar.setValue(min(self.bar.maximum(), max(self.bar.value(), int(value))))

    def tick(self, now: float | None = None) -> None:
        """Elapsed and time left of the whole run, every step (export, guard...) included:
        wall clock since the run's first event, and the rest at the pace so far."""
        if self._t0 is None:
            return
        elapsed = (time.time() if now is None else now) - self._t0
        done = self.bar.value() / max(1, self.bar.maximum())
        if not self._running:
            text = _(ENDED).format(elapsed=fmt_duration(elapsed))
        elif done <= 0.0:
            text = _(STARTED).format(elapsed=fmt_duration(elapsed))
        else:
            left = elapsed * (1.0 - done) / done
            text = _(GOING).format(elapsed=fmt_duration(elapsed), left=fmt_duration(left))
        self.times.setText(text)

    def handle(self, event: Event) -> None:
        when = event.get("time")
        when = float(when) if isinstance(when, (int, float)) else time.time()
        if self._t0 is None:
            self._t0 = when
        self._dispatch(event)
        self.tick(when)

    def _dispatch(self, event: Event) -> None:
        kind = event.get("event")
        if kind == "start" and event.get("method") == "cross-fit":
            self._start_cross_fit(event)
        elif kind == "start":
            self.status.setText(
                _(
                    "Training on {n_train} images, validating on {n_val}; device {device} "
                    "({reason})"
                ).format(
                    n_train=event.get("n_train"),
                    n_val=event.get("n_val"),
                    device=event.get("device"),
                    reason=event.get("device_reason", ""),
                )
            )
            self._units(int(event.get("epochs") or 1))
        elif kind == "stage":
            stage = event.get("stage")
            if stage in ("crossfit", "final"):  # one more model fitted
                self._advance(self.bar.value() + 1000)
            elif stage in self._tail:  # the steps before it are done
                self._advance(1000 * (self._main + self._tail.index(stage)))
            self.status.setText(str(event.get("message") or event.get("stage")))
        elif kind == "step":
            self._show_step(event)
        elif kind == "epoch":
            self.curves.add_epoch(event)
            self._show_epoch(event)
        elif kind == "stopping":
            self.status.setText(
                _("Stopping ({reason}); keeping the best model...").format(
                    reason=event.get("reason")
                )
            )

    def _start_cross_fit(self, event: Event) -> None:
        """No epochs to draw: fold models, then the final model, each fitted in seconds."""
        self.curves.setVisible(False)
        models = int(event.get("epochs") or 1)
        self._tail = CROSS_FIT_TAIL
        self._units(models)
        self.bar.setValue(0)
        self.status.setText(
            _(
                "Cross-fitting on {n} labels: {folds} fold models, each checking the labels it "
                "did not see, then the final model on all of them"
            ).format(n=event.get("n_train"), folds=models - 1)
        )

    def _show_step(self, event: Event) -> None:
        """Within an epoch (epochs may take minutes on a CPU): step, running loss, time left."""
        epoch, steps = int(event.get("epoch", 0)), int(event.get("steps", 0) or 1)
        done = epoch - 1 + int(event.get("step", 0)) / steps
        self._units(int(event.get("epochs", 0) or 1))
        self._advance(1000 * done)
        loss = event.get("loss")
        text = _("Epoch {epoch}/{epochs}, step {step}/{steps}").format(
            epoch=epoch, epochs=event.get("epochs"), step=event.get("step"), steps=steps
        )
        if isinstance(loss, (int, float)):
            text += _(", training loss {loss}").format(loss=format_number(loss, 3))
        if self._epoch_text:
            text += _(". Last epoch: {epoch}").format(epoch=self._epoch_text)
        self.status.setText(text)

    def _show_epoch(self, event: Event) -> None:
        epoch, epochs = int(event.get("epoch", 0)), int(event.get("epochs", 0) or 1)
        self._units(epochs)
        self._advance(1000 * epoch)
        best = event.get("best_score")
        self._epoch_text = _("validation macro-F1 {f1}, best {best} (epoch {best_epoch})").format(
            f1=format_number(event.get("val_macro_f1") or 0, 3),
            best=best if best is None else format_number(best, 3),
            best_epoch=event.get("best_epoch"),
        )
        self.status.setText(
            _("Epoch {epoch}/{epochs}: {text}").format(
                epoch=epoch, epochs=epochs, text=self._epoch_text
            )
        )

    def finish(self, complete: bool = True) -> None:
        """The run has ended (``complete``: with a model, so the bar is full)."""
        self._running = False
        if complete:
            self.bar.setValue(self.bar.maximum())
        self.tick()
