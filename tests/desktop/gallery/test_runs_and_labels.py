"""Results belong to runs, and labels come first, in the real window: earlier runs stay in view
after a switch of model (with the version that made them), a run screened by an older model is
re-screened as a new linked run with both predictions kept and shown, the same folder with the
same model continues its run, tiles put the clinician's label first, and the class filter and
sort can read the label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop.gallery.model import GalleryModel
from desktop.gallery.tile_text import TileText
from tests.desktop.casefill import CASES
from tests.desktop.conftest import wait_screening
from tests.desktop.gallery.test_gallery import names, settle

SHIPPED = "poxscreen-msid-v1"


def _switch_to_new_model(qtbot: Any, w: Any, tmp: Path) -> str:
    """Register a small 4-class model and make it active through the window's ActiveModel."""
    from tests.desktop.models_support import save_model_file

    meta = save_model_file(tmp / "newer.safetensors", list(CASES_CLASSES), "newer")
    w.store.register_model_file(tmp / "newer.safetensors")
    with qtbot.waitSignal(w.active.changed, timeout=30_000):
        w.active.activate(meta.content_hash, reason="a test model, switched to on purpose")
    qtbot.waitUntil(lambda: w.filters._active == meta.content_hash, timeout=10_000)
    settle(qtbot, w)
    return meta.content_hash


CASES_CLASSES = ("Chickenpox", "Measles", "Monkeypox", "Normal")


def _tile(w: Any, sha: str) -> TileText:
    return w.model.index(w.model.row_of(sha)).data(GalleryModel.TileTextRole)


def test_earlier_runs_stay_in_view_after_a_switch_with_their_model_version(
    filled: tuple[Any, dict[str, str]], qtbot: Any, desk_env: Path
) -> None:
    w, shas = filled
    _switch_to_new_model(qtbot, w, desk_env)
    assert w.store.active_model().name == "newer"  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: w.model.rowCount() == len(CASES), timeout=10_000)
    assert w.center.currentWidget() is w.gallery  # not "No photos screened yet"
    assert {w.model.item(r).model_name for r in range(w.model.rowCount())} == {SHIPPED}
    assert _tile(w, shas["delta.png"]).model.startswith(f"{SHIPPED}@")
    tooltip = w.model.index(w.model.row_of(shas["delta.png"])).data(0x03)
    assert f"Screened by model {SHIPPED}@" in tooltip
    # the run itself: its model named, and the offer to screen it again with the new one
    qtbot.waitUntil(lambda: w.filters.runs.count() == 2)
    assert f"model {SHIPPED}@" in w.filters.runs.item(1).text()
    assert "older model" in w.filters.runs.item(1).text()
    assert not w.filters.rescreen.isVisible()  # "All runs" chosen: nothing to re-screen
    w.filters.runs.setCurrentRow(1)
    settle(qtbot, w)
    assert w.model.rowCount() == len(CASES)
    assert w.filters.rescreen.isVisible() and w.filters.rescreen_offered()
    assert "older model" in w.filters.run_model.text()


