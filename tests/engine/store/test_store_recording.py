"""Recording screening results: dedup by hash, idempotence, no overwrite across models, resume."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.store import Store, StoreError
from engine.store.tables import Image, Prediction, Run, RunItem
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, entropy, fake_result


def _count(store: Store, table: type) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_same_bytes_in_two_folders_is_one_image_with_last_seen_path(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
    first = fake_result(1)
    moved = {**first, "path": "/usb/other-name.jpg"}
    store.record_results(run, [first, fake_result(2)])
    store.record_results(run, [moved])
    assert _count(store, Image) == 2
    image = store.image(first["sha256"])
    assert image.path == "/usb/other-name.jpg"
    assert (image.width, image.height, image.size_bytes) == (64, 48, 1001)
    assert image.last_seen_at >= image.first_seen_at
    assert _count(store, Prediction) == 2  # the moved copy was not screened twice
    assert store.run(run).counts.seen == 3  # both paths belong to the run


def test_recording_the_same_batch_twice_is_idempotent(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    batch = [fake_result(i) for i in range(5)]
    first = store.record_results(run, batch)
    again = store.record_results(run, batch)
    assert (first.screened, first.skipped) == (5, 0)
    assert (again.screened, again.skipped) == (0, 5)
    assert _count(store, Prediction) == 5
    assert _count(store, RunItem) == 5


def test_a_model_never_overwrites_another_models_prediction(store: Store) -> None:
    run_a = store.begin_run("/photos", {}, MODEL_A)
    store.record_results(run_a, [fake_result(1, top="Measles", confidence=0.8)])
    run_b = store.begin_run("/photos", {}, MODEL_B)
    store.record_results(run_b, [fake_result(1, top="Normal", confidence=0.6)])
    # Model A again, with different numbers: the first prediction stays as it was.
    store.record_results(run_a, [fake_result(1, top="Chickenpox", confidence=0.99)])
    preds = {p.model_version: p for p in store.predictions(fake_result(1)["sha256"])}
    assert set(preds) == {MODEL_A, MODEL_B}
    assert (preds[MODEL_A].top_class, preds[MODEL_A].confidence) == ("Measles", 0.8)
    assert (preds[MODEL_B].top_class, preds[MODEL_B].confidence) == ("Normal", 0.6)
    assert preds[MODEL_A].entropy == pytest.approx(entropy(preds[MODEL_A].probabilities))
    assert preds[MODEL_A].run_id == run_a


def test_done_hashes_is_per_model(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    store.record_results(run, [fake_result(i) for i in range(3)])
    hashes = [fake_result(i)["sha256"] for i in range(5)]
    assert store.done_hashes(MODEL_A, hashes) == set(hashes[:3])
    assert store.done_hashes(MODEL_A) == set(hashes[:3])
    assert store.done_hashes(MODEL_B, hashes) == set()  # unknown model: nothing done


def test_errors_and_skips_are_counted_and_kept_with_the_run(store: Store) -> None:
    run = store.begin_run("/photos", {"recursive": True}, MODEL_A)
    store.record_results(run, [fake_result(1)])
    batch = [
        fake_result(1, probabilities=None),  # skipped by the job: already screened
        fake_result(2),
        {"path": "/photos/broken.jpg", "sha256": "c" * 64, "error": "truncated JPEG"},
        {"path": "/photos/unreadable.jpg", "error": "permission denied"},  # no hash at all
    ]
    stats = store.record_results(run, batch)
    assert (stats.screened, stats.skipped, stats.failed) == (1, 1, 2)
    info = store.finish_run(run, "finished", total=4)
    assert info.status == "finished" and info.finished_at is not None
    assert (info.total, info.counts.screened, info.counts.failed) == (4, 2, 2)
    assert info.counts.seen == 4
    with store.read() as s:
        stmt = select(RunItem.path, RunItem.error).where(RunItem.error.is_not(None))
        errors = {path: error for path, error in s.execute(stmt)}
    assert errors == {
        "/photos/broken.jpg": "truncated JPEG",
        "/photos/unreadable.jpg": "permission denied",
    }


def test_top_class_and_confidence_default_to_the_argmax(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    result = fake_result(1)
    del result["top_class"], result["confidence"]
    result["probabilities"] = {"Chickenpox": 0.1, "Measles": 0.6, "Monkeypox": 0.2, "Normal": 0.1}
    store.record_results(run, [result])
    (pred,) = store.predictions(result["sha256"])
    assert (pred.top_class, pred.confidence) == ("Measles", 0.6)


@pytest.mark.parametrize(
    "bad",
    [
        {"sha256": "not-a-hash"},
        {"probabilities": {"Measles": float("nan")}},
        {"probabilities": {"Measles": 1.7}},
        {"path": None},
    ],
)
def test_bad_results_are_refused_and_the_batch_is_not_half_written(store: Store, bad: dict) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    with pytest.raises(StoreError):
        store.record_results(run, [fake_result(1), fake_result(2, **bad)])
    assert _count(store, Image) == 0 and _count(store, Prediction) == 0


def test_finish_run_rejects_unknown_status_and_unknown_run(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    with pytest.raises(StoreError, match="status"):
        store.finish_run(run, "done")
    with pytest.raises(StoreError, match="#999"):
        store.record_results(999, [fake_result(1)])


def test_record_results_checks_the_runs_model(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    with pytest.raises(StoreError, match="another model"):
        store.record_results(run, [fake_result(1)], model_version=MODEL_B)


def test_resume_reopens_an_interrupted_run_but_not_a_live_or_finished_one(store: Store) -> None:
    live = store.begin_run("/photos", {}, MODEL_A)
    # A run that recorded a batch moments ago may still be alive elsewhere: not resumed.
    assert store.begin_run("/photos", {}, MODEL_A, resume=True) != live
    cancelled = store.begin_run("/photos", {}, MODEL_A)
    store.record_results(cancelled, [fake_result(1)])
    store.finish_run(cancelled, "cancelled")
    assert store.find_resumable_run("/photos", MODEL_A) == cancelled
    assert store.find_resumable_run("/photos", MODEL_B) is None
    resumed = store.begin_run("/photos", {"batch_size": 8}, MODEL_A, resume=True, total=3)
    assert resumed == cancelled
    info = store.run(resumed)
    assert (info.status, info.finished_at, info.total) == ("running", None, 3)
    assert info.options == {"batch_size": 8}
    store.finish_run(resumed, "finished")
    assert store.begin_run("/photos", {}, MODEL_A, resume=True) not in (live, cancelled)


def test_runs_are_listed_newest_first_with_live_counts(store: Store) -> None:
    first = store.begin_run("/a", {}, MODEL_A)
    second = store.begin_run("/b", {}, MODEL_A)
    store.record_results(second, [fake_result(1), fake_result(2)])
    runs = store.runs()
    assert [r.id for r in runs] == [second, first]
    assert runs[0].counts.screened == 2 and runs[0].status == "running"


def test_begin_run_registers_an_unknown_model_and_makes_the_first_one_active(
    store: Store, tmp_path: Path
) -> None:
    store.begin_run("/photos", {}, MODEL_A, model_name="msid", model_path=tmp_path / "m.st")
    store.begin_run("/photos", {}, MODEL_B, model_name="finetuned")
    models = {m.content_hash: m for m in store.models()}
    assert models[MODEL_A].active and not models[MODEL_B].active
    assert models[MODEL_A].name == "msid" and models[MODEL_A].path == str(tmp_path / "m.st")


def test_a_run_left_running_by_a_crash_is_interrupted_and_resumable(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A)
    store.record_results(run, [fake_result(1)])
    assert not store.run(run).interrupted
    with store.write() as s:  # as if the process (on another host) fell silent 2.5 min ago
        row = s.get(Run, run)
        row.updated_at = row.updated_at - timedelta(seconds=150)
        row.heartbeat_at, row.owner_host = row.updated_at, "another-host"
    assert store.run(run).interrupted
    assert store.begin_run("/photos", {}, MODEL_A, resume=True) == run
    assert not store.run(run).interrupted and store.run(run).counts.screened == 1
