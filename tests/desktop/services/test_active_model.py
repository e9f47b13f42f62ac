"""One owner of the active model: every path that changes it (Activate, Roll back, Promote, a
store change, a device change) reloads the model the running window screens with and names it in
the status bar. Each test screens a small folder afterwards and finds the new version on the
predictions in the store and in the status bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import wait_screening
from tests.desktop.models_support import CLASSES3, save_model_file

LOAD_MS = 60_000


def _two_versions(db: Path, folder: Path, active: str = "v1") -> tuple[Any, Any]:
    """clinic-v1 (parent) and clinic-v2 (fine-tuned from it) registered; one of them active."""
    from engine.store import Store

    v1 = save_model_file(folder / "v1.safetensors", CLASSES3, "clinic-v1", seed=1)
    v2 = save_model_file(
        folder / "v2.safetensors", CLASSES3, "clinic-v2", seed=2, parent=v1.content_hash
    )
    store = Store.open(db)
    store.register_model_file(folder / "v1.safetensors", activate=active == "v1")
    store.register_model_file(folder / "v2.safetensors", activate=active == "v2")
    store.close()
    return v1, v2


def _loaded(qtbot: Any, window: Any, name: str) -> None:
    """Until the window's model is ``name`` and the status bar says so."""
    qtbot.waitUntil(
        lambda: window.active.handle is not None and window.active.handle.name == name,
        timeout=LOAD_MS,
    )
    assert f"Model {name} " in window.status.model_label.text()


def _screen_and_check(qtbot: Any, window: Any, folder: Path, expected: Any) -> None:
    """Screen ``folder``; every prediction made is by ``expected`` (a ModelMeta)."""
    window.screen_folder(str(folder))
    wait_screening(qtbot, window)
    items = window.store.review_queue(_all_runs(), limit=100).items
    assert items, "nothing was screened"
    for item in items:
        made = window.store.predictions(item.sha256)
        assert made[-1].model_version == expected.content_hash
        assert made[-1].model_name == expected.name
    assert f"Model {expected.name} " in window.status.model_label.text()


def _all_runs() -> Any:
    from engine.store import ReviewFilter

    return ReviewFilter()


def test_activate_switches_the_running_window(
    qtbot: Any, make_window: Any, desk_env: Path, photos4: Path
) -> None:
    _v1, v2 = _two_versions(desk_env / "case.db", desk_env)
    w = make_window()
    _loaded(qtbot, w, "clinic-v1")
    w.menus.act_models.trigger()
    dialog = w.dialogs.models_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() >= 2, timeout=20_000)
    names = [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    row = names.index("clinic-v2")
    dialog.table.selectRow(row)
    asked: list[list[str]] = []  # clinic-v2 has no recorded evaluation: a reason is asked for
    dialog.confirm_activation = lambda review, _rb=False: asked.append(review.concerns) or "trial"
    dialog.activate_selected()
    _loaded(qtbot, w, "clinic-v2")
    assert asked and asked[0]
    _screen_and_check(qtbot, w, photos4, v2)


def test_roll_back_switches_the_running_window(
    qtbot: Any, make_window: Any, desk_env: Path, photos4: Path
) -> None:
    v1, _v2 = _two_versions(desk_env / "case.db", desk_env, active="v2")
    w = make_window()
    _loaded(qtbot, w, "clinic-v2")
    w.menus.act_models.trigger()
    dialog = w.dialogs.models_dialog
    asked: list[bool] = []  # clinic-v1 has no recorded evaluation: a reason is asked for
    dialog.confirm_activation = lambda _review, rollback: asked.append(rollback) or "v2 is worse"
    dialog.roll_back()
    _loaded(qtbot, w, "clinic-v1")
    assert asked == [True]
    _screen_and_check(qtbot, w, photos4, v1)


def test_promote_switches_the_running_window(
    qtbot: Any, make_window: Any, desk_env: Path, photos4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.training.compare_view import CompareView

    v1, _v2 = _two_versions(desk_env / "case.db", desk_env)
    run_dir = desk_env / "run"
    run_dir.mkdir()
    new = save_model_file(run_dir / "model.safetensors", CLASSES3, "finetuned", seed=5)
    metrics = {"accuracy": 0.9, "macro_f1": 0.9, "n": 12}
    report = {
        "classes": CLASSES3, "version": new.version, "model": str(run_dir / "model.safetensors"),
        "status": "finished", "splits": {"val": {"metrics": metrics, "figures": []}},
        "model_in_use": {"version": v1.version, "val": dict(metrics, macro_f1=0.8)},
        "promotion": {"activate": False, "reason": "no gate slice recorded"}, "registered": {},
    }  # fmt: skip
    (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
    w = make_window()
    _loaded(qtbot, w, "clinic-v1")
    w.store.add_model_file(run_dir / "model.safetensors", activate=False)
    compare = CompareView(w.active, run_dir, parent=w)
    qtbot.addWidget(compare)
    monkeypatch.setattr(compare, "confirm_force", lambda: True)
    compare.promote()
    qtbot.waitUntil(lambda: compare.outcome == "promoted", timeout=20_000)
    _loaded(qtbot, w, "finetuned")
    _screen_and_check(qtbot, w, photos4, new)


def test_store_change_switches_the_running_window(
    qtbot: Any, make_window: Any, desk_env: Path, photos4: Path
) -> None:
    from engine.store import Store

    _two_versions(desk_env / "case.db", desk_env)
    other_db = desk_env / "other.db"
    other = save_model_file(desk_env / "other.safetensors", CLASSES3, "other-clinic", seed=7)
    store = Store.open(other_db)
    store.register_model_file(desk_env / "other.safetensors", activate=True)
    store.close()
    w = make_window()
    _loaded(qtbot, w, "clinic-v1")
    w.switch_database(str(other_db))
    assert str(w.store.location).endswith("other.db")
    _loaded(qtbot, w, "other-clinic")
    _screen_and_check(qtbot, w, photos4, other)


def test_device_change_reloads_the_model_for_the_next_screening(
    qtbot: Any, make_window: Any, desk_env: Path, photos4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.services import screening

    v1, _v2 = _two_versions(desk_env / "case.db", desk_env)
    w = make_window()
    _loaded(qtbot, w, "clinic-v1")
    before = w.active.handle
    assert w.settings.device == "auto"
    used: list[Any] = []
    real = screening.ScreeningWorker

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, handle: Any, *args: Any) -> None:
            used.append(handle)
            super().__init__(handle, *args)

    monkeypatch.setattr(screening, "ScreeningWorker", Spy)
    w.settings.device = "cpu"
    w.dialogs.apply_settings({"device"}, (0.0, 0.0))
    qtbot.waitUntil(lambda: w.active.handle not in (None, before), timeout=LOAD_MS)
    assert "CPU requested" in w.status.device_label.text()
    _screen_and_check(qtbot, w, photos4, v1)
    assert used == [w.active.handle] and used[0] is not before
