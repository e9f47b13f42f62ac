"""Model registry (exactly one active model, lookup by hash/prefix/name) and training runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from engine.store import NotFoundError, Store, StoreError
from engine.store.tables import ModelVersion
from tests.engine.store.conftest import MODEL_A, MODEL_B

MODEL_C = "ab" + "c" * 62


def test_first_model_is_active_and_activate_moves_the_single_flag(store: Store) -> None:
    store.register_model(MODEL_A, name="msid", metrics={"f1": 0.8})
    store.register_model(MODEL_B, name="clinic-ft", parent_hash=MODEL_A)
    assert store.active_model().content_hash == MODEL_A  # type: ignore[union-attr]
    assert store.activate_model("clinic-ft").content_hash == MODEL_B
    assert [m.content_hash for m in store.models() if m.active] == [MODEL_B]
    store.activate_model(MODEL_A[:8])
    assert [m.content_hash for m in store.models() if m.active] == [MODEL_A]
    store.register_model(MODEL_C, name="newer", activate=True)
    assert [m.content_hash for m in store.models() if m.active] == [MODEL_C]
    b = next(m for m in store.models() if m.content_hash == MODEL_B)
    assert b.parent_hash == MODEL_A and b.version == f"clinic-ft@{MODEL_B[:12]}"


def test_the_database_refuses_a_second_active_model(store: Store) -> None:
    store.register_model(MODEL_A, name="a")
    store.register_model(MODEL_B, name="b")
    with pytest.raises(StoreError, match="UNIQUE constraint") as err, store.write() as s:
        s.execute(update(ModelVersion).values(active=True))
    assert isinstance(err.value.__cause__, IntegrityError)
    assert [m.name for m in store.models() if m.active] == ["a"]  # rolled back


def test_registering_again_refreshes_without_duplicating(store: Store) -> None:
    store.register_model(MODEL_A, name="msid")
    store.register_model(
        MODEL_A.upper(), name="msid", path="/models/a.safetensors", metrics={"f1": 1}
    )
    (model,) = store.models()
    assert model.path == "/models/a.safetensors" and model.metrics == {"f1": 1}


def test_lookup_errors_are_clear(store: Store) -> None:
    store.register_model(MODEL_A, name="same")
    store.register_model("abcccc" + "0" * 58, name="same")
    store.register_model(MODEL_C, name="other")
    with pytest.raises(NotFoundError, match="models list"):
        store.activate_model("nothing-like-this")
    with pytest.raises(StoreError, match="several models"):
        store.activate_model("same")
    with pytest.raises(StoreError, match="several models"):
        store.activate_model("abcccc")  # prefix of two hashes
    with pytest.raises(NotFoundError):
        store.activate_model("ab")  # too short to be a prefix, and no model is called that
    assert store.activate_model(f"other@{MODEL_C[:12]}").name == "other"
    with pytest.raises(StoreError, match="not a hex digest"):
        store.register_model("xyz", name="bad")


def test_register_model_file_reads_its_metadata(store: Store, model_file: Path) -> None:
    info = store.register_model_file(model_file)
    assert info.name == "testmodel" and info.active and info.path == str(model_file.resolve())
    assert info.meta["classes"] == ["Chickenpox", "Measles", "Monkeypox", "Normal"]
    assert store.active_model_path() == model_file.resolve()
    broken = model_file.parent / "broken.safetensors"
    broken.write_bytes(b"nope")
    with pytest.raises(StoreError, match="broken.safetensors"):
        store.register_model_file(broken)


def test_training_runs_record_params_log_metrics_and_result(store: Store) -> None:
    store.register_model(MODEL_A, name="msid")
    run = store.start_training_run(MODEL_A, {"epochs": 3, "lr": 1e-4}, {"train": 120, "val": 30})
    store.update_training_run(run, append_log="epoch 1 loss 0.9\n", metrics={"val_f1": 0.7})
    store.update_training_run(run, append_log="epoch 2 loss 0.5\n", metrics={"val_acc": 0.8})
    assert store.training_run(run).finished_at is None
    store.register_model(MODEL_B, name="ft", parent_hash=MODEL_A)
    info = store.update_training_run(run, status="finished", result_hash=MODEL_B)
    assert (info.base_model, info.result_model, info.status) == (MODEL_A, MODEL_B, "finished")
    assert info.params == {"epochs": 3, "lr": 1e-4} and info.data_summary["train"] == 120
    assert info.metrics == {"val_f1": 0.7, "val_acc": 0.8}
    assert info.log.splitlines() == ["epoch 1 loss 0.9", "epoch 2 loss 0.5"]
    assert info.finished_at is not None
    with pytest.raises(StoreError, match="unknown status"):
        store.update_training_run(run, status="exploded")
    with pytest.raises(NotFoundError):
        store.training_run(42)
