"""Promotion gate both ways, forced promotion, training-run records and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.checkpoint import read_meta
from engine.onnx_predictor import OnnxPredictor, graph_path
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
        # the screening graph was exported with the run and registered beside the copy
        assert report["graph"] and Path(report["graph"]).parent == Path(report["run_dir"])
        graph = graph_path(active.path, report["content_hash"])
        assert OnnxPredictor(graph, read_meta(active.path)).version == report["version"]
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
    tie = decide({"macro_f1": 0.8, "n": 40}, {"macro_f1": 0.8}, "old@1")
    assert not tie.activate and "does not beat" in tie.reason


def test_gate_needs_a_margin_and_enough_photos_and_ignores_calibration() -> None:
    """Defect 3: the default margin is 0.01 macro-F1; under 30 gate photos only force works;
    NLL and ECE (which temperature scaling changes) cannot decide."""
    old = {"macro_f1": 0.800}
    assert not decide({"macro_f1": 0.805, "n": 100}, old, "old@1").activate  # within 0.01
    assert decide({"macro_f1": 0.815, "n": 100}, old, "old@1").activate
    few = decide({"macro_f1": 0.99, "n": 29}, old, "old@1")
    assert not few.activate and "fewer than 30" in few.reason
    assert decide({"macro_f1": 0.99, "n": 29}, old, "old@1", force=True).activate
    for metric in ("nll", "ece"):
        with pytest.raises(ValueError, match="cannot decide a promotion"):
            decide({metric: 0.1, "n": 100}, {metric: 0.5}, "old@1", metric=metric)


def test_rollback_needs_a_parent_or_a_version(tmp_path: Path) -> None:
    from engine.store import StoreError

    with open_test_store(tmp_path / "empty.db") as store, pytest.raises(StoreError):
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
        gate_fraction=0.4,
    )
    report = run_training(opts, RecordingReporter())
    assert report["params"]["parent"] == trained_run.untrained_hash  # started from the default
    assert report["model_in_use"]["registered"] is True  # registered, with its file, at start
    assert report["model_in_use"]["gate"]["n"] >= 30
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


def test_the_gate_slice_is_recorded_and_neither_tuned_on(trained_run: TrainedRun) -> None:
    """Defect 3: old and new were compared on the validation images early stopping and the
    temperature were fitted on. The gate slice is recorded in the split, apart from val."""
    import json

    run = Path(trained_run.report["run_dir"])
    split = json.loads((run / "split.json").read_text())["splits"]
    gate = {row["sha256"] for row in split["gate"]}
    val = {row["sha256"] for row in split["val"]}
    train = {row["sha256"] for row in split["train"]}
    assert len(gate) >= 30 and not (gate & val) and not (gate & train)
    scored = {row["sha256"] for row in trained_run.report["splits"]["gate"]["images"]}
    assert scored == gate
    promo = trained_run.report["promotion"]
    assert promo["slice"] == "gate" and promo["n"] == len(gate) and promo["min_delta"] == 0.01
    assert promo["new_value"] == trained_run.report["splits"]["gate"]["metrics"]["macro_f1"]


def test_promotion_is_rechecked_inside_the_activating_transaction(
    trained_run: TrainedRun, tmp_path: Path
) -> None:
    """Defect 2: a model a clinician activated while training ran was replaced uncompared."""
    import shutil

    db = tmp_path / "race.db"
    shutil.copyfile(trained_run.db, db)
    with open_test_store(db) as store:
        store.activate_model(trained_run.untrained_hash)
        other = store.register_model("d" * 64, name="clinicians-choice", path=None)

    class ActivatesMidRun(RecordingReporter):
        def emit(self, event: str, **fields) -> None:
            if event == "stage" and fields.get("stage") == "register":
                with open_test_store(db) as s:  # the clinician's click, from another process
                    s.activate_model(other.content_hash)
            super().emit(event, **fields)

    opts = quick_options(
        trained_run.data,
        tmp_path / "run",
        register=True,
        db=str(db),
        init="imagenet",
        gate_fraction=0.4,
        split_file=Path(trained_run.report["run_dir"]) / "split.json",
    )
    report = run_training(opts, ActivatesMidRun())
    assert report["promotion"]["activate"] is True  # it beat the model it was judged against
    assert report["registered"]["activated"] is False
    assert "was not compared" in report["registered"]["reason"]
    with open_test_store(db) as store:
        assert store.active_model().content_hash == other.content_hash
        # Promote re-checks the same way: judged against another model -> refused; force works
        refused = store.promote(report["content_hash"])
        assert not refused.promoted and "was not compared" in refused.reason
        assert store.promote(report["content_hash"], force=True).promoted


def test_no_activate_registers_and_promote_applies_the_gate(
    trained_run: TrainedRun, tmp_path: Path
) -> None:
    import shutil

    db = tmp_path / "gui.db"
    shutil.copyfile(trained_run.db, db)
    with open_test_store(db) as store:
        store.activate_model(trained_run.untrained_hash)
    opts = quick_options(
        trained_run.data,
        tmp_path / "run",
        register=True,
        db=str(db),
        init="imagenet",
        gate_fraction=0.4,
        activate=False,
        split_file=Path(trained_run.report["run_dir"]) / "split.json",
    )
    report = run_training(opts, RecordingReporter())
    assert report["promotion"]["activate"] is True and not report["registered"]["activated"]
    with open_test_store(db) as store:
        assert store.active_model().content_hash == trained_run.untrained_hash
        result = store.promote(report["content_hash"][:12])
        assert result.promoted and "beats" in result.reason
        assert result.previous.endswith(trained_run.untrained_hash[:12])
        assert store.active_model().content_hash == report["content_hash"]
