"""The fine-tune dialog shows how many labels each class has, and how many more would let it be
checked, before training (from the store) and as the trainer counted them; when a run ends it
shows the promotion decision in plain words, the figures behind a collapsed "Details" toggle,
as the comparison does. The run here is a fake one: its ``done`` event and report carry the
trainer's ``plain``, ``details`` and ``method``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.desktop.models_support import CLASSES3, labelled_store, save_model_file
from tests.desktop.training.test_finetune_dialog import _open

SHOTS = Path("/tmp/shots-rails")
PROMOTION = {
    "activate": True,
    "reason": "macro_f1 0.9375000000001 beats 0.8125 by more than 0.01",
    "method": "cross-fit",
    "plain": ["caught 15 of 16 Blue photos instead of 12", "wrong on 3 fewer photos"],
    "details": {
        "mcc": {"candidate": 0.81, "active": 0.62},
        "ece": {"candidate": 0.05, "active": 0.11},
        "nll": {"candidate": 0.42, "active": 0.61},
        "accuracy": {"candidate": 0.9, "active": 0.8},
    },
}


def test_trainer_floor_is_the_dialogs() -> None:
    from desktop.services.training import MIN_LABELS_TO_CHECK
    from trainer.class_plan import MIN_LABELS_PER_CLASS

    assert MIN_LABELS_TO_CHECK == MIN_LABELS_PER_CLASS


def test_labels_per_class_and_how_many_more_before_training(qtbot: Any, store_env: Path) -> None:
    ls = labelled_store(store_env, {"Blue": 3, "Green": 12})  # no Red label at all
    dialog = _open(qtbot, ls.store, store_env / "runs")
    text = dialog.class_counts.text()
    assert "Blue 3 (2 more would let it be checked)" in text
    assert "Green 12 \u00b7" in text and "Red 0 (5 more would let it be checked)" in text
    # the trainer's own count (its ``classes`` event) replaces the estimate when a run starts
    dialog._handle({"event": "classes", "counts": {"Blue": 7, "Green": 12, "Red": 1},
                    "min_labels": 5, "lines": []})  # fmt: skip
    assert "Blue 7 \u00b7" in dialog.class_counts.text()
    assert "Red 1 (4 more would let it be checked)" in dialog.class_counts.text()
    ls.store.close()


class FakeRun:
    """A finished run as engine.training.TrainingProcess shows it: events, then a result."""

    def __init__(self, run_dir: Path, result: Any, events: list[dict[str, Any]]) -> None:
        self.run_dir, self._result, self.events, self.running = run_dir, result, [], True
        self._pending = events

    def poll(self) -> list[dict[str, Any]]:
        self.running = False
        new, self._pending = self._pending, []
        self.events += new
        return new

    def result(self) -> Any:
        return self._result


def _run_dir(root: Path, store: Any, promotion: dict[str, Any]) -> tuple[Path, Any]:
    run_dir = root / "gui-run"
    run_dir.mkdir(parents=True)
    new = save_model_file(run_dir / "model.safetensors", CLASSES3, "finetuned", seed=5)
    metrics = {"accuracy": 0.9, "macro_f1": 0.9375, "n": 16}
    active = store.active_model()
    report = {
        "classes": CLASSES3, "version": new.version, "model": str(run_dir / "model.safetensors"),
        "status": "finished", "splits": {"gate": {"metrics": metrics, "figures": []}},
        "model_in_use": {"version": active.version, "gate": dict(metrics, macro_f1=0.8125)},
        "promotion": promotion, "registered": {},
    }  # fmt: skip
    (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return run_dir, new


def _finish(qtbot: Any, store_env: Path, promotion: dict[str, Any]) -> Any:
    from engine.training import TrainingResult

    ls = labelled_store(store_env, {"Blue": 6, "Green": 6, "Red": 6})
    dialog = _open(qtbot, ls.store, store_env / "runs")
    run_dir, new = _run_dir(store_env / "runs", ls.store, promotion)
    result = TrainingResult(
        "finished", 0, new.version, str(run_dir / "model.safetensors"),
        str(run_dir / "report.json"), True, False, None, promotion,
    )  # fmt: skip
    done = {"event": "done", "status": "finished", "promotion": promotion}
    dialog.proc = FakeRun(run_dir, result, [done])
    dialog._poll()
    qtbot.addWidget(dialog.compare)
    return dialog, ls


def test_decision_in_plain_words_with_details_collapsed(qtbot: Any, store_env: Path) -> None:
    dialog, ls = _finish(qtbot, store_env, PROMOTION)
    view = dialog.decision
    assert view.isVisible()
    assert "Promote" in view.headline.text() and "cross-fitting" in view.headline.text()
    assert "0.9375 beats 0.8125" in view.headline.text()  # the reason, numbers shortened
    assert "caught 15 of 16 Blue photos instead of 12" in view.plain.text()
    assert "wrong on 3 fewer photos" in view.plain.text()
    assert view.toggle.isVisible() and not view.details.isVisible()  # collapsed at first
    view.toggle.click()
    assert view.details.isVisible()
    rows = {
        view.details.item(r, 0).text(): [view.details.item(r, c).text() for c in (1, 2, 3)]
        for r in range(view.details.rowCount())
    }
    assert rows["MCC (agreement beyond chance)"] == ["0.620", "0.810", "+0.190 better"]
    assert rows["Calibration error (ECE)"] == ["0.110", "0.050", "-0.060 better"]
    assert rows["Log loss (NLL)"][2] == "-0.190 better"
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SHOTS / "finetune_decision.png"))

    compare = dialog.compare  # the comparison says the same plain words
    assert "caught 15 of 16 Blue photos" in compare.decision.plain.text()
    assert "cross-fitting" in compare.gate_label.text()
    assert compare.decision.toggle.isVisible() and not compare.decision.details.isVisible()
    compare.decision.toggle.click()
    compare.show()
    compare.grab().save(str(SHOTS / "compare_decision.png"))
    ls.store.close()


def test_without_plain_words_the_reason_is_shown(qtbot: Any, store_env: Path) -> None:
    older = {"activate": False, "reason": "macro_f1 0.5 does not beat 0.6"}
    dialog, ls = _finish(qtbot, store_env, older)
    view = dialog.decision
    assert "Keep the model in use" in view.headline.text()
    assert "0.5 does not beat 0.6" in view.headline.text()
    assert not view.plain.isVisible() and not view.toggle.isVisible()
    ls.store.close()
