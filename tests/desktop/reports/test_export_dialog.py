"""Export dialog: the current run or filter as CSV (checked row by row), labelled images as class
folders, and the printed report (a PDF that parses, with every image)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def _dialog(qtbot: Any, sc: Any, **kw: Any) -> Any:
    from desktop.reports.export_dialog import ExportDialog

    dialog = ExportDialog(sc.store, **kw)
    qtbot.addWidget(dialog)
    return dialog


def test_csv_of_run_and_of_filter(qtbot: Any, screened_cases: Any, tmp_path: Path) -> None:
    from engine.store import ReviewFilter

    flt = ReviewFilter(run_id=screened_cases.run_id, reviewed=True)
    dialog = _dialog(qtbot, screened_cases, run_id=screened_cases.run_id, flt=flt)
    out = tmp_path / "run.csv"
    with qtbot.waitSignal(dialog.exported, timeout=20_000):
        dialog.export_csv(out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 6  # 5 photos + the unreadable file
    first = next(r for r in rows if r["path"] == str(screened_cases.photos[0]))
    assert (first["label"], first["label_who"], first["label_note"]) == (
        "Measles",
        "dr a",
        "checked twice",
    )
    assert first["label_at"] and first["predicted_class"] == "Chickenpox"
    assert "6 rows" in dialog.status.text()

    dialog.filter_choice.setChecked(True)
    out2 = tmp_path / "filter.csv"
    with qtbot.waitSignal(dialog.exported, timeout=20_000):
        dialog.export_csv(out2)
    rows = list(csv.DictReader(out2.open(encoding="utf-8")))
    assert sorted(r["label"] for r in rows) == ["Measles", "Normal"]


def test_class_folders_and_report(qtbot: Any, screened_cases: Any, tmp_path: Path) -> None:
    from pypdf import PdfReader

    dialog = _dialog(qtbot, screened_cases, run_id=screened_cases.run_id)
    with qtbot.waitSignal(dialog.exported, timeout=20_000):
        dialog.export_folders(tmp_path / "folders")
    assert sorted(p.parent.name for p in (tmp_path / "folders").rglob("*.jpg")) == [
        "Measles",
        "Normal",
    ]

    dialog.clinic.setText("Test clinic")
    out = tmp_path / "report.pdf"
    with qtbot.waitSignal(dialog.exported, timeout=120_000):
        dialog.print_report(out)
    reader = PdfReader(out)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 2 and "Test clinic" in text
    assert all(p.name in text for p in screened_cases.photos)
    assert "5 images" in dialog.status.text()


def test_the_clinic_is_a_setting_that_prefills_the_report(qtbot, make_window) -> None:
    """Settings.clinic is kept like the other settings, edited in the settings dialog, and the
    export dialog starts with it (it used to read an attribute Settings did not have)."""
    from desktop.settings import Settings
    from desktop.shell.settings_dialog import SettingsDialog

    w = make_window()
    assert w.settings.clinic == ""
    dlg = SettingsDialog(w.settings, w.cases.current_rule, True, w)
    qtbot.addWidget(dlg)
    dlg.clinic.setText("  Clinique de Goma ")
    assert "clinic" in dlg.apply()
    assert w.settings.clinic == "Clinique de Goma"
    assert Settings(w.settings.file).clinic == "Clinique de Goma"  # persisted
    w.menus.act_report.trigger()
    assert w.dialogs.export_dialog.clinic.text() == "Clinique de Goma"
