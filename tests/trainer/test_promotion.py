"""Promotion gate both ways, forced promotion, training-run records and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.checkpoint import read_meta
from tests.trainer.conftest import RecordingReporter, TrainedRun, open_test_store, quick_options
from trainer.promote import decide, rollback
from trainer.train import run_training


def test_better_model_is_registered_and_activated(trained_run: TrainedRun) -> None:
    report = trained_run.report
    promo = report["promotion"]
    assert promo["activate"] is True
    assert promo["active_version"].endswith(trained_run.untrained_hash[:12])
    assert promo["new_value"] > promo["active_value"]  # judged on the same validation images
    assert report["registered"]["activated"] is True
    with open_test_store(trained_run.db) as store:
        active = store.active_model()
        assert active is not None and active.content_hash == report["content_hash"]
        assert active.parent_hash == trained_run.untrained_hash
        assert Path(active.path).is_file()  # a copy beside the database, not the run folder
        assert Path(active.path).parent == trained_run.db.with_name("store-models")
        assert read_meta(active.path).content_hash == report["content_hash"]
        run = store.training_run(report["registered"]["training_run"])
        assert run.status == "finished" and run.result_model == report["content_hash"]
        assert run.base_model == trained_run.untrained_hash
        assert run.data_summary["val_sha256"]  # the validation split is recorded with the run


def test_worse_model_is_registered_but_not_activated_unless_forced(
    trained_run: TrainedRun, tmp_path: Path
) -> None:
    """Starting from the untrained model with a negligible learning rate gives a model that
    cannot beat the trained active one: registered, not active; --force-promote activates it."""
    with open_test_store(trained_run.db) as store:
        active_before = store.active_model()
    assert active_before is not None
    weak = dict(
        init=str(trained_run.untrained),
        lr=1e-9,
        epochs=1,
        freeze=1.0,
        register=True,
        db=str(trained_run.db),
        split_file=Path(trained_run.report["run_dir"]) / "split.json",
    )
    report = run_training(
        quick_options(trained_run.data, tmp_path / "weak", **weak), RecordingReporter()
    )
    assert report["promotion"]["activate"] is False
    assert report["promotion"]["active_value"] > report["promotion"]["new_value"]
    with open_test_store(trained_run.db) as store:
        assert store.active_model().content_hash == active_before.content_hash
        versions = {m.content_hash: m for m in store.models()}
        assert report["content_hash"] in versions
        assert not versions[report["content_hash"]].active

    forced = run_training(
        quick_options(trained_run.data, tmp_path / "forced", seed=1, force_promote=True, **weak),
        RecordingReporter(),
    )
    assert forced["promotion"]["activate"] is True
    assert forced["promotion"]["reason"] == "forced by the user"
    with open_test_store(trained_run.db) as store:
        assert store.active_model().content_hash == forced["content_hash"]
        # rollback without a version: back to the parent (the untrained start model) ...
        assert rollback(store).content_hash == trained_run.untrained_hash
        # ... and to any named earlier version
        assert rollback(store, active_before.content_hash[:12]).content_hash == (
            active_before.content_hash
        )
        assert store.active_model().content_hash == active_before.content_hash


def test_gate_rules() -> None:
    assert decide({"macro_f1": 0.5}, None, None).activate  # first model
    assert not decide({"macro_f1": 0.9}, None, "old@1", comparable=False).activate
    assert decide({"macro_f1": 0.9}, None, "old@1", comparable=False, force=True).activate
    tie = decide({"macro_f1": 0.8}, {"macro_f1": 0.8}, "old@1")
    assert not tie.activate and "does not beat" in tie.reason
    assert decide({"nll": 0.3}, {"nll": 0.4}, "old@1", metric="nll").activate


def test_rollback_needs_a_parent_or_a_version(tmp_path: Path) -> None:
    with open_test_store(tmp_path / "empty.db") as store, pytest.raises(ValueError):
        rollback(store)


def test_shipped_default_is_the_baseline_before_anything_is_registered(
    trained_run: TrainedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an empty store the model in use is the shipped default: training starts from it, must
    beat it, and registering keeps the lineage (default registered first, rollback works)."""
    import engine.paths

    monkeypatch.setattr(engine.paths, "default_model_path", lambda: trained_run.untrained)
    db = tmp_path / "fresh.db"
    opts = quick_options(
        trained_run.data,
        tmp_path / "run",
        init="auto",
        register=True,
        db=str(db),
        epochs=2,
        freeze=1.0,
    )
    report = run_training(opts, RecordingReporter())
    assert report["params"]["parent"] == trained_run.untrained_hash  # started from the default
    assert report["model_in_use"]["registered"] is True  # registered, with its file, at start
    assert report["model_in_use"]["val"] is not None
    assert report["promotion"]["activate"] is True
    with open_test_store(db) as store:
        hashes = {m.content_hash: m.active for m in store.models()}
        assert hashes == {trained_run.untrained_hash: False, report["content_hash"]: True}
        assert all(Path(m.path).parent == store.models_dir for m in store.models())
        assert rollback(store).content_hash == trained_run.untrained_hash


def test_training_refuses_when_the_active_models_file_is_missing(
    trained_run: TrainedRun, tmp_path: Path
) -> None:
    """Defect 1: a path-less active model made training start from ImageNet without a word."""
    from trainer.data import DataError

    db = tmp_path / "store.db"
    with open_test_store(db) as store:
        store.register_model("c" * 64, name="lost", path=None, activate=True)
    opts = quick_options(trained_run.data, tmp_path / "run", init="auto", register=True, db=str(db))
    with pytest.raises(DataError, match="cannot start from the model in use.*lost@cccccccccccc"):
        run_training(opts, RecordingReporter())


def test_a_failed_run_is_noted_but_registers_no_model(tmp_path: Path) -> None:
    from tests.trainer.synth import make_folder
    from trainer.data import DataError

    data = make_folder(tmp_path / "data", per_class=4, classes=("Red",))  # one class: unusable
    db = tmp_path / "store.db"
    with pytest.raises(DataError, match="at least 2 classes"):
        run_training(
            quick_options(data, tmp_path / "run", register=True, db=str(db)), RecordingReporter()
        )
    with open_test_store(db) as store:
        assert store.models() == []
        run = store.training_run(1)
        assert run.status == "failed" and "at least 2 classes" in run.log
        assert run.result_model is None
