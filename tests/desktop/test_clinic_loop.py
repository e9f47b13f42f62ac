"""The loop a clinic lives in, walked in the real window as a clinician walks it: screen a folder,
label its photos in the review panel, fine-tune from the Models menu, promote the new model in
the comparison, screen again, then quit and reopen. Each screen hands the model on to the next:
the second screening's predictions are the promoted model's, the status bar names it, and after
a restart it is still the model in use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import wait_screening
from tests.desktop.models_support import CLASSES3, apply_settings, save_model_file

TRAIN_TIMEOUT_MS = 300_000
PER_CLASS = 8


def _clinic_photos(folder: Path) -> dict[str, str]:
    """Eight photos of each learnable class; file name -> the class a clinician would give."""
    from tests.trainer.synth import photo

    folder.mkdir(parents=True)
    truth = {}
    for c_i, label in enumerate(CLASSES3):
        for i in range(PER_CLASS):
            name = f"{label.lower()}_{i:02d}.png"
            photo(5000 + c_i * 100 + i, label, 48).save(folder / name)
            truth[name] = label
    return truth


def _model_in_use(qtbot: Any, window: Any, name: str) -> None:
    qtbot.waitUntil(
        lambda: window.active.handle is not None and window.active.handle.name == name,
        timeout=60_000,
    )
    assert f"Model {name} " in window.status.model_label.text()


def _on_show(window: Any) -> str | None:
    item = window.review.current_item()
    return item.sha256 if item is not None else None


def _label_everything(qtbot: Any, window: Any, truth: dict[str, str]) -> None:
    """Select each photo's tile and give its class through the review panel."""
    from engine.store import ReviewFilter

    items = window.store.review_queue(ReviewFilter(), limit=100).items
    assert len(items) == len(truth)
    for item in items:
        label = truth[Path(item.path).name]
        assert window.gallery.select_sha(item.sha256)
        qtbot.waitUntil(lambda sha=item.sha256: _on_show(window) == sha, timeout=10_000)
        with qtbot.waitSignal(window.review.labelled, timeout=10_000) as saved:
            window.review.label_current(label)  # the 1-3 keys call this
        assert saved.args == [item.sha256, label]
        assert window.store.current_label(item.sha256) == label


@pytest.mark.slow
def test_screen_label_finetune_promote_screen_again_and_reopen(
    qtbot: Any,
    make_window: Any,
    desk_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from engine.store import ReviewFilter, Store

    save_model_file(desk_env / "start.safetensors", CLASSES3, "clinic-start")
    with Store.open(desk_env / "case.db") as store:
        store.register_model_file(desk_env / "start.safetensors", activate=True)
    truth = _clinic_photos(desk_env / "clinic")

    w = make_window()
    _model_in_use(qtbot, w, "clinic-start")
    w.screen_folder(str(desk_env / "clinic"))
    wait_screening(qtbot, w)
    _label_everything(qtbot, w, truth)

    w.menus.act_finetune.trigger()
    dialog = w.dialogs.finetune_dialog
    qtbot.waitUntil(lambda: dialog.plan is not None and dialog.plan.can_start, timeout=30_000)
    apply_settings(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=TRAIN_TIMEOUT_MS)
    assert dialog.result.status in ("finished", "early_stopped"), dialog.result
    qtbot.waitUntil(lambda: dialog.compare is not None, timeout=30_000)
    compare = dialog.compare
    qtbot.waitUntil(lambda: compare.comparison is not None, timeout=30_000)
    monkeypatch.setattr(compare, "confirm_force", lambda: True)  # a tiny run may miss the gate
    compare.promote()
    qtbot.waitUntil(lambda: compare.outcome == "promoted", timeout=30_000)
    promoted = w.store.active_model()
    assert promoted.name != "clinic-start"
    _model_in_use(qtbot, w, promoted.name)  # the window's model, not only the registry's

    w.screen_folder(str(desk_env / "clinic"))
    wait_screening(qtbot, w)
    for item in w.store.review_queue(ReviewFilter(), limit=100).items:
        made = w.store.predictions(item.sha256)
        assert {p.model_version for p in made} >= {promoted.content_hash}
        assert w.store.current_label(item.sha256) == truth[Path(item.path).name]  # kept
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        w.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # a quiet quit

    again = make_window()
    _model_in_use(qtbot, again, promoted.name)
    runs = again.filters.runs  # both screenings, the first by the model it was made with
    qtbot.waitUntil(lambda: runs.count() == 3, timeout=10_000)  # "All runs" + 2
    texts = [runs.item(i).text() for i in range(1, 3)]
    assert any("clinic-start@" in t and "older model" in t for t in texts), texts
    assert any(f"{promoted.name}@" in t for t in texts), texts
