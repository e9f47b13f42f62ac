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
    assert view.bar.value() == view.bar.maximum() == 6000
    view.restart("Starting...")  # a later run with the held-out gate draws its epochs again
    view.handle({"event": "start", "n_train": 30, "n_val": 8, "epochs": 3, "device": "cpu"})
    assert view.curves.isVisible() and "validating on 8" in view.status.text()
