"""The visit view: a visit's photos side by side (most suspicious first, class and referral on
each), the visit decision by keys 1-4 and R, the lab entry, the report, and patient and visit
set by hand for a selection of gallery photos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop.services.visits import VisitsService
from desktop.visits.assign_dialog import AssignDialog
from desktop.visits.photo_card import PhotoCard
from desktop.visits.visit_view import VisitView
from engine.store import Store
from tests.desktop.casefill import fill_store

SHOTS = Path("/tmp/shots-visits")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[tuple[Store, dict[str, str]]]:
    shas = fill_store(tmp_path / "case.db", tmp_path / "photos")
    with Store.open(tmp_path / "case.db") as s:
        s.visits.assign([shas["foxtrot.png"], shas["delta.png"], shas["alpha.png"]], "P1", "V1")
        s.visits.assign([shas["charlie.png"]], "P2", "V1")
        yield s, shas


@pytest.fixture()
def view(qtbot: Any, store: tuple[Store, dict[str, str]]) -> VisitView:
    service = VisitsService(store[0], lambda: "dr-test")
    widget = VisitView(service, clinic="Test clinic")
    qtbot.addWidget(widget)
    widget.show()
    widget.activateWindow()
    widget.refresh()
    qtbot.waitUntil(lambda: widget.detail is not None, timeout=10_000)
    return widget


def _cards(view: VisitView) -> list[PhotoCard]:
    lay = view.strip_layout
    return [lay.itemAt(i).widget() for i in range(lay.count())]  # type: ignore[misc]


def test_visit_view_shows_the_photos_most_suspicious_first_with_class_and_referral(
    qtbot: Any, view: VisitView
) -> None:
    assert view.list.rowCount() == 2
    assert view.comparison.text() == "No visit has a lab result yet."
    assert view.title.text() == "Patient P1  /  visit V1"
    assert view.referral.text() == "Referred: 2 of 3 photos"  # referred when any photo is
    cards = _cards(view)
    assert [c.card.name for c in cards] == ["delta.png", "alpha.png", "foxtrot.png"]
    assert [c.referral.text() for c in cards] == ["Refer", "Refer", "No referral"]
    assert cards[0].class_label.text() == "Mpox 95%"
    assert all(not c.picture.pixmap().isNull() for c in cards)
    view.list.selectRow(1)
    qtbot.waitUntil(lambda: view.detail is not None and view.detail.row.patient == "P2")
    assert [c.card.name for c in _cards(view)] == ["charlie.png"]
    view.list.selectRow(0)
    qtbot.waitUntil(lambda: view.detail is not None and view.detail.row.patient == "P1")
    qtbot.waitUntil(lambda: len(_cards(view)) == 3)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert view.grab().save(str(SHOTS / "visit_view.png"))


def test_visit_decision_by_key_is_stored_apart_from_the_photo_labels(
    qtbot: Any, view: VisitView, store: tuple[Store, dict[str, str]]
) -> None:
    s, shas = store
    qtbot.keyClick(view.list, Qt.Key.Key_3)  # the third class: Monkeypox (Mpox)
    qtbot.waitUntil(lambda: s.visits.visit("P1", "V1").decision == "Monkeypox", timeout=10_000)
    qtbot.waitUntil(lambda: view.decision_text.text() == "Decision: Mpox (monkeypox) (dr-test)")
    assert view.decision_bar.button("Monkeypox").isChecked()  # type: ignore[union-attr]
    qtbot.keyClick(view.list, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: s.visits.visit("P1", "V1").decision == "refer", timeout=10_000)
    assert all(s.current_label(shas[n]) is None for n in ("delta.png", "alpha.png"))
    assert s.visits.visit("P2", "V1").decision is None


def test_lab_result_is_entered_and_a_bad_date_is_refused_with_the_reason(
    qtbot: Any, view: VisitView, store: tuple[Store, dict[str, str]]
) -> None:
    s, _ = store
    view.lab.result.setCurrentText("positive")
    view.lab.date.setText("2026-12-01")
    view.lab.test.setText("MPXV PCR")
    qtbot.mouseClick(view.lab.save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: s.visits.visit("P1", "V1").lab_result == "positive", timeout=10_000)
    row = s.visits.visit("P1", "V1")
    assert (row.lab_date, row.lab_test) == ("2026-12-01", "MPXV PCR")
    qtbot.waitUntil(lambda: view.lab.current.text() == "Recorded: positive, 2026-12-01, MPXV PCR")
    qtbot.waitUntil(lambda: view.list.item(0, 5).text() == "positive")
    qtbot.waitUntil(lambda: view.comparison.text().startswith("Against the lab (1 visit"))
    assert "model: sensitivity 1.00 (1/1, 95% CI 0.21-1.00)" in view.comparison.text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert view.grab().save(str(SHOTS / "visit_view_lab.png"))
    view.lab.result.setCurrentText("negative")
    view.lab.date.setText("1/12/2026")
    qtbot.mouseClick(view.lab.save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not a date" in view.message.text(), timeout=10_000)
    assert view.message.text().startswith("Not saved:")
    assert s.visits.visit("P1", "V1").lab_result == "positive"


def test_visit_report_is_written_from_the_view(qtbot: Any, view: VisitView, tmp_path: Path) -> None:
    out = tmp_path / "visit.pdf"
    view.write_report(out)
    qtbot.waitUntil(lambda: "Visit report written" in view.message.text(), timeout=20_000)
    assert out.read_bytes().startswith(b"%PDF")


def test_assign_form_refuses_a_bad_identifier_and_names_the_reason(qtbot: Any) -> None:
    dialog = AssignDialog(2)
    qtbot.addWidget(dialog)
    got: list[tuple[str, str]] = []
    dialog.assigned.connect(lambda p, v: got.append((p, v)))
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    dialog.patient.setText("P/1")
    dialog.visit.setText("V1")
    assert not ok.isEnabled() and "path separator" in dialog.problem.text()
    dialog.patient.setText("P1")
    assert ok.isEnabled() and dialog.problem.text() == ""
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert got == [("P1", "V1")]
