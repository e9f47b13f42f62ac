"""Visits in the real window: patient and visit set by hand for a selection of gallery photos,
the gallery filtered by patient and visit, a PATIENT/VISIT folder screened, the visit view
opened from the View menu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel

from tests.desktop.conftest import wait_screening
from tests.desktop.gallery.test_gallery import names, settle
from tests.engine.store.conftest import make_photo


def _select(w: Any, shas: list[str]) -> None:
    sel = w.gallery.selectionModel()
    sel.clearSelection()
    for sha in shas:
        index = w.model.index(w.model.row_of(sha))
        sel.select(index, QItemSelectionModel.SelectionFlag.Select)


def test_patient_and_visit_by_hand_for_a_selection_then_the_gallery_filters_by_them(
    filled: tuple[Any, dict[str, str]], qtbot: Any
) -> None:
    w, shas = filled
    _select(w, [shas["delta.png"], shas["echo.png"]])
    dialog = w.visit_actions.ask_assign()
    assert dialog is not None and not dialog.isModal()
    assert "these 2 photos" in dialog.findChildren(type(dialog.problem))[0].text()
    dialog.patient.setText("P9")
    dialog.visit.setText("V3")
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: w.store.visits.visit_rows() != [], timeout=10_000)
    (row,) = w.store.visits.visit_rows()
    assert (row.patient, row.visit, row.photos) == ("P9", "V3", 2)
    w.filters.patient.setText("P9")
    settle(qtbot, w)
    assert sorted(names(w)) == ["delta.png", "echo.png"]
    w.filters.visit.setText("V4")
    settle(qtbot, w)
    assert names(w) == []
    w.filters.patient.clear()
    w.filters.visit.clear()
    settle(qtbot, w)
    assert len(names(w)) == 6
    view = w.visit_actions.show_view()
    qtbot.waitUntil(lambda: view.detail is not None, timeout=10_000)
    assert view.title.text() == "Patient P9  /  visit V3"
    assert w.visit_actions.open_view in w.menus.all_actions()


def test_screening_a_patient_visit_folder_gives_each_photo_its_visit(
    make_window: Any, qtbot: Any, tmp_path: Path
) -> None:
    w = make_window()
    folder = tmp_path / "clinic"
    for i, place in enumerate(["P1/V1", "P1/V1", "P2/V1", "P2/V1", "P2/V1"]):
        make_photo(folder / place / f"p{i}.png", seed=i)
    make_photo(folder / "loose.png", seed=9)  # not in the layout: screened, no visit
    w.visit_actions.screen(str(folder))
    wait_screening(qtbot, w)
    rows = {(r.patient, r.visit): r.photos for r in w.store.visits.visit_rows()}
    assert rows == {("P1", "V1"): 2, ("P2", "V1"): 3}
    assert w.store.count() == 6
