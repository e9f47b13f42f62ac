"""The progress view of a cross-fitted fine-tune: no empty epoch curves, a bar that moves with
each fitted model, a line saying what is being done."""

from __future__ import annotations

from typing import Any

from desktop.training.progress_view import TrainingProgress


def test_a_cross_fitted_run_hides_the_curves_and_counts_the_models(qtbot: Any) -> None:
    view = TrainingProgress()
    qtbot.addWidget(view)
    view.show()
    view.handle({"event": "start", "method": "cross-fit", "n_train": 40, "epochs": 6})
    assert not view.curves.isVisible()
    assert "Cross-fitting on 40 labels: 5 fold models" in view.status.text()
    for i in range(1, 6):
        view.handle(
            {"event": "stage", "stage": "crossfit", "message": f"fold model {i} of 5 fitted"}
        )
    assert view.bar.value() == 5000 and view.status.text() == "fold model 5 of 5 fitted"
    view.handle({"event": "stage", "stage": "final", "message": "fitting the final model"})
    assert view.bar.value() == 6000  # all six models fitted; checks, save and export to come
    assert view.bar.maximum() == 10_000
    view.finish()
    assert view.bar.value() == view.bar.maximum()
    view.restart("Starting...")  # a later run with the held-out gate draws its epochs again
    view.handle({"event": "start", "n_train": 30, "n_val": 8, "epochs": 3, "device": "cpu"})
    assert view.curves.isVisible() and "validating on 8" in view.status.text()


T0 = 1_800_000_000.0


def test_elapsed_and_time_left_count_every_step_export_included(qtbot: Any) -> None:
    """A 33 s cross-fitted run: models fitted in 3 s, then the checks, saving and exporting
    the graph take the other 30 s; the time left must not read 0:00 while they go on."""
    view = TrainingProgress()
    qtbot.addWidget(view)
    view.restart("Starting...")
    view.handle({"event": "run", "time": T0})
    view.handle({"event": "start", "method": "cross-fit", "n_train": 40, "epochs": 6,
                 "time": T0 + 1})  # fmt: skip
    for i in range(1, 6):
        view.handle({"event": "stage", "stage": "crossfit", "time": T0 + 1 + i * 0.4})
    view.handle({"event": "stage", "stage": "final", "time": T0 + 3.5})
    view.handle({"event": "stage", "stage": "reference", "time": T0 + 4})
    view.handle({"event": "stage", "stage": "save", "time": T0 + 10})
    view.handle({"event": "stage", "stage": "export", "time": T0 + 12})
    assert view.bar.value() < view.bar.maximum()
    assert view.times.text().startswith("elapsed 0:12 \u00b7 about ")
    assert "about 0:00 left" not in view.times.text()
    view.tick(T0 + 25)  # between events the elapsed time keeps counting
    assert view.times.text().startswith("elapsed 0:25")
    view.handle({"event": "stage", "stage": "register", "time": T0 + 32})
    view.finish()
    view.tick(T0 + 33)
    assert view.times.text() == "elapsed 0:33 \u00b7 ended"


def test_a_gate_run_counts_calibration_guard_and_export_after_its_epochs(qtbot: Any) -> None:
    view = TrainingProgress()
    qtbot.addWidget(view)
    view.restart("Starting...")
    view.handle({"event": "start", "n_train": 30, "n_val": 8, "epochs": 2, "time": T0})
    view.handle({"event": "epoch", "epoch": 1, "epochs": 2, "time": T0 + 10})
    view.handle({"event": "epoch", "epoch": 2, "epochs": 2, "time": T0 + 20})
    assert view.bar.value() < view.bar.maximum()  # the epochs are not the whole run
    text = view.times.text()
    assert text.startswith("elapsed 0:20 \u00b7 about ") and "0:00 left" not in text
    view.handle({"event": "stage", "stage": "export", "time": T0 + 28})
    assert view.bar.value() == 1000 * (2 + 4)  # calibrate, evaluate, guard and save done
