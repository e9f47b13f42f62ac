"""The Case menu holds the per-photo actions: label, refer, note, forget, open the containing
folder, copy the SHA-256; each is disabled while no photo is on show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QDesktopServices, QGuiApplication

from desktop.review import case_actions


def _per_photo(w: Any) -> list[Any]:
    review = w.review.actions
    return [*review.label_actions, review.case.note, review.case.open_folder,
            review.case.copy_sha, w.care.forget]  # fmt: skip


def test_case_menu_lists_the_per_photo_actions(screened_window: Any) -> None:
    w = screened_window
    w.gallery.select_row(0)  # the label keys follow the classes of the model on show
    texts = [a.text() for a in w.menus.case_menu.actions() if not a.isSeparator()]
    assert texts[0] == "&Label"
    for wanted in ("Refer", "note", "Forget", "folder", "SHA-256", "Audit"):
        assert any(wanted in t for t in texts), (wanted, texts)
    labels = [a.text() for a in w.menus.label_menu.actions() if a.isVisible()]
    assert len(labels) == 4 and all(t.startswith("Label ") for t in labels)
    assert any("Measles" in t for t in labels)


def test_case_actions_need_a_photo_and_act_on_it(
    screened_window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = screened_window
    w.review.show_item(None)
    w.gallery.setCurrentIndex(w.model.index(-1, 0))
    w.care.update_enabled()
    assert not any(a.isEnabled() for a in _per_photo(w))
    w.gallery.select_row(0)
    item = w.review.current_item()
    assert all(a.isEnabled() for a in _per_photo(w))
    w.review.actions.case.copy_sha.trigger()
    assert QGuiApplication.clipboard().text() == item.sha256
    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True
    )
    w.review.actions.case.open_folder.trigger()
    assert [Path(p) for p in opened] == [Path(item.path).parent]
    warned: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    monkeypatch.setattr(
        case_actions.QMessageBox, "warning", lambda _p, _t, text: warned.append(text)
    )
    w.review.actions.case.open_folder.trigger()
    assert len(warned) == 1 and "Could not open the folder" in warned[0]
    assert str(Path(item.path).parent) in warned[0]
    w.review.actions.case.note.trigger()
    qtbot.waitUntil(lambda: w.review.note.hasFocus(), timeout=5000)
    measles = next(a for a in w.menus.label_menu.actions() if "Measles" in a.text())
    w.gallery.setFocus()
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        measles.trigger()
    assert w.store.current_label(item.sha256) == "Measles"
