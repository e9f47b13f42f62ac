"""The reason asked before activating or rolling back to a model its records advise against:
recorded with who and when, shown in the models view's history; Cancel records and switches
nothing. The status bar's permanent mark shows while such a model (forced, untrained, no
out-of-scope guard) is in use and goes when a normal model is activated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desktop.reason_support import Reasons
from tests.desktop.versions.test_model_guardrails import _dialog, _guarded_model_file, _select

SHOTS = Path("/tmp/shots-rails")
EVALUATED = {"val": {"macro_f1": 0.9, "accuracy": 0.9, "n": 30}}


def _store(store_env: Path) -> Any:
    """guarded (active, evaluated, with the guard) -> child without a guard, never evaluated."""
    from engine.store import Store
    from tests.desktop.models_support import CLASSES3, save_model_file

    store = Store.open(store_env / "case.db")
    parent = _guarded_model_file(store_env / "guarded.safetensors", "guarded", seed=1)
    store.register_model_file(store_env / "guarded.safetensors", activate=True)
    store.register_model(
        parent.content_hash, name="guarded", meta={"trained": True, "classes": CLASSES3},
        metrics=EVALUATED,
    )  # fmt: skip
    save_model_file(
        store_env / "child.safetensors", CLASSES3, "imported", seed=2, parent=parent.content_hash
    )
    store.add_model_file(store_env / "child.safetensors", activate=False)
    return store


def test_activation_asks_a_reason_records_it_and_shows_it_in_the_history(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(store_env)
    reasons = Reasons(monkeypatch)
    dialog = _dialog(qtbot, active_for(store))
    _select(dialog, "imported")
    dialog.activate_selected()  # Cancel: nothing switches, nothing is recorded
    qtbot.waitUntil(lambda: "Not activated" in dialog.message.text(), timeout=20_000)
    assert store.active_model().name == "guarded"
    assert "activations" not in next(m for m in store.models() if m.name == "imported").meta
    assert "No activation" in dialog.history.text()

    shown = reasons.dialogs[-1]
    shown.reason.setPlainText("trial of the vendor's model")
    assert shown.action.isEnabled() and shown.cancel.isDefault()
    shown.show()
    SHOTS.mkdir(parents=True, exist_ok=True)
    shown.grab().save(str(SHOTS / "activation_reason.png"))
    shown.reason.setPlainText("   ")
    assert not shown.action.isEnabled()  # blank is no reason
    shown.close()

    reasons.reason = "trial of the vendor's model"
    with qtbot.waitSignal(dialog.active.changed, timeout=20_000):
        dialog.activate_selected()
    record = store.active_model().meta["activations"][-1]
    assert record["reason"] == "trial of the vendor's model" and record["who"] == "dr-test"
    assert record["forced"] is True and record["how"] == "activate"
    qtbot.waitUntil(lambda: "vendor" in dialog.history.text(), timeout=20_000)
    assert "dr-test" in dialog.history.text() and "against the records" in dialog.history.text()
    store.close()


def test_roll_back_asks_the_same_question(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import Store
    from tests.desktop.models_support import CLASSES3, save_model_file

    store = Store.open(store_env / "case.db")
    start = save_model_file(store_env / "start.safetensors", CLASSES3, "start", seed=1)
    store.register_model_file(store_env / "start.safetensors", activate=True)  # never evaluated
    save_model_file(
        store_env / "v2.safetensors", CLASSES3, "clinic-v2", seed=2, parent=start.content_hash,
        metrics=EVALUATED,
    )  # fmt: skip
    store.add_model_file(store_env / "v2.safetensors", activate=False)
    store.activate_model("clinic-v2")
    reasons = Reasons(monkeypatch)
    dialog = _dialog(qtbot, active_for(store))
    qtbot.waitUntil(lambda: dialog.buttons["rollback"].isEnabled(), timeout=20_000)
    dialog.roll_back()
    qtbot.waitUntil(lambda: "Not activated" in dialog.message.text(), timeout=20_000)
    title, text, default, _enabled = reasons.asked[-1]
    assert title == "Roll back to this model?" and default == "Cancel"
    assert "no recorded evaluation" in text and store.active_model().name == "clinic-v2"

    reasons.reason = "v2 misses early rashes"
    with qtbot.waitSignal(dialog.active.changed, timeout=20_000):
        dialog.roll_back()
    record = store.active_model().meta["activations"][-1]
    assert store.active_model().name == "start"
    assert record["how"] == "roll back" and record["reason"] == "v2 misses early rashes"
    store.close()


def test_status_bar_marks_a_forced_guardless_model_until_a_normal_one_is_active(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.shell.status_bar import StatusBar

    store = _store(store_env)
    active = active_for(store)
    bar = StatusBar()
    qtbot.addWidget(bar)
    active.loaded.connect(bar.set_model)
    bar.resize(1100, bar.sizeHint().height())
    bar.show()
    with qtbot.waitSignal(active.loaded, timeout=60_000):
        active.load()
    assert bar.mark_label.isHidden()  # evaluated, guarded: no mark

    Reasons(monkeypatch, reason="vendor trial")
    dialog = _dialog(qtbot, active)
    _select(dialog, "imported")
    with qtbot.waitSignal(active.loaded, timeout=60_000):
        dialog.activate_selected()
    assert bar.mark_label.isVisible()
    assert bar.mark_label.text() == "\u26a0 Model: forced, untrained, no guard"
    tip = bar.mark_label.toolTip()
    assert "vendor trial" in tip and "dr-test" in tip and "out-of-scope guard" in tip
    qtbot.waitUntil(lambda: bar.mark_label.width() >= bar.mark_label.sizeHint().width())
    bar.grab().save(str(SHOTS / "status_bar_mark.png"))

    _select(dialog, "guarded")  # a normal model again: no question, no mark
    with qtbot.waitSignal(active.loaded, timeout=60_000):
        dialog.activate_selected()
    assert not bar.mark_label.isVisible() and store.active_model().name == "guarded"
    store.close()
