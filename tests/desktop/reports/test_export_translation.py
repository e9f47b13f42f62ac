"""The export dialog in French: no English msgid whose French differs, no English words left,
the buttons not cut, and what an export wrote said in French."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.desktop.dialog_translation_support import english_left, french, visible_texts
from tests.desktop.models_support import screenshot


def test_translation_export_dialog_speaks_french(
    qtbot: Any, screened_cases: Any, tmp_path: Path
) -> None:
    from desktop.reports.export_dialog import ExportDialog
    from engine.store import ReviewFilter

    with french():
        flt = ReviewFilter(run_id=screened_cases.run_id, reviewed=True)
        dialog = ExportDialog(screened_cases.store, run_id=screened_cases.run_id, flt=flt)
        qtbot.addWidget(dialog)
        dialog.show()
        texts = visible_texts(dialog)
        assert "Exporter et imprimer" in texts and "Quoi exporter" in texts
        assert english_left(texts) == []
        for button in (dialog.csv_button, dialog.folders_button, dialog.report_button):
            assert button.width() >= button.sizeHint().width(), button.text()
        with qtbot.waitSignal(dialog.exported, timeout=20_000):
            dialog.export_csv(tmp_path / "cas.csv")
        assert "6 lignes écrites dans" in dialog.status.text()
        screenshot(dialog, "export_dialog_fr")
        assert dialog.minimumSizeHint().width() <= 1366  # not clipped on a 1366x768 screen
