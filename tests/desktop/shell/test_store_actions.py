"""Forget a photo, back up and check the case store, driven through the real window's actions."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.gallery.model import GalleryModel
from desktop.gallery.thumbnails import FORGOTTEN
from desktop.shell import store_actions
from engine.store import Store
from tests.desktop.casefill import CASES
from tests.desktop.conftest import LABELLED


@pytest.fixture()
def boxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """QMessageBox.information / warning calls as (kind, title, text), answered at once."""
    shown: list[tuple[str, str, str]] = []
    for kind in ("information", "warning"):

        def fake(_parent: Any, title: str, text: str, *_a: Any, kind: str = kind) -> Any:
            shown.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        monkeypatch.setattr(QMessageBox, kind, fake)
    return shown


def idle(qtbot: Any, w: Any) -> None:
    qtbot.waitUntil(lambda: w.care.busy is None, timeout=60_000)


def choose_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(folder))


# --- the menus -----------------------------------------------------------------------------


def test_actions_are_in_the_menus_and_context_menus(
    filled_labelled: tuple[Any, dict[str, str]],
) -> None:
    w, _ = filled_labelled
    care = w.care
    file_menu = [a.text() for a in w.menus.file_menu.actions()]
    at = file_menu.index(w.menus.act_open_db.text())
    assert file_menu[at + 1 : at + 3] == ["&Back up case store...", "C&heck case store"]
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles.index("&Case") == titles.index("&Review") + 1
    shown = [a for a in w.menus.case_menu.actions() if not a.isSeparator()]
    kept = [care.forget, w.visit_actions.assign, w.menus.act_audit]  # among the per-photo ones
    assert [a for a in shown if a in kept] == kept
    assert care.forget in w.gallery.actions()
    assert care.forget in w.review.view.actions()
    assert not care.forget.isEnabled()  # nothing selected yet
    w.gallery.select_row(0)
    assert care.forget.isEnabled()


def test_forget_confirmation_says_what_goes_and_what_stays(make_window: Any) -> None:
    w = make_window()
    box, forget = store_actions.forget_box(w, "Jane <Doe>.png")
    text = box.informativeText()
    assert "Jane &lt;Doe&gt;.png" in box.text()
    for words in ("copy of the photo", "thumbnails", "previews", "name and folder"):
        assert words in text
    assert "Kept:" in text and "label history" in text
    assert "cannot be undone" in text
    assert box.defaultButton() is not forget and box.escapeButton() is not forget
    assert forget.text() == "Forget photo"


# --- forget --------------------------------------------------------------------------------


def select(qtbot: Any, w: Any, sha: str) -> None:
    assert w.gallery.select_row(w.model.row_of(sha))
    qtbot.waitUntil(lambda: w.review.current_item() is not None, timeout=10_000)
    assert w.review.current_item().sha256 == sha


def test_forget_removes_copy_and_thumbnails_and_the_gallery_follows(
    filled_labelled: tuple[Any, dict[str, str]], qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, shas = filled_labelled
    sha, other = shas["charlie.png"], shas["delta.png"]
    copy = w.store.images.path(w.store.image(sha).stored_path)
    other_copy = w.store.images.path(w.store.image(other).stored_path)
    assert copy.is_file() and other_copy.is_file()
    thumb = w.thumbs.cache.file_for(sha, w.thumbs.size)
    qtbot.waitUntil(thumb.is_file, timeout=20_000)  # the gallery painted its tile
    qtbot.waitUntil(lambda: w.thumbs.pixmap(sha, None) is not None, timeout=10_000)
    select(qtbot, w, sha)
    asked: list[str] = []
    monkeypatch.setattr(
        store_actions, "confirm_forget", lambda _parent, name: asked.append(name) or True
    )

    w.care.forget.trigger()
    assert asked == ["charlie.png"]
    idle(qtbot, w)

    record = w.store.image(sha)
    assert record.stored_path is None and record.path is None
    assert not copy.exists() and other_copy.is_file()
    assert not list(thumb.parent.glob(f"{sha}*"))
    assert w.thumbs.pixmap(sha, None) is None
    assert [e.label for e in w.store.history(sha)] == ["Measles"]  # the audit trail stays
    # the gallery re-reads the row: no file, no thumbnail, the tile says why
    qtbot.waitUntil(lambda: w.model.item(w.model.row_of(sha)).path is None, timeout=10_000)
    index = w.model.index(w.model.row_of(sha))
    assert index.data(GalleryModel.ThumbErrorRole) == FORGOTTEN
    assert w.model.rowCount() == len(CASES)  # the case itself is still listed
    # the panel shows the case again, without its photo
    qtbot.waitUntil(lambda: w.review.current_item() is not None, timeout=10_000)
    assert w.review.current_item().path is None
    qtbot.waitUntil(lambda: "forgotten" in w.review.info.text(), timeout=10_000)
    assert "Forgot charlie.png" in w.statusBar().currentMessage()
    assert not w.test_reporter.reported


def test_forget_cancelled_changes_nothing(
    filled_labelled: tuple[Any, dict[str, str]], qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, shas = filled_labelled
    sha = shas["delta.png"]
    select(qtbot, w, sha)
    monkeypatch.setattr(store_actions, "confirm_forget", lambda _parent, _name: False)
    w.care.forget.trigger()
    assert w.care.busy is None
    record = w.store.image(sha)
    assert record.path is not None and w.store.images.path(record.stored_path).is_file()
    assert w.review.current_item().sha256 == sha


# --- backup --------------------------------------------------------------------------------


def test_backup_writes_a_store_that_opens_with_the_same_cases(
    filled_labelled: tuple[Any, dict[str, str]],
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    boxes: list[tuple[str, str, str]],
    tmp_path: Path,
) -> None:
    w, shas = filled_labelled
    dest = tmp_path / "usb"
    dest.mkdir()
    choose_folder(monkeypatch, dest)
    w.care.backup.trigger()
    assert w.care.busy is not None and not w.care.backup.isEnabled()
    idle(qtbot, w)

    [folder] = dest.glob("poxscreen-backup-*")
    assert json.loads((folder / "backup.json").read_text())["images"] == len(LABELLED)
    assert len([f for f in (folder / "images").rglob("*") if f.is_file()]) == len(LABELLED)
    with Store.open(
        folder / "poxscreen.db", create=False, image_root=folder / "images"
    ) as copy:  # the backup's image copies are in its images/ folder
        assert copy.check() == []
        assert copy.stats().screened == len(CASES) == w.store.stats().screened
        assert sorted(i.sha256 for i in copy.labelled_images()) == sorted(shas[n] for n in LABELLED)
    [(kind, title, text)] = boxes
    assert (kind, title) == ("information", "Backup written")
    assert str(folder) in text and f"{len(LABELLED)} image copies" in text
    assert "poxscreen restore" in text
    assert w.care.backup.isEnabled()
    assert not w.test_reporter.reported


def test_backup_cancelled_in_the_folder_dialog_does_nothing(
    filled_labelled: tuple[Any, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    boxes: list[tuple[str, str, str]],
) -> None:
    w, _ = filled_labelled
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: "")
    w.care.backup.trigger()
    assert w.care.busy is None and not boxes and not w.test_reporter.reported


def reported_dialog(qtbot: Any, w: Any) -> Any:
    qtbot.waitUntil(lambda: bool(w.test_reporter.dialogs), timeout=10_000)
    return w.test_reporter.dialogs[-1]


def test_backup_to_a_missing_folder_says_which_and_why(
    filled_labelled: tuple[Any, dict[str, str]],
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    boxes: list[tuple[str, str, str]],
    tmp_path: Path,
) -> None:
    w, _ = filled_labelled
    gone = tmp_path / "unplugged-usb"
    choose_folder(monkeypatch, gone)
    w.care.backup.trigger()
    idle(qtbot, w)
    assert not gone.exists()  # never made on this computer instead
    [(what, reason)] = w.test_reporter.reported
    assert str(gone) in what and "does not exist" in reason
    box = reported_dialog(qtbot, w)
    assert "does not exist" in box.informativeText()
    assert "Traceback" not in box.detailedText()
    assert not boxes  # no "Backup written"


def test_backup_onto_a_full_disk_says_so(
    filled_labelled: tuple[Any, dict[str, str]],
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    boxes: list[tuple[str, str, str]],
    tmp_path: Path,
) -> None:
    import engine.store.backup as backup

    w, _ = filled_labelled

    def full(*_a: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backup, "_copy_hashed", full)
    dest = tmp_path / "small-usb"
    dest.mkdir()
    choose_folder(monkeypatch, dest)
    w.care.backup.trigger()
    idle(qtbot, w)
    [(what, reason)] = w.test_reporter.reported
    assert str(dest) in what
    assert "the disk is full" in reason and str(dest) in reason
    assert "Traceback" not in reported_dialog(qtbot, w).detailedText()
    assert not boxes


# --- check ---------------------------------------------------------------------------------


def test_check_a_healthy_store(
    filled_labelled: tuple[Any, dict[str, str]], qtbot: Any, boxes: list[tuple[str, str, str]]
) -> None:
    w, _ = filled_labelled
    w.care.check.trigger()
    idle(qtbot, w)
    [(kind, title, text)] = boxes
    assert (kind, title) == ("information", "Case store checked")
    assert "No problems found" in text and w.store.location in text


def _damage_an_index(db: Path) -> None:
    """Zero the root page of an index: the tables still read, the integrity check fails."""
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute(
        "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions'"
    ).fetchone()[0]
    con.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x00" * page_size)


def test_check_a_damaged_copy_lists_problems_and_what_to_do(
    filled_labelled: tuple[Any, dict[str, str]],
    qtbot: Any,
    boxes: list[tuple[str, str, str]],
    tmp_path: Path,
) -> None:
    from desktop.services import store as ea

    w, _ = filled_labelled
    info = ea.backup_store(w.store, tmp_path)  # a self-contained copy to damage
    damaged = Path(info.folder) / "poxscreen.db"
    _damage_an_index(damaged)
    healthy, bad = w.store, Store.open(damaged, create=False)
    try:
        w.cases.store = bad
        w.care.check.trigger()
        idle(qtbot, w)
    finally:
        w.cases.store = healthy
        bad.close()
    [(kind, title, text)] = boxes
    assert (kind, title) == ("warning", "Case store damaged")
    assert str(damaged) in text and "• " in text
    assert "restore your latest backup" in text and "poxscreen restore" in text
