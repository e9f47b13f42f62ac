"""A weak model cannot slip in: activating a version that scored lower than the model in use,
was never evaluated or lacks its out-of-scope guard asks first, Cancel being the default; the
comparison's forced promotion defaults to Cancel, names missing checks, and Discard removes the
new model from the list and deletes its copy in the store's model folder."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.desktop.models_support import CLASSES3, save_model_file, screenshot


def _guarded_model_file(path: Path, name: str, seed: int = 0) -> Any:
    """A small model file that carries out-of-scope guard statistics."""
    import torch

    from engine.checkpoint import ModelMeta, save_model
    from engine.guard import ScopeGuard
    from engine.model import MobileNetV2MSCAPFR

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(1280, 4)))
    guard = ScopeGuard(
        center=np.full(1280, 0.5), basis=basis, class_means=rng.normal(size=(3, 4)),
        precision=np.eye(4), residual_weight=1.0, threshold=10.0,
    )  # fmt: skip
    model = MobileNetV2MSCAPFR(3, padding="symmetric").eval()
    meta = ModelMeta(classes=CLASSES3, name=name, padding="symmetric", trained=True, input_size=64)
    return save_model(path, model, meta, guard)


class Boxes:
    """Every risky question asked; answers with the default button (Enter) or the action."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, accept: bool = False) -> None:
        from PySide6.QtWidgets import QMessageBox

        self.asked: list[tuple[str, str, str]] = []
        self.accept = accept

        def fake_exec(box: QMessageBox) -> int:
            default = box.defaultButton()
            self.asked.append((box.windowTitle(), box.text(), default.text() if default else ""))
            action = next(
                b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole
            )
            (action if self.accept else default).click()
            return 0

        monkeypatch.setattr(QMessageBox, "exec", fake_exec)


def _dialog(qtbot: Any, active: Any) -> Any:
    from desktop.versions.models_dialog import ModelsDialog

    dialog = ModelsDialog(active)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == len(active.store.models()), timeout=20_000)
    return dialog


