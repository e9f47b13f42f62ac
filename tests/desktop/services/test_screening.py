"""Screening from the real main window: live gallery, cancel and resume, unreadable files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.desktop.conftest import BAD, N_GOOD, wait_screening


def test_empty_store_shows_call_to_action(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    qtbot.waitUntil(lambda: w.status.counts_label.text().startswith("0 screened"))
    assert w.center.currentWidget() is w.empty
    assert w.empty.button.isVisible() and "Screen a folder" in w.empty.button.text()
    assert not w.errors.isVisible()


def test_gallery_fills_while_the_job_runs(
    make_window: Any, qtbot: Any, photos: Path, slow_batches: None
) -> None:
    w = make_window()
    w.screen_folder(str(photos))
    assert w.progress.isVisible()
    # tiles appear while the job is still running, before all images are screened
    qtbot.waitUntil(lambda: w.model.rowCount() > 0, timeout=120_000)
    assert w.screening.worker is not None, "the job finished before any tile appeared"
    assert w.model.rowCount() < N_GOOD
    assert w.center.currentWidget() is w.gallery
    assert w.progress.bar.maximum() == N_GOOD + len(BAD)
    wait_screening(qtbot, w)
    assert w.model.rowCount() == N_GOOD
    assert not w.progress.isVisible()
    qtbot.waitUntil(
        lambda: (
            w.status.counts_label.text() == f"{N_GOOD} screened · 0 reviewed · {N_GOOD} to review"
        )
    )
    # the model used is named in the status bar with its device and reason
    assert "trained" in w.status.model_label.text()
    assert "CPU" in w.status.device_label.text() or "CUDA" in w.status.device_label.text()
    assert w.filters.runs.count() == 2  # "All runs" + this run


def test_cancel_then_resume_skips_what_was_screened(
    make_window: Any, qtbot: Any, photos: Path, slow_batches: None
) -> None:
    w = make_window()
    w.screen_folder(str(photos))
    qtbot.waitUntil(
        lambda: w.screening.worker is not None and w.model.rowCount() >= 4, timeout=120_000
    )
    worker = w.screening.worker
    w.progress.cancel.click()
    wait_screening(qtbot, w)
    first = worker.summary
    assert first.cancelled
    done_first = first.predicted
    assert 0 < done_first < N_GOOD
    assert w.model.rowCount() == done_first
    w.screen_folder(str(photos))
    qtbot.waitUntil(lambda: w.screening.worker is not None, timeout=60_000)
    worker = w.screening.worker
    wait_screening(qtbot, w)
    second = worker.summary
    assert not second.cancelled
    assert second.skipped == done_first  # resumed: nothing screened twice
    assert second.predicted == N_GOOD - done_first
    assert w.model.rowCount() == N_GOOD


def test_bad_files_show_in_the_errors_panel(make_window: Any, qtbot: Any, photos: Path) -> None:
    w = make_window()
    assert not w.errors.isVisible()
    w.screen_folder(str(photos))
    wait_screening(qtbot, w)
    assert w.errors.isVisible()
    assert w.errors.count() == len(BAD)
    rows = {
        w.errors.tree.topLevelItem(i).text(0): w.errors.tree.topLevelItem(i).text(1)
        for i in range(w.errors.count())
    }
    assert set(rows) == set(BAD)
    assert "empty" in rows["empty.jpg"]
    assert "not an image" in rows["notes.png"]
    assert "(2)" in w.errors.windowTitle()
    assert w.model.rowCount() == N_GOOD  # the bad files never stopped the job


def test_dropping_a_folder_screens_it(make_window: Any, qtbot: Any, photos: Path) -> None:
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    w.dropEvent(event)
    assert event.isAccepted()
    wait_screening(qtbot, w)
    assert w.model.rowCount() == N_GOOD


def test_gui_screens_with_onnx_runtime_on_cpu(tmp_path: Path) -> None:
    """The model handle hands screening the session's predictor: ONNX Runtime on a CPU."""
    from desktop.services.model import load_active_model
    from engine.onnx_predictor import OnnxPredictor
    from engine.store import open_store

    with open_store(tmp_path / "db.sqlite") as store:
        handle = load_active_model(store, device="cpu")
        predictor = handle.predictor(batch_size=8)
    assert isinstance(predictor, OnnxPredictor) and predictor.batch_size == 8
    assert predictor.version == handle.version
