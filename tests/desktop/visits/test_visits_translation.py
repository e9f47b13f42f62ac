"""The visit view, the patient-and-visit form and the lab form in French: no English msgid
whose French differs, no English words left (the patients' identifiers aside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.store import Store
from tests.desktop.casefill import fill_store
from tests.desktop.dialog_translation_support import english_left, french, visible_texts
from tests.desktop.models_support import screenshot


def test_translation_visit_windows_speak_french(qtbot: Any, tmp_path: Path) -> None:
    from desktop.services.visits import VisitsService
    from desktop.visits.assign_dialog import AssignDialog
    from desktop.visits.visit_view import VisitView

    shas = fill_store(tmp_path / "case.db", tmp_path / "photos")
    with Store.open(tmp_path / "case.db") as store, french():
        store.visits.assign([shas["foxtrot.png"], shas["delta.png"]], "P1", "V1")
        view = VisitView(VisitsService(store, lambda: "dr-test"), clinic="Clinique")
        qtbot.addWidget(view)
        view.show()
        view.refresh()
        qtbot.waitUntil(lambda: view.detail is not None, timeout=20_000)
        texts = visible_texts(view, skip=(view.decision_bar,))  # the review's label bar
        assert "Visites - PoxScreen" in texts and "Résultat de laboratoire (PCR)" in texts
        assert [view.lab.result.itemText(i) for i in range(3)] == [
            "positif",
            "négatif",
            "en attente",
        ]
        assert view.referral.text().startswith(("Référée", "Non référée"))
        assert english_left(texts) == []
        view.lab.result.setCurrentIndex(0)
        view.lab.date.setText("2026-12-01")
        view.lab.save.click()
        qtbot.waitUntil(lambda: "positif" in view.lab.current.text(), timeout=20_000)
        assert "sensibilité" in view.comparison.text()
        assert english_left([view.comparison.text(), view.message.text()]) == []
        screenshot(view, "visit_view_fr")
        assert view.minimumSizeHint().width() <= 1366  # not clipped on a 1366x768 screen

        form = AssignDialog(3, "", "")
        qtbot.addWidget(form)
        texts = visible_texts(form)
        assert "Identifiants pseudonymes pour ces 3 photos (jamais un nom)." in texts
        assert form.problem.text() == "patient : vide"
        assert english_left(texts) == []