def test_a_rescreen_keeps_both_predictions_and_the_panel_shows_both(
    filled: tuple[Any, dict[str, str]], qtbot: Any, desk_env: Path
) -> None:
    w, shas = filled
    new_hash = _switch_to_new_model(qtbot, w, desk_env)
    qtbot.waitUntil(lambda: w.filters.runs.count() == 2)
    w.filters.runs.setCurrentRow(1)
    old_run = w.filters.query().run_id
    settle(qtbot, w)
    w.filters.rescreen.click()
    qtbot.waitUntil(lambda: w.screening.running, timeout=10_000)
    wait_screening(qtbot, w)
    runs = {r.id: r for r in w.store.runs()}
    assert len(runs) == 2
    (new_run,) = [r for r in runs.values() if r.id != old_run]
    assert new_run.model_version == new_hash and new_run.rescreen_of == old_run
    assert new_run.options["rescreen_of"] == old_run
    for sha in shas.values():  # both sets of predictions are kept
        made = {(p.model_name, p.run_id) for p in w.store.predictions(sha)}
        assert made == {(SHIPPED, old_run), ("newer", new_run.id)}
    # the runs pane now shows the new run, and the old one no longer offers a re-screen
    qtbot.waitUntil(lambda: w.filters.query().run_id == new_run.id, timeout=10_000)
    settle(qtbot, w)
    assert {w.model.item(r).model_name for r in range(w.model.rowCount())} == {"newer"}
    assert not w.filters.rescreen.isVisible()
    # the review panel: the new prediction, and the earlier run's under it (they differ)
    w.gallery.select_sha(shas["delta.png"])
    qtbot.waitUntil(lambda: w.review.header.others.isVisible(), timeout=10_000)
    assert "Model newer@" in w.review.header.summary.text()
    assert f"Earlier run (model {SHIPPED}@" in w.review.header.others.text()
    assert w.review.header.others.text().endswith("95%")  # the earlier Mpox 0.95
    w.filters.select_run(old_run)  # the old run: its own results, still
    settle(qtbot, w)
    assert {w.model.item(r).model_name for r in range(w.model.rowCount())} == {SHIPPED}
    assert f"as run #{new_run.id}" in w.filters.run_model.text()
    texts = [w.filters.runs.item(r).text() for r in range(w.filters.runs.count())]
    assert any(f"re-screen of #{old_run}" in t for t in texts)


def test_screening_the_same_folder_with_the_same_model_continues_its_run(
    make_window: Any, qtbot: Any, photos4: Path
) -> None:
    w = make_window()
    w.screen_folder(str(photos4))
    wait_screening(qtbot, w)
    (first,) = w.store.runs()
    assert first.status == "finished" and first.counts.screened == 4
    w.screen_folder(str(photos4))
    wait_screening(qtbot, w)
    runs = w.store.runs()
    assert [r.id for r in runs] == [first.id]  # continued, not a second run
    assert (runs[0].status, runs[0].counts.screened, runs[0].counts.seen) == ("finished", 4, 4)


def test_labelled_tiles_show_the_label_first(
    filled_labelled: tuple[Any, dict[str, str]], qtbot: Any
) -> None:
    w, shas = filled_labelled
    charlie = _tile(w, shas["charlie.png"])  # the model said Chickenpox 80%; labelled Measles
    assert (charlie.first, charlie.first_class, charlie.first_note) == (
        "Measles",
        "Measles",
        "✓ label",
    )
    assert charlie.second == "Model: Chickenpox 80%"
    assert charlie.lines()[0].startswith("Measles") and "Chickenpox" in charlie.lines()[1]
    echo = _tile(w, shas["echo.png"])  # not labelled: the model's class and confidence
    assert (echo.first_class, echo.first_note, echo.second) == ("Monkeypox", "62%", "")
    tip = w.model.index(w.model.row_of(shas["charlie.png"])).data(0x03)
    assert tip.index("Clinician: Measles") < tip.index("Model: Chickenpox")
    w.center.setCurrentWidget(w.gallery)
    assert not w.gallery.grab().isNull()


def test_class_filter_and_sort_by_the_clinicians_label(
    filled_labelled: tuple[Any, dict[str, str]], qtbot: Any
) -> None:
    w, _ = filled_labelled  # charlie (Chickenpox) and delta (Monkeypox) labelled Measles
    w.filters.set_class("Measles")
    settle(qtbot, w)
    assert names(w) == ["bravo.png"]  # the model's class
    w.filters.by_label.setChecked(True)
    settle(qtbot, w)
    assert sorted(names(w)) == ["bravo.png", "charlie.png", "delta.png"]
    assert w.model.query.by_label
    w.filters.set_class(None)
    w.filters.set_sort("class")
    settle(qtbot, w)
    shown = [w.model.item(r) for r in range(w.model.rowCount())]
    classes = [i.current_label or i.top_class for i in shown]
    assert classes == sorted(classes) and classes.count("Measles") == 3
    w.filters.by_label.setChecked(False)
    settle(qtbot, w)
    assert [w.model.item(r).top_class for r in range(w.model.rowCount())][0] == "Chickenpox"
