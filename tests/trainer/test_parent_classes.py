"""A fine-tune keeps every class of its parent; a model that lost a class is never activated;
changing the class list is deliberate (``--classes``) and named; per-class label counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from engine.checkpoint import read_meta
from engine.store import Store
from engine.store.errors import StoreError
from tests.trainer.conftest import RecordingReporter, quick_options
from tests.trainer.synth import make_folder, save_start_model
from trainer.class_plan import MIN_LABELS_PER_CLASS, plan_classes
from trainer.cli import main
from trainer.data import class_weights
from trainer.train import run_training

PARENT = ["Blue", "Green", "Red"]


def test_fine_tune_keeps_the_parents_classes_and_evaluate_takes_the_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "parent.safetensors"
    save_start_model(parent, PARENT, input_size=64)
    data = make_folder(tmp_path / "data", per_class=8, classes=("Blue", "Green"))  # no Red
    reporter = RecordingReporter()
    opts = quick_options(data, tmp_path / "run", init=str(parent), epochs=1)
    report = run_training(opts, reporter)
    model = Path(report["model"])
    assert list(read_meta(model).classes) == PARENT  # the parent's classes, in its order
    event = next(e for e in reporter.events() if e["event"] == "classes")
    assert event["counts"] == {"Blue": 8, "Green": 8, "Red": 0}
    red = f"Red: 0 labels — keeps the parent's knowledge; {MIN_LABELS_PER_CLASS} more"
    assert red in event["lines"][2]
    assert red in capsys.readouterr().err  # said to people too (poxscreen train shows it)
    # the model knows Red, so evaluating Red photos is not refused
    reds = make_folder(tmp_path / "eval", per_class=2, classes=("Red", "Blue"))
    out = tmp_path / "eval-out"
    assert main(["evaluate", str(model), str(reds), "--out", str(out), "--device", "cpu"]) == 0
    assert json.loads((out / "report.json").read_text())["metrics"]["n"] == 4


def test_no_class_with_enough_labels_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "parent.safetensors"
    save_start_model(parent, PARENT, input_size=64)
    data = make_folder(tmp_path / "data", per_class=MIN_LABELS_PER_CLASS - 1)
    args = ["train", "--data", str(data), "--init", str(parent), "--out", str(tmp_path / "r")]
    assert main([*args, "--no-register", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "no class has enough labels to decide anything" in err
    assert "Red: 4 labels — keeps the parent's knowledge; 1 more would let it be checked" in err


def test_class_weighted_loss_with_a_class_without_photos_is_finite() -> None:
    weights = class_weights([0, 0, 1], 3)  # class 2 has no photos
    assert torch.isfinite(weights).all() and weights[2] == 0
    logits = torch.randn(3, 3, requires_grad=True)
    loss = F.cross_entropy(logits, torch.tensor([0, 0, 1]), weight=weights)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()  # type: ignore[arg-type]


def test_a_deliberate_class_change_is_named() -> None:
    plan = plan_classes(PARENT, ["Blue", "Green", "Scabies"], ["Blue", "Green"])
    assert plan.classes == ["Blue", "Green", "Scabies"]
    assert plan.note() == "classes changed: + Scabies, − Red"
    assert plan.training_params()["classes_changed_deliberately"] is True
    kept = plan_classes(PARENT, None, ["Green"])
    assert kept.classes == PARENT and not kept.deliberate and kept.training_params() == {}


def _register(store: Store, tag: str, classes: list[str], **meta: object) -> str:
    content_hash = tag * 64
    store.register_model(
        content_hash, name=tag, path=None, meta={"classes": classes, **meta}, activate=False
    )
    return content_hash


def test_a_model_that_lost_a_class_is_never_activated(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store.db") as store:
        parent = "a" * 64
        store.register_model(parent, name="a", path=None, meta={"classes": PARENT}, activate=True)
        lost = "b" * 64
        store.register_model(
            lost, name="b", path=None, meta={"classes": ["Blue", "Green"]}, parent_hash=parent
        )
        result = store.promote(lost, force=True)
        assert not result.promoted
        assert "lacks Red, which the model in use knows" in result.reason
        assert "never activated" in result.reason
        with pytest.raises(StoreError, match="lacks Red"):
            store.activate_model(lost)
        changed = "c" * 64
        store.register_model(
            changed,
            name="c",
            path=None,
            meta={
                "classes": ["Blue", "Green", "Scabies"],
                "training": {
                    "classes_changed_deliberately": True,
                    "classes_changes": ["+ Scabies", "− Red"],
                },
            },
            parent_hash=parent,
        )
        assert store.promote(changed, force=True).promoted  # set deliberately: allowed
        assert store.active_model().content_hash == changed  # type: ignore[union-attr]
        store.activate_model(parent)  # rolling back to its parent stays possible


def test_a_forced_registration_of_a_model_that_lost_a_class_does_not_activate_it(
    tmp_path: Path,
) -> None:
    parent = save_start_model(tmp_path / "parent.safetensors", PARENT, input_size=64)
    lost = save_start_model(tmp_path / "lost.safetensors", ["Blue", "Green"], input_size=64)
    with Store.open(tmp_path / "store.db") as store:
        store.add_model_file(tmp_path / "parent.safetensors", activate=True)
        gate = {"forced": True, "passed": True, "active_hash": parent.content_hash}
        reg = store.register_trained(tmp_path / "lost.safetensors", lost, activate=True, gate=gate)
        assert not reg.activated and "lacks Red" in reg.reason
        assert store.active_model().content_hash == parent.content_hash  # type: ignore[union-attr]


def test_validation_metrics_score_only_the_classes_present() -> None:
    import numpy as np

    from trainer.metrics import classification_metrics

    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    out = classification_metrics([0, 1, 0], probs, PARENT)  # no Red photo in validation
    assert out["per_class"]["Red"]["support"] == 0 and out["per_class"]["Red"]["roc_auc"] is None
    assert out["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)  # over Blue and Green only
