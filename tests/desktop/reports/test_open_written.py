"""A written report or export that no program opens: the clinician is told, and offered the
file's folder, instead of nothing happening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from desktop.shell import open_written as ow


@pytest.fixture()
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """QDesktopServices.openUrl fails for files and works for folders; the paths asked for."""
    asked: list[str] = []

    def open_url(url: Any) -> bool:
        asked.append(url.toLocalFile())
        return Path(url.toLocalFile()).is_dir()

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    return asked


def test_the_failure_message_names_the_file_its_folder_and_offers_it(
    qtbot: Any, tmp_path: Path
) -> None:
    box = ow.failure_box(None, tmp_path / "report.pdf")
    qtbot.addWidget(box)
    assert box.text() == "report.pdf was written, but it could not be opened."
    assert str(tmp_path) in box.informativeText()
    assert [b.text() for b in box.buttons() if b.text() == "Show in folder"]


def test_a_csv_that_does_not_open_offers_its_folder(
    qtbot: Any, screened_cases: Any, tmp_path: Path, opened: list[str], monkeypatch: Any
) -> None:
    from desktop.reports.export_dialog import ExportDialog

    asked: list[Path] = []
    monkeypatch.setattr(ow, "ask_show_in_folder", lambda _p, path: asked.append(path) or True)
    dialog = ExportDialog(screened_cases.store, run_id=screened_cases.run_id)
    qtbot.addWidget(dialog)
    assert not dialog.open_button.isEnabled()
    out = tmp_path / "out" / "cases.csv"
    out.parent.mkdir()
    with qtbot.waitSignal(dialog.exported, timeout=20_000):
        dialog.export_csv(out)
    assert dialog.open_button.isEnabled()
    dialog.open_button.click()
    assert asked == [out]  # told, and offered the folder
    assert opened == [str(out), str(out.parent)]  # the file failed; its folder was shown


def test_a_report_that_does_not_open_after_writing_is_reported(
    qtbot: Any, tmp_path: Path, opened: list[str], monkeypatch: Any
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    assert ow.open_written(None, pdf) is False
    assert shown == ["report.pdf was written, but it could not be opened."]
    assert opened == [str(pdf)]  # Close chosen: the folder is not opened
