"""A fine-tuning run as it goes: live curves, a progress bar, elapsed and remaining time, and a
line of status, all from the trainer's progress events."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from desktop.training.curves import TrainingCurves

Event = dict[str, Any]  # one progress line of the trainer (JSON)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingProgress(QGroupBox):
    """Shows the trainer's events (start, stage, step, epoch, stopping)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Progress", parent)
        layout = QVBoxLayout(self)
        self.curves = TrainingCurves()
        self.status = QLabel("Not started.", wordWrap=True)
        self.times = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        layout.addWidget(self.curves, stretch=1)
        row = QHBoxLayout()
        row.addWidget(self.bar, stretch=1)
        row.addWidget(self.times)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._epoch_text = ""

    def restart(self, text: str) -> None:
        self._epoch_text = ""
        self.curves.clear()
        self.curves.setVisible(True)
        self.status.setText(text)

    def handle(self, event: Event) -> None:
        kind = event.get("event")
        if kind == "start" and event.get("method") == "cross-fit":
            self._start_cross_fit(event)
        elif kind == "start":
            self.status.setText(
                f"Training on {event.get('n_train')} images, validating on {event.get('n_val')}; "
                f"device {event.get('device')} ({event.get('device_reason', '')})"
            )
            self.bar.setRange(0, 1000 * int(event.get("epochs") or 1))
        elif kind == "stage":
            if event.get("stage") in ("crossfit", "final"):  # one more model fitted
                self.bar.setValue(min(self.bar.value() + 1000, self.bar.maximum()))
            self.status.setText(str(event.get("message") or event.get("stage")))
        elif kind == "step":
            self._show_step(event)
        elif kind == "epoch":
            self.curves.add_epoch(event)
            self._show_epoch(event)
        elif kind == "stopping":
            self.status.setText(f"Stopping ({event.get('reason')}); keeping the best model...")

    def _start_cross_fit(self, event: Event) -> None:
        """No epochs to draw: fold models, then the final model, each fitted in seconds."""
        self.curves.setVisible(False)
        models = int(event.get("epochs") or 1)
        self.bar.setRange(0, 1000 * models)
        self.bar.setValue(0)
        self.status.setText(
            f"Cross-fitting on {event.get('n_train')} labels: {models - 1} fold models, each "
            "checking the labels it did not see, then the final model on all of them"
        )

    def _show_step(self, event: Event) -> None:
        """Within an epoch (epochs may take minutes on a CPU): step, running loss, time left."""
        epoch, steps = int(event.get("epoch", 0)), int(event.get("steps", 0) or 1)
        done = epoch - 1 + int(event.get("step", 0)) / steps
        self.bar.setRange(0, 1000 * int(event.get("epochs", 0) or 1))
        self.bar.setValue(int(1000 * done))
        self.times.setText(
            f"elapsed {fmt_duration(event.get('elapsed_s'))} \u00b7 "
            f"left at most {fmt_duration(event.get('eta_s'))}"
        )
        loss = event.get("loss")
        self.status.setText(
            f"Epoch {epoch}/{event.get('epochs')}, step {event.get('step')}/{steps}"
            + (f", training loss {loss:.3f}" if isinstance(loss, (int, float)) else "")
            + (f". Last epoch: {self._epoch_text}" if self._epoch_text else "")
        )

    def _show_epoch(self, event: Event) -> None:
        epoch, epochs = int(event.get("epoch", 0)), int(event.get("epochs", 0) or 1)
        self.bar.setRange(0, 1000 * epochs)
        self.bar.setValue(1000 * epoch)
        etas = [v for v in (event.get("eta_s"), event.get("eta_patience_s")) if v is not None]
        self.times.setText(
            f"elapsed {fmt_duration(event.get('elapsed_s'))} \u00b7 "
            f"left at most {fmt_duration(min(etas) if etas else None)}"
        )
        best = event.get("best_score")
        self._epoch_text = (
            f"validation macro-F1 {event.get('val_macro_f1') or 0:.3f}, "
            f"best {best if best is None else f'{best:.3f}'} (epoch {event.get('best_epoch')})"
        )
        self.status.setText(f"Epoch {epoch}/{epochs}: {self._epoch_text}")

    def finish(self) -> None:
        self.bar.setValue(self.bar.maximum())
