"""The review panel inside the real main window: keys label and advance, undo/redo, overlay.

The panel itself is the "review" stream's (desktop/review_panel.py, tested in
test_review_panel.py); these tests check the main window's wiring around it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from tests.desktop.conftest import N_GOOD


def test_number_key_labels_saves_and_advances(screened_window: Any, qtbot: Any) -> None:
    w = screened_window
    w.gallery.select_row(0)
    first = w.model.item(0)
    assert w.review.current_item().sha256 == first.sha256
    w.gallery.setFocus()
    qtbot.keyClick(w.gallery, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: w.store.current_label(first.sha256) == "Chickenpox", timeout=20_000)
    # the window moved the gallery to the next image in the current order, and the panel follows
    qtbot.waitUntil(lambda: w.review.current_item().sha256 != first.sha256, timeout=10_000)
    assert w.gallery.current_item().sha256 == w.review.current_item().sha256
    qtbot.waitUntil(
        lambda: w.status.counts_label.text().endswith(f"1 reviewed · {N_GOOD - 1} to review"),
        timeout=10_000,
    )
    # the gallery tile of the labelled image now carries the reviewed mark
    qtbot.waitUntil(
        lambda: w.model.item(w.model.row_of(first.sha256)).current_label == "Chickenpox",
        timeout=10_000,
    )


def test_undo_and_redo_from_the_window(screened_window: Any, qtbot: Any) -> None:
    w = screened_window
    w.gallery.select_row(2)
    item = w.model.item(2)
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        w.review.label_current("Measles")
    assert w.store.current_label(item.sha256) == "Measles"
    w.gallery.select_row(w.model.row_of(item.sha256))
    qtbot.waitUntil(lambda: w.review.current_item().sha256 == item.sha256)
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        qtbot.keyClick(w.gallery, Qt.Key.Key_Z, ctrl)
    assert w.store.current_label(item.sha256) is None
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        qtbot.keyClick(w.gallery, Qt.Key.Key_Z, ctrl | shift)
    assert w.store.current_label(item.sha256) == "Measles"
    assert [e.kind for e in w.store.history(item.sha256)] == ["set", "undo", "redo"]
    # the gallery tile follows the store after the window's refresh
    qtbot.waitUntil(
        lambda: w.model.item(w.model.row_of(item.sha256)).current_label == "Measles",
        timeout=10_000,
    )


def test_overlay_shown_and_toggled_with_g(screened_window: Any, qtbot: Any) -> None:
    w = screened_window
    w.gallery.select_row(1)
    assert w.review.wait_idle(60_000)
    info = getattr(w.review, "info", w.review.status)  # the panel's Grad-CAM line
    qtbot.waitUntil(lambda: "Grad-CAM:" in info.text(), timeout=60_000)
    on = w.review.overlay_box.isChecked()
    qtbot.keyClick(w.gallery, Qt.Key.Key_G)
    assert w.review.overlay_box.isChecked() != on


def test_search_box_keeps_single_keys_as_text(screened_window: Any, qtbot: Any) -> None:
    w = screened_window
    w.gallery.select_row(0)
    item = w.model.item(0)
    w.focus_search()
    qtbot.keyClicks(w.filters.search, "img1")
    qtbot.wait(400)
    assert w.filters.search.text() == "img1"
    assert w.store.current_label(item.sha256) is None  # "1" typed, not a label


def _checked(w: Any) -> list[str]:
    bar = w.review.labels
    return [n for n in [*bar.classes(), "Refer"] if bar.button(n) and bar.button(n).isChecked()]


def test_undo_and_redo_from_another_photo_show_the_label_they_land_on(
    screened_window: Any, qtbot: Any
) -> None:
    """Undo from photo B lands on photo A: A's header and buttons show A's restored label, not
    the label the gallery's (not yet refreshed) row still carries; redo from B likewise."""
    w = screened_window
    w.gallery.select_row(1)
    a = w.model.item(1)
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        w.review.label_current("Measles")
    qtbot.waitUntil(lambda: w.review.current_item().sha256 != a.sha256, timeout=10_000)
    # the gallery's row of A has caught up with the label (the window's refresh)
    qtbot.waitUntil(
        lambda: w.model.item(w.model.row_of(a.sha256)).current_label == "Measles", timeout=10_000
    )
    b = w.review.current_item()
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        qtbot.keyClick(w.gallery, Qt.Key.Key_Z, ctrl)
    qtbot.waitUntil(lambda: w.review.current_item().sha256 == a.sha256, timeout=10_000)
    assert w.store.current_label(a.sha256) is None
    assert w.review.header.summary.text().startswith("Label: -")
    assert _checked(w) == []
    w.gallery.select_sha(b.sha256)
    qtbot.waitUntil(lambda: w.review.current_item().sha256 == b.sha256, timeout=10_000)
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        qtbot.keyClick(w.gallery, Qt.Key.Key_Z, ctrl | shift)
    qtbot.waitUntil(lambda: w.review.current_item().sha256 == a.sha256, timeout=10_000)
    assert w.store.current_label(a.sha256) == "Measles"
    assert w.review.header.summary.text().startswith("Label: Measles")
    assert _checked(w) == ["Measles"]


def test_undo_in_to_review_brings_back_the_photo_the_filter_had_dropped(
    screened_window: Any, qtbot: Any
) -> None:
    """Under "To review" a labelled photo leaves the gallery; undo from the next photo brings it
    back into the list and onto the review panel, unlabelled."""
    w = screened_window
    w.filters.set_show("to_review")
    qtbot.waitUntil(lambda: w.model.rowCount() == N_GOOD, timeout=10_000)
    w.gallery.select_row(0)
    a = w.model.item(0)
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        w.review.label_current("Measles")
    qtbot.waitUntil(lambda: w.model.row_of(a.sha256) < 0, timeout=10_000)
    qtbot.waitUntil(lambda: w.review.current_item() is not None, timeout=10_000)
    assert w.review.current_item().sha256 != a.sha256
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        qtbot.keyClick(w.gallery, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: (
            (w.review.current_item() or a).sha256 == a.sha256
            and w.review.current_item() is not None
        ),
        timeout=10_000,
    )
    assert w.gallery.current_item().sha256 == a.sha256
    assert w.review.header.summary.text().startswith("Label: -")
    assert _checked(w) == []
