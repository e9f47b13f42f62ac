"""The Audit view: every event listed, filtered by who / what / since, exported as CSV, with
the readers' agreement; opened from Case > Audit trail."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate

from desktop.audit.dialog import AuditDialog
from engine.store import Store
from engine.store.audit import CSV_COLUMNS
from tests.engine.store.conftest import CLASSES, make_photo, sha_of

SHOTS = Path("/tmp/shots-audit")


@pytest.fixture()
def audited(tmp_path: Path) -> Iterator[Store]:
    """Two clinicians read three photos (they disagree on one), a third forgets one."""
    store = Store.open(tmp_path / "case.db")
    photos = [make_photo(tmp_path / "in" / f"p{i}.png", seed=i) for i in range(3)]
    for p, (a, b) in zip(photos, [("Measles", "Measles"), ("Normal", "Normal"),
                                  ("Monkeypox", "Chickenpox")], strict=True):  # fmt: skip
        store.label(p, a, who="Dr A. Mensah", classes=CLASSES)
        store.label(p, b, who="Dr B. Osei", note="second reading", classes=CLASSES)
    store.forget(sha_of(photos[0]), who="Dr C. Adu")
    yield store
    store.close()


def _open(qtbot: Any, store: Store) -> AuditDialog:
    dialog = AuditDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.loading and dialog.model.rowCount() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: "kappa" in dialog.agreement.text(), timeout=10_000)
    return dialog


def test_audit_view_lists_filters_and_shows_agreement(qtbot: Any, audited: Store) -> None:
    dialog = _open(qtbot, audited)
    assert dialog.model.rowCount() == 3 + 3 + 3 + 1  # labels, second labels, notes, forget
    assert "2 of 3 pairs agree on 3 photos" in dialog.agreement.text()
    if SHOTS.parent.is_dir():
        SHOTS.mkdir(exist_ok=True)
        dialog.grab().save(str(SHOTS / "audit_view.png"))
    dialog.filters.kind.setCurrentText("forget")
    qtbot.waitUntil(lambda: not dialog.loading and dialog.model.rowCount() == 1)
    assert dialog.model.events[0].who == "Dr C. Adu"
    assert dialog.model.index(0, 4).data().startswith("photo ")
    dialog.filters.kind.setCurrentIndex(0)
    dialog.filters.who.setText("dr b. osei")
    qtbot.waitUntil(lambda: not dialog.loading and dialog.model.rowCount() == 6)
    assert {e.who for e in dialog.model.events} == {"Dr B. Osei"}
    dialog.filters.who.clear()
    dialog.filters.use_since.setChecked(True)
    dialog.filters.since.setDate(QDate.currentDate().addDays(1))
    qtbot.waitUntil(lambda: not dialog.loading and dialog.model.rowCount() == 0)
    assert dialog.count.text() == "0 events" and not dialog.export_button.isEnabled()


def test_audit_view_exports_what_it_shows(qtbot: Any, audited: Store, tmp_path: Path) -> None:
    dialog = _open(qtbot, audited)
    dialog.filters.kind.setCurrentText("label")
    qtbot.waitUntil(lambda: not dialog.loading and dialog.model.rowCount() == 6)
    out = tmp_path / "audit.csv"
    dialog.export_to(out)
    qtbot.waitUntil(lambda: "exported" in dialog.count.text(), timeout=10_000)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 7
    assert {r[CSV_COLUMNS.index("kind")] for r in rows[1:]} == {"label"}
    assert audited.events(kinds=["export"])[-1].details["rows"] == 6  # the export is recorded


def test_audit_trail_opens_from_the_case_menu(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    assert w.menus.act_audit in w.menus.case_menu.actions()
    w.menus.act_audit.trigger()
    qtbot.waitUntil(lambda: w.dialogs.audit_dialog.isVisible())
    qtbot.waitUntil(lambda: not w.dialogs.audit_dialog.loading)
    w.dialogs.audit_dialog.close()
