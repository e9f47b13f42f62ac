"""What the desktop needs from the store beyond the queue: redo, sort and search by file name,
a run's unreadable files, agreement per class, the referral rule kept in the database, stats."""

from __future__ import annotations

import random

import pytest

from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule
from engine.store import (
    REFER,
    NotFoundError,
    NothingToRedoError,
    NothingToUndoError,
    ReviewFilter,
    Store,
)
from tests.engine.store.conftest import CLASSES, MODEL_A, fake_result


def _screen(store: Store, results: list[dict]) -> int:
    run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
    store.record_results(run, results)
    store.finish_run(run, "finished", total=len(results))
    return run


def test_redo_restores_undone_labels_latest_first(store: Store) -> None:
    r = fake_result(1)
    _screen(store, [r])
    sha = r["sha256"]
    store.label(sha, "Measles", who="dr a")
    store.label(sha, "Normal", who="dr a")
    assert store.undo(sha, who="dr a").current_label == "Measles"
    assert store.undo(sha, who="dr a").current_label is None
    assert store.redo(sha, who="dr b").current_label == "Measles"
    assert store.redo(sha, who="dr b").current_label == "Normal"
    with pytest.raises(NothingToRedoError):
        store.redo(sha, who="dr b")
    assert store.undo(sha, who="dr a").current_label == "Measles"  # undo takes back the redo
    store.label(sha, "Chickenpox", who="dr c")  # a new label: nothing left to redo
    with pytest.raises(NothingToRedoError):
        store.redo(sha, who="dr c")
    kinds = [(e.kind, e.label_after) for e in store.history(sha)]
    assert kinds == [
        ("set", "Measles"),
        ("set", "Normal"),
        ("undo", "Measles"),
        ("undo", None),
        ("redo", "Measles"),
        ("redo", "Normal"),
        ("undo", "Measles"),
        ("set", "Chickenpox"),
    ]
    assert store.current_label(sha) == "Chickenpox"
    store.undo(sha, who="x")
    store.undo(sha, who="x")
    with pytest.raises(NothingToUndoError):
        store.undo(sha, who="x")


def test_history_shows_the_prediction_the_clinician_saw(store: Store) -> None:
    r = fake_result(2, top="Monkeypox", confidence=0.81)
    _screen(store, [r])
    store.label(r["sha256"], "Measles", who="dr a")
    (entry,) = store.history(r["sha256"])
    assert entry.predicted_class == "Monkeypox" and entry.confidence == pytest.approx(0.81)
    assert entry.model_version is not None and entry.model_version.endswith(MODEL_A[:12])


def test_sort_by_name_pages_and_search(store: Store) -> None:
    names = ["b_rash.jpg", "A%1.jpg", "c.jpg", "arm_2.jpg", "Arm_1.jpg", "d.png", "e.jpg"]
    results = [fake_result(i, path=f"/photos/{n}") for i, n in enumerate(names)]
    _screen(store, results)
    pages, after = [], None
    while True:
        page = store.review_queue(ReviewFilter(sort="name"), limit=3, after=after)
        pages += [item.path for item in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert pages == sorted(f"/photos/{n}" for n in names)
    found = store.review_queue(ReviewFilter(search="ARM_", sort="name")).items
    assert [i.path for i in found] == ["/photos/Arm_1.jpg", "/photos/arm_2.jpg"]
    assert [i.path for i in store.review_queue(ReviewFilter(search="%")).items] == [
        "/photos/A%1.jpg"
    ]  # % and _ are literal characters, not wildcards
    assert store.count(ReviewFilter(search=".png")) == 1


def test_run_errors_list_unreadable_files_with_reasons(store: Store) -> None:
    bad = [
        {"path": "/photos/z.jpg", "sha256": None, "error": "file is empty (0 bytes)"},
        {"path": "/photos/a.txt.jpg", "sha256": None, "error": "not an image"},
    ]
    run = _screen(store, [fake_result(1), *bad])
    assert store.run_errors(run) == [
        ("/photos/a.txt.jpg", "not an image"),
        ("/photos/z.jpg", "file is empty (0 bytes)"),
    ]
    with pytest.raises(NotFoundError):
        store.run_errors(999)


def test_agreement_and_stats(store: Store) -> None:
    results = [fake_result(i, top=CLASSES[i % 4]) for i in range(8)]
    _screen(store, results)
    assert store.stats().screened == 8 and store.stats().to_review == 8
    store.label(results[0]["sha256"], CLASSES[0], who="a")  # agrees
    store.label(results[4]["sha256"], CLASSES[1], who="a")  # model said CLASSES[0]
    store.label(results[1]["sha256"], CLASSES[1], who="a")  # agrees
    store.label(results[2]["sha256"], REFER, who="a")  # not counted
    got = store.agreement()
    assert {k: (v.agreed, v.disagreed) for k, v in got.items()} == {
        CLASSES[0]: (1, 0),
        CLASSES[1]: (1, 1),
    }
    stats = store.stats()
    assert (stats.screened, stats.reviewed, stats.to_review) == (8, 4, 4)


def test_referral_rule_lives_in_the_database_and_filters_in_sql(db_path, store: Store) -> None:
    assert store.referral_rule() == DEFAULT_REFERRAL_RULE
    rng = random.Random(3)
    results = []
    for i in range(80):
        probs = [rng.random() ** 3 for _ in CLASSES]
        total = sum(probs)
        results.append(
            fake_result(
                i, probabilities={c: p / total for c, p in zip(CLASSES, probs, strict=True)}
            )
        )
    for r in results:
        r["top_class"] = max(r["probabilities"], key=r["probabilities"].get)
        r["confidence"] = r["probabilities"][r["top_class"]]
    _screen(store, results)
    for rule in (DEFAULT_REFERRAL_RULE, ReferralRule(min_confidence=0.5, mpox_above=0.6)):
        store.set_referral_rule(rule, who="lead clinician")
        with Store.open(db_path) as other:  # another client (the CLI) sees the same rule
            assert other.referral_rule() == rule
        want = {r["sha256"] for r in results if rule.flags(r["probabilities"])}
        flagged = store.review_queue(ReviewFilter(referral=True), limit=500).items
        assert {i.sha256 for i in flagged} == want and 0 < len(want) < 80
        assert store.count(ReviewFilter(referral=False)) == 80 - len(want)


def test_referral_rule_semantics_and_validation() -> None:
    rule = ReferralRule(min_confidence=0.7, mpox_above=0.3)
    assert rule.flags({"Monkeypox": 0.35, "Normal": 0.65})  # unsure and mpox not ruled out
    assert rule.flags({"Monkeypox": 0.9, "Normal": 0.1})  # likely mpox: always referred
    assert rule.flags({"Measles": 0.6, "Normal": 0.4})  # unsure
    assert not rule.flags({"Measles": 0.8, "Monkeypox": 0.1, "Normal": 0.1})
    with pytest.raises(ValueError, match="min_confidence"):
        ReferralRule(min_confidence=1.5)
    with pytest.raises(ValueError, match="mpox_above"):
        ReferralRule(mpox_above=float("nan"))
