"""Review-queue filters, uncertainty sorts and keyset pages, checked against a plain-Python
reference computed from the same generated data."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from engine.store import REFER, ReviewFilter, Store, StoreError
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, entropy, fake_result


@dataclass
class Case:
    sha: str
    top: str
    confidence: float
    entropy: float
    label: str | None
    runs: set[int]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict, int, int]]:
    """60 images: run 1 holds 0..39, run 2 holds 30..59; every 4th has a label. Read-only for
    the tests, so it is built once per module."""
    store = Store.open(tmp_path_factory.mktemp("queue") / "case.db")
    rng = random.Random(7)
    run1 = store.begin_run("/clinic/monday", {}, MODEL_A, model_meta={"classes": CLASSES})
    run2 = store.begin_run("/clinic/tuesday", {}, MODEL_A)
    cases: dict[str, Case] = {}
    batches: dict[int, list[dict]] = {run1: [], run2: []}
    for i in range(60):
        top = rng.choice(CLASSES)
        conf = round(rng.uniform(0.3, 1.0), 3)
        if i in (5, 6):
            conf = 0.5  # a tie, to exercise the id tie-break in keyset pages
        result = fake_result(i, top=top, confidence=conf)
        runs = {run1} if i < 30 else {run2} if i >= 40 else {run1, run2}
        for run in runs:
            batches[run].append(result)
        cases[result["sha256"]] = Case(
            result["sha256"], top, conf, entropy(result["probabilities"]), None, runs
        )
    store.record_results(run1, batches[run1])
    store.record_results(run2, batches[run2])
    # Model B sees a few images, always "Normal" at 0.99: must never leak into model A queries.
    run_b = store.begin_run("/clinic/monday", {}, MODEL_B)
    store.record_results(run_b, [fake_result(i, top="Normal", confidence=0.99) for i in range(10)])
    for n, case in enumerate(list(cases.values())[::4]):
        label = REFER if n % 5 == 0 else case.top if n % 2 else rng.choice(CLASSES)
        store.label(case.sha, label, who="dr a", classes=CLASSES)
        case.label = label
    yield store, cases, run1, run2
    store.close()


def _expected(cases: dict[str, Case], keep, sort: str = "confidence") -> list[str]:
    order = list(cases)  # insertion order == prediction id order for model A
    chosen = [c for c in cases.values() if keep(c)]
    if sort == "confidence":
        chosen.sort(key=lambda c: (c.confidence, order.index(c.sha)))
    elif sort == "entropy":
        chosen.sort(key=lambda c: (-c.entropy, -order.index(c.sha)))
    return [c.sha for c in chosen]


def _all(store: Store, flt: ReviewFilter, page: int = 7) -> list[str]:
    out, after = [], None
    while True:
        result = store.review_queue(flt, limit=page, after=after)
        out += [item.sha256 for item in result.items]
        if result.next_cursor is None:
            return out
        after = result.next_cursor


def _disagrees(c: Case) -> bool:
    return c.label is not None and c.label != REFER and c.label != c.top


FILTERS = [
    ("everything", {}, lambda c: True),
    ("class", {"predicted_class": "Measles"}, lambda c: c.top == "Measles"),
    ("unreviewed", {"reviewed": False}, lambda c: c.label is None),
    ("reviewed", {"reviewed": True}, lambda c: c.label is not None),
    ("refer", {"label": REFER}, lambda c: c.label == REFER),
    ("disagreement", {"disagreement": True}, _disagrees),
    ("agreement", {"disagreement": False}, lambda c: not _disagrees(c)),
    ("below 0.6", {"max_confidence": 0.6}, lambda c: c.confidence < 0.6),
    (
        "unreviewed Monkeypox below 0.8",
        {"predicted_class": "Monkeypox", "reviewed": False, "max_confidence": 0.8},
        lambda c: c.top == "Monkeypox" and c.label is None and c.confidence < 0.8,
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filters_match_the_reference(dataset, name: str, kwargs: dict, keep) -> None:
    store, cases, _, _ = dataset
    flt = ReviewFilter(**kwargs)
    expected = _expected(cases, keep)
    assert expected, f"fixture should exercise {name}"
    assert _all(store, flt) == expected
    assert store.count(flt) == len(expected)


def test_run_filter_uses_the_runs_model_and_membership(dataset) -> None:
    store, cases, run1, run2 = dataset
    assert _all(store, ReviewFilter(run_id=run1)) == _expected(cases, lambda c: run1 in c.runs)
    assert _all(store, ReviewFilter(run_id=run2, reviewed=False)) == _expected(
        cases, lambda c: run2 in c.runs and c.label is None
    )


def test_sort_by_highest_entropy(dataset) -> None:
    store, cases, _, _ = dataset
    got = _all(store, ReviewFilter(sort="entropy"), page=9)
    assert got == _expected(cases, lambda c: True, sort="entropy")
    values = [cases[s].entropy for s in got]
    assert values == sorted(values, reverse=True)


def test_newest_first_and_offset_pages(dataset) -> None:
    store, cases, _, _ = dataset
    newest = _all(store, ReviewFilter(sort="newest"), page=11)
    assert newest == list(reversed(list(cases)))
    page = store.review_queue(ReviewFilter(), limit=5, offset=10)
    assert [i.sha256 for i in page.items] == _expected(cases, lambda c: True)[10:15]


def test_other_models_predictions_are_separate(dataset) -> None:
    store, cases, _, _ = dataset
    page = store.review_queue(ReviewFilter(model_version=MODEL_B), limit=100)
    assert len(page.items) == 10 and {i.top_class for i in page.items} == {"Normal"}
    assert page.next_cursor is None
    items_a = store.review_queue(ReviewFilter(), limit=100).items
    assert all(i.top_class == cases[i.sha256].top for i in items_a)  # active model is A


def test_queue_items_carry_what_the_gallery_shows(dataset) -> None:
    store, cases, _, _ = dataset
    (first,) = store.review_queue(ReviewFilter(reviewed=True), limit=1).items
    case = cases[first.sha256]
    assert (first.top_class, first.confidence, first.current_label) == (
        case.top,
        case.confidence,
        case.label,
    )
    assert first.entropy == pytest.approx(case.entropy)
    assert first.path and first.width == 64 and first.height == 48
    assert set(first.probabilities) == set(CLASSES)


def test_class_counts_and_bad_arguments(dataset) -> None:
    store, cases, _, _ = dataset
    expected: dict[str, int] = {}
    for c in cases.values():
        if c.label is None:
            expected[c.top] = expected.get(c.top, 0) + 1
    assert store.class_counts(ReviewFilter(reviewed=False)) == expected
    with pytest.raises(StoreError):
        store.review_queue(ReviewFilter(sort="random"), limit=10)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.review_queue(ReviewFilter(), limit=0)


def test_empty_store_has_no_model_to_queue(store: Store) -> None:
    with pytest.raises(StoreError, match="no model"):
        store.review_queue()
