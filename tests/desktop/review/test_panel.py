"""The review panel driven like a clinician would: keys, overlay, opacity, labels, undo/redo."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QListWidget, QWidget

from desktop.review.image_view import ImageView
from desktop.review.panel import ReviewPanel
from tests.desktop.review_support import (
    WHO,
    GatedExplainer,
    make_panel,
    screen_folder,
    skin_photo,
    view_pixels,
    wait_loaded,
    wait_pool,
)


def _changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 8).mean())


def test_show_item_and_toggle_overlay_with_g(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    panel.show_item(item)
    wait_loaded(qtbot, panel)
    assert panel.title.text() == "lesion0.png"
    assert panel.chart.probabilities() == item.probabilities
    with_overlay = view_pixels(panel)
    qtbot.keyClick(panel.view, Qt.Key.Key_G)
    assert not panel.overlay_box.isChecked() and not panel.actions.overlay.isChecked()
    without = view_pixels(panel)
    assert _changed_fraction(with_overlay, without) > 0.2  # the heat layer covers the photo
    qtbot.keyClick(panel.view, Qt.Key.Key_G)
    assert np.array_equal(view_pixels(panel), with_overlay)


def test_opacity_slider_recomposites_without_recomputing(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(review_env.items[1])
    wait_loaded(qtbot, panel)
    calls = review_env.explainer.calls
    panel.opacity.setValue(10)
    faint = view_pixels(panel)
    panel.opacity.setValue(90)
    strong = view_pixels(panel)
    assert panel.opacity_value.text() == "90%"
    assert _changed_fraction(faint, strong) > 0.2
    assert review_env.explainer.calls == calls == 1


def test_number_key_labels_saves_and_asks_for_next(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    panel.show_item(item)
    events = []
    panel.labelled.connect(lambda sha, label: events.append(("labelled", sha, label)))
    panel.navigate.connect(lambda where: events.append(("navigate", where)))
    with qtbot.waitSignal(panel.navigate, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_2)
    assert events == [("labelled", item.sha256, "Measles"), ("navigate", "next")]
    assert review_env.store.current_label(item.sha256) == "Measles"
    (entry,) = review_env.store.history(item.sha256)
    assert (entry.kind, entry.label, entry.who) == ("set", "Measles", WHO)
    wait_pool(panel, qtbot, lambda: panel.history.texts()[0].startswith("Measles — "))
    assert panel.labels.button("Measles").isChecked()
    assert ("differs from the model" in panel.summary.text()) is (item.top_class != "Measles")
    first, second = panel.history.texts()[0].splitlines()
    assert WHO in first  # and the prediction on screen then:
    assert second == f"model said {item.top_class} {item.confidence:.2f} (testmodel)"


def test_refer_key_saves_note_typed_before(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[2]
    panel.show_item(item)
    panel.note.setFocus()
    qtbot.waitUntil(panel.note.hasFocus)
    qtbot.keyClicks(panel.note, "ask derm")
    qtbot.keyClick(panel.note, Qt.Key.Key_Escape)
    assert not panel.note.hasFocus()
    with qtbot.waitSignal(panel.labelled, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_R)
    (entry,) = review_env.store.history(item.sha256)
    assert (entry.label, entry.note) == ("refer", "ask derm")
    assert panel.note.text() == ""


def test_undo_and_redo_are_recorded_as_events(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    panel.show_item(item)
    store = review_env.store
    for key, expected in [
        (Qt.Key.Key_1, "Chickenpox"),
        (Qt.Key.Key_4, "Normal"),
    ]:
        with qtbot.waitSignal(panel.labelled, timeout=10_000):
            qtbot.keyClick(panel.view, key)
        assert store.current_label(item.sha256) == expected
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(panel.labelled, timeout=10_000) as undone:
        qtbot.keyClick(panel.view, Qt.Key.Key_Z, ctrl)
    assert undone.args == [item.sha256, "Chickenpox"]
    with qtbot.waitSignal(panel.labelled, timeout=10_000) as redone:
        qtbot.keyClick(panel.view, Qt.Key.Key_Z, ctrl | shift)
    assert redone.args == [item.sha256, "Normal"]
    kinds = [(e.kind, e.label_after) for e in store.history(item.sha256)]
    assert kinds == [
        ("set", "Chickenpox"),
        ("set", "Normal"),
        ("undo", "Chickenpox"),
        ("redo", "Normal"),
    ]
    assert panel.labels.button("Normal").isChecked()


def test_single_keys_off_while_the_note_has_focus(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    panel.show_item(item)
    panel.note.setFocus()
    qtbot.waitUntil(panel.note.hasFocus)
    navigated = []
    panel.navigate.connect(navigated.append)
    for key in (Qt.Key.Key_1, Qt.Key.Key_G, Qt.Key.Key_R, Qt.Key.Key_Space, Qt.Key.Key_N):
        qtbot.keyClick(panel.note, key)
    wait_pool(panel, qtbot)
    assert panel.note.text().upper() == "1GR N"
    assert review_env.store.history(item.sha256) == []
    assert navigated == [] and panel.overlay_box.isChecked()
    assert not any(a.isEnabled() for a in panel.review_actions() if a.property("single_key"))
    assert all(a.isEnabled() for a in panel.review_actions() if not a.property("single_key"))
    panel.view.setFocus()
    qtbot.waitUntil(panel.view.hasFocus)
    with qtbot.waitSignal(panel.navigate, timeout=5000) as nav:
        qtbot.keyClick(panel.view, Qt.Key.Key_U)
    assert nav.args == ["unreviewed"]


def test_navigation_keys(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(review_env.items[0])
    seen = []
    panel.navigate.connect(seen.append)
    for key in (Qt.Key.Key_Space, Qt.Key.Key_Backspace, Qt.Key.Key_U, Qt.Key.Key_N):
        qtbot.keyClick(panel.view, key)
    assert seen == ["next", "prev", "unreviewed", "uncertain"]


def test_empty_state_and_missing_file(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(None)
    assert panel.title.text() == "No image selected"
    assert not any(a.isEnabled() for a in panel.review_actions()[:5])
    qtbot.keyClick(panel.view, Qt.Key.Key_1)  # nothing to label: no crash, nothing written
    item = review_env.items[1]
    (review_env.folder / "lesion1.png").unlink()
    panel.show_item(item)
    qtbot.waitUntil(lambda: "file not found" in panel.info.text(), timeout=10_000)
    assert not panel.view.has_photo() and not panel.view.has_heat()


def test_fit_and_actual_size(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(review_env.items[0])
    wait_loaded(qtbot, panel)
    qtbot.keyClick(panel.view, Qt.Key.Key_0)
    assert abs(panel.view.scale_factor() - 1.0) < 1e-6
    panel.view.zoom_by(2.0)
    assert abs(panel.view.scale_factor() - 2.0) < 1e-6
    qtbot.keyClick(panel.view, Qt.Key.Key_F)
    viewport = panel.view.viewport().size()
    shown = panel.view.mapFromScene(panel.view.sceneRect()).boundingRect()
    assert shown.width() <= viewport.width() + 2 and shown.height() <= viewport.height() + 2
    assert max(shown.width() / viewport.width(), shown.height() / viewport.height()) > 0.9


def test_actions_have_shortcuts_and_tooltips(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    keys = {a.shortcut().toString() for a in panel.review_actions()}
    expected = {
        "1",
        "2",
        "3",
        "4",
        "R",
        "G",
        "Space",
        "Backspace",
        "U",
        "N",
        "F",
        "0",
        "Ctrl+Z",
        "Ctrl+Shift+Z",
        "F11",
    }
    assert expected <= keys
    for action in panel.review_actions():
        assert action.shortcut().toString() in action.toolTip()
    assert "(3)" in panel.labels.button("Monkeypox").toolTip()


def test_stale_answers_for_a_previous_item_are_dropped(qtbot, review_env) -> None:
    items, folder = review_env.items, review_env.folder
    colours = {"lesion0.png": (0, 255, 0), "lesion1.png": (0, 0, 255), "lesion2.png": (255, 0, 0)}
    gated = GatedExplainer(colours, gated=["lesion0.png", "lesion2.png"])
    review_env.services.explainer = lambda: gated
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(items[0])
    assert gated.entered["lesion0.png"].wait(10)  # Grad-CAM for lesion0 is running...
    panel.show_item(items[1])  # ...when the clinician moves on, and on again
    panel.show_item(items[2])
    qtbot.waitUntil(panel.view.has_photo, timeout=10_000)
    expected = QImage(str(folder / "lesion2.png")).convertToFormat(QImage.Format.Format_RGB888)
    assert panel.view.photo_image().convertToFormat(QImage.Format.Format_RGB888) == expected
    gated.release["lesion0.png"].set()  # lesion0's overlay arrives late...
    assert gated.entered["lesion2.png"].wait(10)
    qtbot.waitUntil(lambda: panel.stale_dropped >= 1, timeout=5000)
    qtbot.wait(100)
    assert not panel.view.has_heat()  # ...and is never laid over lesion2
    gated.release["lesion2.png"].set()
    wait_pool(panel, qtbot, panel.view.has_heat)
    heat = panel.view.heat_image()
    colour = heat.pixelColor(heat.width() // 2, heat.height() // 2)
    assert (colour.red(), colour.green(), colour.blue()) == colours["lesion2.png"]
    assert panel.title.text() == "lesion2.png"
    assert gated.calls == ["lesion0.png", "lesion2.png"]  # lesion1's was skipped unstarted


HIDPI_SCRIPT = """
from PySide6.QtGui import QImage, QColor
from PySide6.QtWidgets import QApplication
from desktop.review.image_view import ImageView
app = QApplication([])
view = ImageView()
view.resize(400, 300)
view.show()
image = QImage(200, 160, QImage.Format.Format_RGB888)
image.fill(QColor("#D55E00"))
view.set_photo(image)
view.actual_size()
shown = view.mapFromScene(view.sceneRect()).boundingRect()
print(view.devicePixelRatioF(), view.scale_factor(), shown.width(), shown.height())
"""


def test_actual_size_is_one_photo_pixel_per_device_pixel_on_high_dpi(tmp_path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    out = subprocess.run(
        [sys.executable, "-c", HIDPI_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert out.returncode == 0, out.stderr
    dpr, scale, width, height = (float(v) for v in out.stdout.split())
    assert dpr == 2.0 and scale == pytest.approx(1.0)
    assert (width, height) == pytest.approx((100, 80), abs=1)  # logical px: 200 x 160 device px


def test_keys_work_from_elsewhere_in_the_window_but_not_in_a_search_field(
    qtbot, review_env
) -> None:
    window = QWidget()
    gallery, search = QListWidget(window), QLineEdit(window)
    panel = ReviewPanel(review_env.services, window)
    layout = QHBoxLayout(window)
    for widget in (gallery, search, panel):
        layout.addWidget(widget)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    item = review_env.items[0]
    panel.show_item(item)
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClick(search, Qt.Key.Key_3)
    wait_pool(panel, qtbot)
    assert search.text() == "3" and review_env.store.history(item.sha256) == []
    gallery.setFocus()
    qtbot.waitUntil(gallery.hasFocus)
    with qtbot.waitSignal(panel.labelled, timeout=10_000):
        qtbot.keyClick(gallery, Qt.Key.Key_3)
    assert review_env.store.current_label(item.sha256) == "Monkeypox"
    wait_pool(panel, qtbot)


def test_f11_detaches_the_panel_and_puts_it_back(qtbot, review_env) -> None:
    window = QWidget()
    panel = ReviewPanel(review_env.services, window)
    QHBoxLayout(window).addWidget(panel)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    detach = next(a for a in panel.review_actions() if a.shortcut().toString() == "F11")
    detach.trigger()
    assert panel.isWindow() and panel.isVisible() and panel.parentWidget() is window
    detach.trigger()
    assert not panel.isWindow() and panel.isVisible()


def test_referral_and_quality_marks_are_shown_when_present(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    marked = dataclasses.replace(item, out_of_scope=True, quality_issues="blurry")
    panel.show_item(marked)
    wait_pool(panel, qtbot)
    text = panel.flags.text()
    assert "Refer" in text and "Out of scope" in text and "blurry" in text
    panel.show_item(item)
    wait_pool(panel, qtbot)
    expected = review_env.store.referral_rule().flags(item.probabilities)
    assert ("⚑ Refer:" in panel.flags.text()) is expected
    assert panel.flags.isVisible() is bool(panel.flags.text())


def test_undo_with_nothing_to_undo_says_so_and_keys_still_work(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[1]
    panel.show_item(item)
    emitted = []
    panel.labelled.connect(lambda *args: emitted.append(args))
    qtbot.keyClick(panel.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "nothing to undo" in panel.status.text(), timeout=10_000)
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(panel.view, Qt.Key.Key_Z, redo)
    qtbot.waitUntil(lambda: "nothing to redo" in panel.status.text(), timeout=10_000)
    assert emitted == [] and review_env.store.history(item.sha256) == []
    with qtbot.waitSignal(panel.labelled, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_1)
    assert review_env.store.current_label(item.sha256) == "Chickenpox"


def test_large_photo_paints_a_quick_preview_then_full_resolution(
    qtbot, review_env, review_model, tmp_path
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    skin_photo(folder / "big.jpg", seed=9, size=(3200, 2400))
    items = screen_folder(review_env.store, review_model, folder)
    (item,) = [i for i in items if i.path.endswith("big.jpg")]
    panel = make_panel(qtbot, review_env.services)
    shown = []
    for name in ("set_photo", "upgrade_photo"):
        original = getattr(panel.view, name)

        def record(image, n=name, f=original):  # noqa: ANN001, ANN202
            shown.append((n, image.width()))
            return f(image)

        setattr(panel.view, name, record)
    panel.show_item(item)
    wait_pool(panel, qtbot, lambda: panel.view.photo_image().width() == 3200)
    wait_loaded(qtbot, panel)
    assert shown == [("set_photo", 1600), ("upgrade_photo", 3200)]
    heat = panel.view._heat.sceneBoundingRect()
    assert (heat.width(), heat.height()) == (3200, 2400)


def test_upgrading_the_photo_keeps_what_is_on_screen(qtbot) -> None:
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    small = QImage(800, 600, QImage.Format.Format_RGB888)
    small.fill(Qt.GlobalColor.darkRed)
    view.set_photo(small)
    view.actual_size()
    view.centerOn(200, 150)
    before = view.mapToScene(view.viewport().rect().center())
    large = small.scaled(1600, 1200)
    view.upgrade_photo(large)
    after = view.mapToScene(view.viewport().rect().center())
    assert view.scale_factor() == pytest.approx(0.5)
    assert (after.x(), after.y()) == pytest.approx((before.x() * 2, before.y() * 2), abs=2)


def test_colormap_change_recolours_without_recomputing(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(review_env.items[0])
    wait_loaded(qtbot, panel)
    before = panel.view.heat_image()
    panel.set_colormap("viridis")
    wait_pool(panel, qtbot, lambda: panel.view.heat_image() != before)
    assert review_env.explainer.calls == 1
    assert review_env.services.colormap == "viridis"


def test_showing_the_same_image_again_keeps_its_grad_cam(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    panel.show_item(item)
    wait_loaded(qtbot, panel)
    review_env.store.label(item.sha256, "Normal", who="Dr Other")
    refreshed = dataclasses.replace(item, current_label="Normal")
    panel.show_item(refreshed)
    wait_pool(panel, qtbot, lambda: "Dr Other" in panel.history.texts()[0])
    assert panel.labels.button("Normal").isChecked() and panel.view.has_heat()
    assert review_env.explainer.calls == 1


def test_plus_and_minus_zoom(qtbot, review_env) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(review_env.items[0])
    wait_loaded(qtbot, panel)
    qtbot.keyClick(panel.view, Qt.Key.Key_0)
    qtbot.keyClick(panel.view, Qt.Key.Key_Plus)
    assert panel.view.scale_factor() == pytest.approx(1.25)
    qtbot.keyClick(panel.view, Qt.Key.Key_Minus)
    qtbot.keyClick(panel.view, Qt.Key.Key_Minus)
    assert panel.view.scale_factor() == pytest.approx(0.8)


def test_ctrl_z_after_auto_advance_undoes_the_label_just_given(qtbot, review_env) -> None:
    """Labelling advances at once, so "undo the last label" must reach the previous image."""
    panel = make_panel(qtbot, review_env.services)
    first, second = review_env.items[0], review_env.items[1]
    panel.navigate.connect(lambda where: panel.show_item(second) if where == "next" else None)
    panel.show_item(first)
    with qtbot.waitSignal(panel.navigate, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_4)
    assert panel.current_item() is second
    ctrl = Qt.KeyboardModifier.ControlModifier
    heard = []
    panel.labelled.connect(lambda sha, label: heard.append(("labelled", sha, label)))
    panel.reveal.connect(lambda sha: heard.append(("reveal", sha)))
    with qtbot.waitSignal(panel.reveal, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_Z, ctrl)
    assert heard == [("labelled", first.sha256, ""), ("reveal", first.sha256)]
    assert review_env.store.current_label(first.sha256) is None
    assert review_env.store.history(second.sha256) == []
    assert "lesion0.png" in panel.status.text()
    with qtbot.waitSignal(panel.labelled, timeout=10_000) as redone:
        qtbot.keyClick(panel.view, Qt.Key.Key_Z, ctrl | Qt.KeyboardModifier.ShiftModifier)
    assert redone.args == [first.sha256, "Normal"]
    assert [e.kind for e in review_env.store.history(first.sha256)][:2] == ["set", "undo"]
    assert review_env.store.current_label(first.sha256) == "Normal"


def test_the_photo_goes_ahead_of_background_work_on_the_shared_pool(qtbot, review_env) -> None:
    pool = review_env.services.pool
    pool.setMaxThreadCount(1)
    panel = make_panel(qtbot, review_env.services)
    gate, done = threading.Event(), []
    pool.start(lambda: gate.wait(10))  # the one thread is busy...
    for i in range(20):  # ...and the gallery has queued thumbnails at the default priority
        pool.start(lambda i=i: (time.sleep(0.02), done.append(i)))
    panel.show_item(review_env.items[0])
    gate.set()
    qtbot.waitUntil(panel.view.has_photo, timeout=20_000)
    assert len(done) < 20
    wait_pool(panel, qtbot)
