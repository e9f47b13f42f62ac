"""Results belong to runs: a queue across models (the gallery's "All runs"), the clinician's label
read first by the class filter and sort, a folder screened again with the same model continuing
its run, and a re-screen's link to the run it screened again."""

from __future__ import annotations

import pytest

from engine.store import REFER, ReviewFilter, Store
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, fake_result

SORTS = ("confidence", "entropy", "newest", "name", "class")


def _two_models(store: Store) -> tuple[int, int]:
    """Model A (active) screened images 0..9 as Measles; model B re-screened 5..14 as Normal."""
    run_a = store.begin_run("/clinic", {}, MODEL_A, model_name="old")
    store.record_results(run_a, [fake_result(i, "Measles", 0.5 + i / 40) for i in range(10)])
    store.finish_run(run_a, "finished")
    run_b = store.begin_run("/clinic", {"rescreen_of": run_a}, MODEL_B, model_name="new")
    store.record_results(run_b, [fake_result(i, "Normal", 0.6 + i / 50) for i in range(5, 15)])
    store.finish_run(run_b, "finished")
    return run_a, run_b


def _all_pages(store: Store, flt: ReviewFilter, limit: int = 3) -> list:
    items, after = [], None
    while True:
        page = store.review_queue(flt, limit=limit, after=after)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        after = page.next_cursor


def test_all_models_shows_every_image_once_with_the_model_that_made_it(store: Store) -> None:
    run_a, run_b = _two_models(store)
    assert store.count(ReviewFilter()) == 10  # the active model's only, as before
    items = store.review_queue(ReviewFilter(all_models=True), limit=100).items
    by_path = {i.path: i for i in items}
    assert len(items) == len(by_path) == 15
    assert {by_path[f"/photos/img{i}.jpg"].model_name for i in range(10)} == {"old"}
    assert {by_path[f"/photos/img{i}.jpg"].model_name for i in range(10, 15)} == {"new"}
    assert by_path["/photos/img12.jpg"].model_version == MODEL_B
    assert by_path["/photos/img12.jpg"].run_id == run_b
    assert by_path["/photos/img12.jpg"].model_text == "new@bbbbbb"
    assert store.count(ReviewFilter(all_models=True)) == 15
    assert sum(store.class_counts(ReviewFilter(all_models=True)).values()) == 15

    store.activate_model(MODEL_B)  # a switch: B's predictions first, A's where B has none
    items = store.review_queue(ReviewFilter(all_models=True), limit=100).items
    models = {i.path: i.model_name for i in items}
    assert [models[f"/photos/img{i}.jpg"] for i in range(15)] == ["old"] * 5 + ["new"] * 10
    # a run still shows its own model's results, whichever model is active
    old_run = store.review_queue(ReviewFilter(run_id=run_a, all_models=True), limit=100).items
    assert len(old_run) == 10 and {i.model_name for i in old_run} == {"old"}


@pytest.mark.parametrize("sort", SORTS)
def test_all_models_pages_hold_each_image_once(store: Store, sort: str) -> None:
    _two_models(store)
    flt = ReviewFilter(all_models=True, sort=sort)  # type: ignore[arg-type]
    items = _all_pages(store, flt)
    assert len(items) == 15 and len({i.sha256 for i in items}) == 15


def test_class_filter_and_sort_read_the_label_where_asked(store: Store) -> None:
    run = store.begin_run("/clinic", {}, MODEL_A, model_meta={"classes": CLASSES})
    store.record_results(run, [fake_result(i, "Measles", 0.5 + i / 20) for i in range(6)])
    store.label(fake_result(0)["sha256"], "Normal", who="dr a", classes=CLASSES)
    store.label(fake_result(1)["sha256"], REFER, who="dr a", classes=CLASSES)
    store.label(fake_result(2)["sha256"], "Chickenpox", who="dr a", classes=CLASSES)
    by_model = ReviewFilter(predicted_class="Measles")
    by_label = ReviewFilter(predicted_class="Measles", by_label=True)
    assert store.count(by_model) == 6
    assert store.count(by_label) == 4  # 0 and 2 are labelled otherwise; "refer" is no class
    assert store.count(ReviewFilter(predicted_class="Normal", by_label=True)) == 1
    assert store.class_counts(ReviewFilter(by_label=True)) == {
        "Chickenpox": 1,
        "Measles": 4,
        "Normal": 1,
    }
    flt = ReviewFilter(sort="class", by_label=True)
    order = [i.path for i in _all_pages(store, flt, limit=2)]
    assert order[0] == "/photos/img2.jpg" and order[-1] == "/photos/img0.jpg"
    plain = [i.path for i in _all_pages(store, ReviewFilter(sort="class"), limit=2)]
    assert len(plain) == 6 and plain[0] == "/photos/img0.jpg"  # all Measles: by image


def test_screening_again_with_the_same_model_continues_the_finished_run(store: Store) -> None:
    run = store.begin_run("/clinic", {}, MODEL_A)
    store.record_results(run, [fake_result(1)])
    store.finish_run(run, "finished")
    again = store.begin_run("/clinic", {}, MODEL_A, resume=True, continue_finished=True)
    assert again == run and store.run(run).status == "running"
    store.finish_run(again, "finished")
    other = store.begin_run("/clinic", {}, MODEL_B, resume=True, continue_finished=True)
    assert other != run  # another model: a new run


def test_a_rescreen_is_linked_to_the_run_it_screened_again(store: Store) -> None:
    run_a, run_b = _two_models(store)
    assert store.run(run_b).rescreen_of == run_a
    assert store.run(run_a).rescreen_of is None
    assert {r.id: r.rescreen_of for r in store.runs()} == {run_a: None, run_b: run_a}


def test_all_models_reads_an_empty_store_and_one_without_an_active_model(store: Store) -> None:
    assert store.review_queue(ReviewFilter(all_models=True)).items == []
    run = store.begin_run("/clinic", {}, MODEL_A)
    store.record_results(run, [fake_result(1)])
    with store.write() as s:  # no model marked active (a store a crash left so)
        from engine.store.tables import ModelVersion

        s.query(ModelVersion).update({"active": False})
    assert len(store.review_queue(ReviewFilter(all_models=True)).items) == 1