def _select(dialog: Any, name: str) -> None:
    rows = [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    dialog.table.selectRow(rows.index(name))


def test_activating_a_weaker_model_asks_for_a_reason_and_cancel_is_the_default(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import Store
    from tests.desktop.reason_support import Reasons

    store = Store.open(store_env / "case.db")
    used = save_model_file(store_env / "used.safetensors", CLASSES3, "in-use", seed=1)
    store.register_model_file(store_env / "used.safetensors", activate=True)
    gate = {
        "metric": "macro_f1", "new_value": 0.556, "active_value": 0.908, "n": 12,
        "active_hash": used.content_hash, "passed": False, "reason": "does not beat",
    }  # fmt: skip
    save_model_file(
        store_env / "weak.safetensors", CLASSES3, "weak", seed=2, metrics={"gate": gate}
    )
    save_model_file(store_env / "blind.safetensors", CLASSES3, "unevaluated", seed=3)
    store.add_model_file(store_env / "weak.safetensors", activate=False)
    store.add_model_file(store_env / "blind.safetensors", activate=False)
    reasons = Reasons(monkeypatch)  # Enter: the default answer
    dialog = _dialog(qtbot, active_for(store))

    _select(dialog, "weak")
    dialog.activate_selected()
    qtbot.waitUntil(lambda: "Not activated" in dialog.message.text(), timeout=20_000)
    title, text, default, enabled = reasons.asked[-1]
    assert default == "Cancel" and title == "Activate this model?" and not enabled
    assert "this model scored 0.556 on its 12 check photos" in text.lower()
    assert "the model in use scored 0.908" in text
    assert store.active_model().name == "in-use"
    weak = next(m for m in store.models() if m.name == "weak")
    assert "activations" not in weak.meta  # Cancel records nothing

    _select(dialog, "unevaluated")
    dialog.activate_selected()
    qtbot.waitUntil(lambda: len(reasons.asked) == 2, timeout=20_000)
    assert "no recorded evaluation" in reasons.asked[-1][1] and reasons.asked[-1][2] == "Cancel"
    assert store.active_model().name == "in-use"

    reasons.reason = "the lab's reference set favours it"  # typed, then "Activate anyway"
    _select(dialog, "weak")
    with qtbot.waitSignal(dialog.active.changed, timeout=20_000):
        dialog.activate_selected()
    assert store.active_model().name == "weak"
    record = store.active_model().meta["activations"][-1]
    assert record["reason"] == "the lab's reference set favours it" and record["forced"]
    assert record["who"] == "dr-test" and "0.556" in record["concerns"][0]
    store.close()


def test_activating_a_model_without_the_guard_says_so(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import Store
    from tests.desktop.reason_support import Reasons

    store = Store.open(store_env / "case.db")
    _guarded_model_file(store_env / "used.safetensors", "guarded")
    store.register_model_file(store_env / "used.safetensors", activate=True)
    val = {"val": {"macro_f1": 0.9, "accuracy": 0.9, "n": 30}}
    save_model_file(store_env / "bare.safetensors", CLASSES3, "no-guard", seed=4, metrics=val)
    store.add_model_file(store_env / "bare.safetensors", activate=False)
    reasons = Reasons(monkeypatch)
    dialog = _dialog(qtbot, active_for(store))
    _select(dialog, "no-guard")
    dialog.activate_selected()
    qtbot.waitUntil(lambda: "Not activated" in dialog.message.text(), timeout=20_000)
    text = reasons.asked[-1][1]
    assert "has no out-of-scope guard: it cannot flag non-skin pictures" in text
    assert "\u26a0 Model: forced, no guard" in text  # it says the model will be marked
    store.close()


def _run_dir(store_env: Path, store: Any, used: Any, *, guarded_new: bool) -> Path:
    """A finished run whose new model the gate advised against, registered, not active."""
    run_dir = store_env / "run"
    run_dir.mkdir()
    new_file = run_dir / "model.safetensors"
    new = (
        _guarded_model_file(new_file, "finetuned", seed=5)
        if guarded_new
        else save_model_file(new_file, CLASSES3, "finetuned", seed=5)
    )
    metrics = {"accuracy": 0.6, "macro_f1": 0.556, "n": 12}
    report = {
        "classes": CLASSES3, "version": new.version, "model": str(new_file), "status": "finished",
        "splits": {"gate": {"metrics": metrics, "figures": []}},
        "model_in_use": {"version": used.version, "gate": dict(metrics, macro_f1=0.908)},
        "promotion": {"activate": False, "reason": "macro_f1 0.556 does not beat 0.908"},
        "registered": {},
    }  # fmt: skip
    (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
    store.add_model_file(new_file, activate=False)
    return run_dir


def _in_use_and_new(store_env: Path, guarded_new: bool) -> tuple[Any, Path]:
    """A store whose guarded model "in-use" is active, and a fine-tune run beside it."""
    from engine.store import Store

    store = Store.open(store_env / "case.db")
    used = _guarded_model_file(store_env / "used.safetensors", "in-use", seed=1)
    store.register_model_file(store_env / "used.safetensors", activate=True)
    return store, _run_dir(store_env, store, used, guarded_new=guarded_new)


def test_forced_promotion_defaults_to_cancel_and_missing_guard_is_named(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.training.compare_view import CompareView

    store, run_dir = _in_use_and_new(store_env, guarded_new=False)
    boxes = Boxes(monkeypatch)
    compare = CompareView(active_for(store), run_dir)
    qtbot.addWidget(compare)
    compare.show()
    qtbot.waitUntil(lambda: "new model:" in compare.checks.text(), timeout=20_000)
    text = compare.checks.text()
    assert "the new model has no out-of-scope guard: it cannot flag non-skin pictures" in text
    assert "out-of-scope guard: yes" in text and "out-of-scope guard: no" in text
    screenshot(compare, "compare_view_checks")

    compare.promote()  # Enter on the question: the default answer
    title, question, default = boxes.asked[-1]
    assert title == "Promote anyway?" and default == "Cancel" and "0.556" in question
    assert compare.outcome is None and store.active_model().name == "in-use"
    store.close()


def test_discard_removes_the_model_from_the_list_and_deletes_its_copy(
    qtbot: Any, store_env: Path, active_for: Any
) -> None:
    from desktop.training.compare_view import CompareView

    store, run_dir = _in_use_and_new(store_env, guarded_new=True)
    copy = Path(next(m for m in store.models() if m.name == "finetuned").path)
    assert copy.parent == store.models_dir and copy.is_file()
    active = active_for(store)
    compare = CompareView(active, run_dir)
    qtbot.addWidget(compare)
    qtbot.waitUntil(lambda: "new model:" in compare.checks.text(), timeout=20_000)
    assert "Note:" not in compare.checks.text()  # both carry the guard: nothing missing
    compare.discard()
    qtbot.waitUntil(lambda: compare.outcome == "discarded", timeout=20_000)
    assert not copy.exists()
    assert (run_dir / "model.safetensors").is_file()  # outside the model folder: kept
    assert [m.name for m in store.models()] == ["in-use"]
    dialog = _dialog(qtbot, active)
    assert [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())] == ["in-use"]
    store.close()


def test_a_clinician_cannot_promote_or_discard_in_the_comparison_and_is_told_why(
    qtbot: Any, store_env: Path, active_for: Any
) -> None:
    from desktop.training.compare_view import CompareView
    from desktop.training.finetune_dialog import FinetuneDialog

    store, run_dir = _in_use_and_new(store_env, guarded_new=True)
    active = active_for(store)
    admin = CompareView(active, run_dir)
    clinician = CompareView(active, run_dir, admin=False)
    for view in (admin, clinician):
        qtbot.addWidget(view)
    assert admin.promote_button.isEnabled() and admin.discard_button.isEnabled()
    assert not clinician.promote_button.isEnabled()
    assert not clinician.discard_button.isEnabled()
    assert "admin role" in clinician.discard_button.toolTip()
    clinician._failed(RuntimeError("server refused"))  # an error does not turn them back on
    assert not clinician.promote_button.isEnabled()
    dialog = FinetuneDialog(active, run_root=store_env / "runs", admin=False)
    qtbot.addWidget(dialog)
    dialog.proc = SimpleNamespace(run_dir=run_dir, running=False)  # a finished run
    dialog.open_comparison()
    assert dialog.compare is not None and not dialog.compare.discard_button.isEnabled()
    store.close()
