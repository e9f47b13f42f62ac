"""Benchmark: a short fine-tune started from the GUI on the shared photos, and how responsive the
GUI stays while it runs.

Why: clinicians fine-tune on an ordinary PC while they keep screening and reviewing; training
runs in a child process, so the GUI thread must stay free. The fine-tune dialog (offscreen) trains
the shipped model on ``../shared/datasets/msid`` as a class folder for ``--epochs`` epochs with the
recipe's other defaults; a 20 ms QTimer records its worst lateness meanwhile. With
``--screenshots DIR`` the dialog (curves drawn), the comparison and the models view are saved.

Run from the repository root: ``.venv/bin/python bench/bench_gui_finetune.py [--epochs 2]``.
Prints a table and writes ``bench/results/gui_finetune.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "gui_finetune.json"
MODEL = ROOT / "resources" / "models" / "default.safetensors"
MSID = Path(os.environ.get("POXSCREEN_SHARED", ROOT.parent / "shared")) / "datasets" / "msid"
TICK_MS = 20


class Lateness:
    """Worst and mean delay of a repeating timer beyond its interval (GUI-thread stalls)."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.worst = 0.0
        self.total = 0.0
        self.ticks = 0
        self.timer = QTimer(interval=TICK_MS, timeout=self._tick)

    def start(self) -> None:
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        late = max(0.0, self.clock.restart() - TICK_MS)
        self.worst = max(self.worst, late)
        self.total += late
        self.ticks += 1


def wait(app: QApplication, until: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not until() and time.monotonic() < deadline:  # type: ignore[operator]
        app.processEvents()
        time.sleep(0.005)


def run(args: argparse.Namespace, app: QApplication, tmp: Path) -> dict[str, object]:
    from PySide6.QtCore import QThreadPool

    from desktop.services.active_model import ActiveModel
    from desktop.training.finetune_dialog import FinetuneDialog
    from desktop.versions.models_dialog import ModelsDialog
    from engine.store import Store

    store = Store.open(tmp / "case.db")
    store.register_model_file(MODEL, activate=True)
    active = ActiveModel(store, "cpu", QThreadPool.globalInstance())
    dialog = FinetuneDialog(active, run_root=tmp / "runs")
    dialog.show()
    wait(app, lambda: dialog.plan is not None, 60)
    dialog.use_store.setChecked(False)
    dialog.add_folder(MSID)
    dialog.plan = None
    wait(app, lambda: dialog.plan is not None, 60)
    dialog.recipe.epochs.setValue(args.epochs)
    dialog.recipe.device.setCurrentText("cpu")
    lateness = Lateness()
    lateness.start()
    t0 = time.monotonic()
    dialog.start()
    wait(app, lambda: dialog.result is not None, args.timeout)
    elapsed = time.monotonic() - t0
    lateness.timer.stop()
    shots = Path(args.screenshots) if args.screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(shots / "finetune_dialog.png"))
        if dialog.compare is not None:
            dialog.compare.grab().save(str(shots / "compare_view.png"))
            dialog.compare.confirm_force = lambda: True  # no one to answer the question here
            dialog.compare.promote()
            wait(app, lambda: dialog.compare.outcome is not None, 120)
        models = ModelsDialog(active)
        models.show()
        wait(app, lambda: models.table.rowCount() >= 2, 60)
        wait(app, lambda: False, 2)  # let the agreement query answer
        models.grab().save(str(shots / "models_view.png"))
    result = dialog.result
    return {
        "epochs": args.epochs,
        "images": sum(dialog.plan.totals.values()) if dialog.plan else None,
        "status": result.status if result else "timeout",
        "seconds_start_to_result": round(elapsed, 1),
        "gui_timer_worst_late_ms": round(lateness.worst, 1),
        "gui_timer_mean_late_ms": round(lateness.total / max(lateness.ticks, 1), 2),
        "gui_timer_ticks": lateness.ticks,
        "decision": (dialog.compare.comparison.decision if dialog.compare else None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--screenshots", help="folder for the three screenshots")
    args = parser.parse_args()
    if not MSID.is_dir():
        print(f"skipped: {MSID} not present")
        return 0
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["POXSCREEN_DATA_DIR"] = str(Path(tmp) / "data")
        row = run(args, app, Path(tmp))
    for key, value in row.items():
        print(f"{key:>28}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(row, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
