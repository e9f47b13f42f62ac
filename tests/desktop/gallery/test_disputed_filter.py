"""Show: Disputed lists the photos two clinicians labelled differently, with both labels, who
gave them and when; the fine-tune plan leaves them out and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from desktop.gallery.tile_text import tile_text
from desktop.services.training import training_plan
from tests.desktop.gallery.test_gallery import names, settle

SHOTS = Path("/tmp/shots-audit")


def test_disputed_filter_shows_both_readings(
    filled: tuple[Any, dict[str, str]], qtbot: Any
) -> None:
    w, shas = filled
    store = w.store
    store.label(shas["alpha.png"], "Measles", who="Dr A. Mensah")
    store.label(shas["alpha.png"], "Normal", who="Dr B. Osei")  # a second reader disagrees
    store.label(shas["bravo.png"], "Measles", who="Dr A. Mensah")
    store.label(shas["bravo.png"], "Normal", who="Dr A. Mensah")  # a relabel: no dispute
    w.filters.set_show("disputed")
    settle(qtbot, w)
    assert names(w) == ["alpha.png"]
    item = w.model.item(0)
    text = tile_text(item)
    assert text.first_note == "⚠ disputed"
    assert text.second == "Measles / Normal"
    tip = w.model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert (
        "Disputed: Measles by Dr A. Mensah, " in tip
        and "Disputed: Normal skin by Dr B. Osei, " in tip
    )
    if SHOTS.parent.is_dir():
        SHOTS.mkdir(exist_ok=True)
        w.grab().save(str(SHOTS / "disputed_filter.png"))
    plan = training_plan(store)
    assert plan.disputed == 1 and plan.store_counts == {"Normal": 1}
    assert any("1 disputed photo left out" in line for line in plan.warnings)
    store.label(shas["alpha.png"], "Normal", who="Dr C. Adu")  # a third reader settles it
    w.refresh_all()
    settle(qtbot, w)
    assert names(w) == []
