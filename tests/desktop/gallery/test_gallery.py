"""Gallery filters, sort, search and navigation, against a case store with known results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop.gallery.model import GalleryModel, next_row
from desktop.gallery.tile_delegate import tile_marks
from desktop.services.gallery import is_referral
from engine.referral import ReferralRule
from engine.store.dto import ReviewItem
from tests.desktop.casefill import CASES


def names(w: Any) -> list[str]:
    return [Path(w.model.item(r).path).name for r in range(w.model.rowCount())]


def settle(qtbot: Any, w: Any) -> None:
    qtbot.wait(300)  # search debounce
    qtbot.waitUntil(lambda: not w.model.loading, timeout=10_000)


def test_sorts(filled: tuple[Any, dict[str, str]], qtbot: Any) -> None:
    w, _ = filled
    by_conf = sorted(CASES, key=lambda n: CASES[n][1])
    assert names(w) == by_conf  # most uncertain first (4 classes: entropy follows confidence)
    w.filters.set_sort("name")
    settle(qtbot, w)
    assert names(w) == sorted(CASES)
    w.filters.set_sort("confidence")
    settle(qtbot, w)
    assert names(w) == by_conf


def test_filters_and_search(filled: tuple[Any, dict[str, str]], qtbot: Any) -> None:
    w, shas = filled
    store = w.store
    store.label(shas["delta.png"], "Monkeypox", who="dr-test")  # agrees with the model
    store.label(shas["alpha.png"], "Measles", who="dr-test")  # disagrees
    w.filters.set_show("reviewed")
    settle(qtbot, w)
    assert sorted(names(w)) == ["alpha.png", "delta.png"]
    w.filters.set_show("to_review")
    settle(qtbot, w)
    assert sorted(names(w)) == sorted(set(CASES) - {"alpha.png", "delta.png"})
    w.filters.set_show("disagreed")
    settle(qtbot, w)
    assert names(w) == ["alpha.png"]
    w.filters.set_show("all")
    w.filters.set_class("Monkeypox")
    settle(qtbot, w)
    assert sorted(names(w)) == ["delta.png", "echo.png"]
    w.filters.set_class(None)
    w.filters.search.setText("HAR")  # case-insensitive substring of the file name
    settle(qtbot, w)
    assert names(w) == ["charlie.png"]
    w.filters.search.clear()
    settle(qtbot, w)
    assert len(names(w)) == len(CASES)


def test_referral_filter_follows_the_rule(filled: tuple[Any, dict[str, str]], qtbot: Any) -> None:
    w, _ = filled
    rule = w.cases.current_rule  # the store's rule (or the default until the store keeps one)
    expected = sorted(
        n
        for n, (top, conf) in CASES.items()
        if conf < rule.min_confidence
        or (top == "Monkeypox" and conf > rule.mpox_above)
        or (top != "Monkeypox" and (1 - conf) / 3 > rule.mpox_above)
    )
    w.filters.set_show("referral")
    settle(qtbot, w)
    assert sorted(names(w)) == expected
    flags = [w.model.index(r).data(GalleryModel.ReferralRole) for r in range(w.model.rowCount())]
    assert all(flags)


def test_runs_list_filters_by_run(filled: tuple[Any, dict[str, str]], qtbot: Any) -> None:
    w, _ = filled
    qtbot.waitUntil(lambda: w.filters.runs.count() == 2)
    assert "cases\n6 photos" in w.filters.runs.item(1).text()
    w.filters.runs.setCurrentRow(1)
    settle(qtbot, w)
    assert w.model.query.run_id is not None
    assert len(names(w)) == len(CASES)


def test_navigation_and_selection_survive_a_reload(
    filled: tuple[Any, dict[str, str]], qtbot: Any
) -> None:
    w, shas = filled
    shown: list[Any] = []
    w.gallery.currentItemChanged.connect(shown.append)
    w.gallery.select_row(0)
    assert shown[-1].sha256 == w.model.item(0).sha256
    w.navigate("next")
    assert w.gallery.currentIndex().row() == 1
    w.navigate("prev")
    assert w.gallery.currentIndex().row() == 0
    w.store.label(w.model.item(1).sha256, "Normal", who="dr-test")
    w.model.refresh()
    settle(qtbot, w)
    assert next_row(w.model, 0, "unreviewed") == 2
    assert next_row(w.model, 0, "uncertain") == 2  # least confident unreviewed other than row 0
    # another sort, and a reload that reorders rows, keep the current image selected
    current = w.gallery.current_item().sha256
    w.filters.set_sort("name")
    settle(qtbot, w)
    assert w.gallery.current_item().sha256 == current
    w.gallery.select_row(3)
    current = w.gallery.current_item().sha256
    w.filters.set_sort("confidence")
    settle(qtbot, w)
    assert w.gallery.current_item().sha256 == current
    assert w.gallery.currentIndex().row() != 3 or names(w)[3] == sorted(CASES)[3]


def test_tiles_paint_thumbnails_and_marks(filled: tuple[Any, dict[str, str]], qtbot: Any) -> None:
    w, shas = filled
    w.center.setCurrentWidget(w.gallery)
    w.gallery.viewport().repaint()
    qtbot.waitUntil(lambda: w.thumbs.loaded >= len(CASES), timeout=20_000)
    row = w.model.row_of(shas["delta.png"])
    assert w.model.index(row).data(GalleryModel.ThumbRole) is not None
    assert "delta.png" in w.model.index(row).data(0x03)  # tooltip names the file
    item = w.model.item(row)
    assert tile_marks(item, False) == []
    w.store.label(shas["delta.png"], "Normal", who="dr-test")
    w.model.refresh()
    settle(qtbot, w)
    item = w.model.item(w.model.row_of(shas["delta.png"]))
    marks = [m for m, _ in tile_marks(item, True)]
    assert marks == ["✓", "⚑", "!"]
    img = w.gallery.grab()
    assert not img.isNull()


def test_referral_flags_follow_the_thresholds(
    filled: tuple[Any, dict[str, str]], qtbot: Any
) -> None:
    from engine.referral import ReferralRule

    w, shas = filled

    def flagged() -> set[str]:
        rows = range(w.model.rowCount())
        return {names(w)[r] for r in rows if w.model.index(r).data(GalleryModel.ReferralRole)}

    w.model.set_rule(ReferralRule(min_confidence=0.5, mpox_above=0.99))
    assert flagged() == {"bravo.png"}  # only confidence 0.40 is below 0.5
    w.model.set_rule(ReferralRule(min_confidence=0.0, mpox_above=0.6))
    assert flagged() == {"delta.png", "echo.png"}  # Mpox 0.95 and 0.62


def _item(**kw: Any) -> ReviewItem:
    probs = {"Chickenpox": 0.97, "Measles": 0.01, "Monkeypox": 0.01, "Normal": 0.01}
    base = dict(image_id=1, sha256="a" * 64, path="/p/a.png", stored_path=None, width=224)
    base |= dict(height=224, top_class="Chickenpox", confidence=0.97, entropy=0.1)
    base |= dict(probabilities=probs, current_label=None, prediction_id=1)
    return ReviewItem(**(base | kw))


def test_tiles_mark_photos_to_check_and_refer_them() -> None:
    """ReviewItem.out_of_scope / quality_issues (check_photo) give the '?' mark and a referral."""
    rule = ReferralRule(min_confidence=0.7, mpox_above=0.3)
    fine = _item(out_of_scope=False, quality_issues="", scope_score=0.4)
    assert tile_marks(fine, is_referral(fine, rule)) == []
    blurry = _item(out_of_scope=False, quality_issues="blurry;too dark")
    assert tile_marks(blurry, is_referral(blurry, rule)) == [
        ("⚑", "flagged for referral"),
        ("?", "check photo: poor quality (blurry;too dark)"),
    ]
    odd = _item(out_of_scope=True, scope_score=3.2, quality_issues="")
    assert odd.check_photo and tile_marks(odd, is_referral(odd, rule))[-1] == (
        "?",
        "check photo: not a skin photo?",
    )
    unchecked = _item()  # a model without a guard, a store from before the check: no mark
    assert tile_marks(unchecked, False) == []
