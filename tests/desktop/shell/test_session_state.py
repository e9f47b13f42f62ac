"""What a clinician set is there again after a restart: filter, sort, run, current photo,
clinic name, and the folder each kind of file dialog last used (never the program's folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog

from desktop.shell import file_dialogs

ROOT = Path(__file__).resolve().parents[3]


def test_filter_sort_run_and_photo_come_back_after_a_restart(
    filled: tuple[Any, dict[str, str]], make_window: Any, qtbot: Any
) -> None:
    w, shas = filled
    run_id = w.store.runs()[0].id
    w.filters.select_run(run_id)
    w.filters.set_class("Monkeypox")
    w.filters.set_sort("name")
    w.filters.set_show("to_review")
    qtbot.waitUntil(lambda: w.model.rowCount() == 2, timeout=10_000)  # delta and echo
    assert w.gallery.select_sha(shas["echo.png"])
    qtbot.waitUntil(lambda: w.review.current_item() is not None, timeout=5000)
    w.settings.clinic = "Kisangani health centre"
    w.close()

    w2 = make_window()
    q = w2.filters.query()
    assert (q.predicted_class, q.sort, q.show) == ("Monkeypox", "name", "to_review")
    qtbot.waitUntil(lambda: w2.filters.query().run_id == run_id, timeout=10_000)
    qtbot.waitUntil(lambda: w2.review.current_item() is not None, timeout=10_000)
    assert w2.review.current_item().sha256 == shas["echo.png"]
    qtbot.waitUntil(lambda: w2.gallery.current_item() is not None, timeout=10_000)
    assert w2.gallery.current_item().sha256 == shas["echo.png"]
    assert w2.settings.clinic == "Kisangani health centre"


def test_a_first_start_shows_everything_with_nothing_selected(
    filled: tuple[Any, dict[str, str]],
) -> None:
    w, _shas = filled
    q = w.filters.query()
    assert (q.run_id, q.predicted_class, q.sort, q.show) == (None, None, "uncertain", "all")
    assert w.gallery.current_item() is None


def test_no_file_dialog_is_opened_outside_the_one_helper() -> None:
    """Every dialog goes through desktop.shell.file_dialogs (so none starts in the cwd)."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "desktop").rglob("*.py")
        if p.name != "file_dialogs.py" and "QFileDialog" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


@pytest.fixture()
def dialogs_seen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[list[str], dict[str, str]]:
    """QFileDialog replaced: records the folder each dialog starts in, answers from a dict."""
    seen: list[str] = []
    answer: dict[str, str] = {}

    def fake_file(_parent: Any, _caption: str, start: str, *_a: Any, **_kw: Any) -> tuple:
        seen.append(start)
        return answer.get("path", ""), ""

    def fake_dir(_parent: Any, _caption: str, start: str, *_a: Any, **_kw: Any) -> str:
        seen.append(start)
        return answer.get("path", "")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_file)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_file)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", fake_dir)
    monkeypatch.chdir(tmp_path)  # the program's folder: no dialog may start here
    return seen, answer


def test_dialogs_start_in_documents_then_in_the_folder_last_used_for_that_kind(
    dialogs_seen: tuple[list[str], dict[str, str]], tmp_path: Path
) -> None:
    from desktop.settings import Settings

    seen, answer = dialogs_seen
    settings = Settings(tmp_path / "settings.ini")
    file_dialogs.use_settings(settings)
    try:
        file_dialogs.save_file(None, "report", "Save the report", "report.pdf", "PDF (*.pdf)")
        file_dialogs.choose_folder(None, "screening", "Screen a folder")
        assert seen[0] == os.path.join(file_dialogs.default_folder(), "report.pdf")
        assert seen[1] == file_dialogs.default_folder()
        assert all(not s.startswith(os.getcwd()) for s in seen)
        reports, photos = tmp_path / "reports", tmp_path / "photos"
        reports.mkdir(), photos.mkdir()
        answer["path"] = str(reports / "visit.pdf")
        assert file_dialogs.save_file(None, "report", "Save", "r.pdf") == answer["path"]
        answer["path"] = str(photos)
        file_dialogs.choose_folder(None, "screening", "Screen a folder")
        seen.clear()
        # a new session on the same settings file: each kind starts where it was left
        file_dialogs.use_settings(Settings(tmp_path / "settings.ini"))
        file_dialogs.save_file(None, "report", "Save the report", "report.pdf")
        file_dialogs.choose_folder(None, "screening", "Screen a folder")
        file_dialogs.save_file(None, "csv", "Export CSV", "cases.csv")
        assert seen == [
            str(reports / "report.pdf"),
            str(photos),
            os.path.join(file_dialogs.default_folder(), "cases.csv"),
        ]
        photos.rmdir()  # a remembered folder gone: back to Documents
        seen.clear()
        file_dialogs.choose_folder(None, "screening", "Screen a folder")
        assert seen == [file_dialogs.default_folder()]
    finally:
        file_dialogs.use_settings(None)


def test_the_windows_own_dialogs_start_in_the_remembered_folder(
    make_window: Any, dialogs_seen: tuple[list[str], dict[str, str]], tmp_path: Path
) -> None:
    seen, _answer = dialogs_seen
    w = make_window()
    w.settings.set_last_folder("screening", str(tmp_path))
    w.settings.set_last_folder("database", str(tmp_path / "data"))
    w.screen_folder()  # cancelled
    w.dialogs.choose_database()  # cancelled
    w.dialogs.export()
    w.dialogs.export_dialog._csv_clicked()
    w.dialogs.export_dialog.close()
    assert seen[:2] == [str(tmp_path), str(tmp_path / "data")]
    assert seen[2] == os.path.join(file_dialogs.default_folder(), "cases.csv")
