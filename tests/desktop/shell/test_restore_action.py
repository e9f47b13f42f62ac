"""File > Restore case store...: the window closes its own connection, restores, reopens; a
store another process has open is refused, naming it, and the window carries on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.services import store as ea
from desktop.shell.restore_action import restored_text
from engine.store import Store
from tests.desktop.casefill import CASES
from tests.desktop.conftest import LABELLED


@pytest.fixture()
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every question answered Yes; information boxes recorded as (title, text)."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(
        QMessageBox, "information", lambda _p, title, text, *_a: shown.append((title, text))
    )
    return shown


def _restore(qtbot: Any, w: Any, folder: Path) -> None:
    w.menus.restore.restore(str(folder))
    qtbot.waitUntil(lambda: not w.menus.restore.running, timeout=60_000)


def test_restore_from_the_menu_replaces_the_store_and_reopens_it(
    filled_labelled: tuple[Any, dict[str, str]],
    qtbot: Any,
    answers: list[tuple[str, str]],
    tmp_path: Path,
) -> None:
    w, shas = filled_labelled
    assert w.menus.act_restore in w.menus.file_menu.actions()
    info = ea.backup_store(w.store, tmp_path)
    before = w.store
    ea.forget_case(w.store, shas[LABELLED[0]])  # after the backup: must stay forgotten

    _restore(qtbot, w, Path(info.folder))
    assert not w.test_reporter.reported
    assert w.store is not before  # reopened: gallery and active model follow the new store
    assert w.active.store is w.store
    qtbot.waitUntil(lambda: w.model.rowCount() == len(CASES), timeout=10_000)
    assert shas[LABELLED[0]] in w.store.forgotten_hashes()
    [(title, text)] = answers
    assert title == "Backup restored" and "kept as" in text and "1 photo forgotten" in text


def test_restore_is_refused_while_another_process_has_the_store_open(
    filled_labelled: tuple[Any, dict[str, str]],
    qtbot: Any,
    answers: list[tuple[str, str]],
    tmp_path: Path,
    desk_env: Path,
) -> None:
    w, _ = filled_labelled
    info = ea.backup_store(w.store, tmp_path)
    before = (desk_env / "case.db").read_bytes()
    with Store.open(desk_env / "case.db", kind="a screening (poxscreen screen)"):
        _restore(qtbot, w, Path(info.folder))
    [(what, reason)] = w.test_reporter.reported
    assert "could not be restored" in what and "a screening (poxscreen screen)" in reason
    assert (desk_env / "case.db").read_bytes() == before
    assert w.store.stats().screened == len(CASES)  # the window works on, reopened
    assert not answers


def test_restored_text_says_where_the_old_database_went() -> None:
    text = restored_text(ea.Restored("/data/case.db", "/data/case.db.before-restore-x", 0))
    assert "/data/case.db.before-restore-x" in text and "forgotten" not in text
