"""Fine-tune dialog: counts and warnings before anything starts; a real tiny training in a child
process to the end, compared and promoted; a run stopped midway (best checkpoint kept), left in
the background, re-attached and discarded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desktop.models_support import (
    LabelledStore,
    apply_settings,
    labelled_store,
    screenshot,
)

TRAIN_TIMEOUT_MS = 300_000


def _open(qtbot: Any, store: Any, root: Path) -> Any:
    from PySide6.QtCore import QThreadPool

    from desktop.services.active_model import ActiveModel
    from desktop.training.finetune_dialog import FinetuneDialog

    active = ActiveModel(store, "cpu", QThreadPool.globalInstance())
    dialog = FinetuneDialog(active, run_root=root)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=20_000)
    return dialog


def _table(dialog: Any) -> dict[str, list[str]]:
    t = dialog.counts
    return {
        t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, 4)] for r in range(t.rowCount())
    }


def test_counts_warnings_and_split_before_start(qtbot: Any, store_env: Path) -> None:
    ls = labelled_store(store_env, {"Blue": 3, "Green": 12}, refer=2)
    folders = store_env / "folders"
    for name, n in (("Green", 2), ("Red", 4)):
        (folders / name).mkdir(parents=True)
        for i in range(n):
            (folders / name / f"{i}.png").write_bytes(ls.photos["Green"][i].read_bytes())
    dialog = _open(qtbot, ls.store, store_env / "runs")
    assert _table(dialog) == {"Blue": ["3", "0", "3"], "Green": ["12", "0", "12"]}
    assert "2 labelled \u201crefer / uncertain\u201d" in dialog.excluded.text()
    assert "Blue: only 3 examples" in dialog.warnings.text()
    assert "Green" not in dialog.warnings.text()
    assert "none held out: every label trains" in dialog.split.text()  # the store alone: cross-fit
    assert dialog.start_button.isEnabled()
    assert "(0 of the labelled photos)" in dialog.lab_only.text()  # no visit has a lab result

    dialog.plan = None
    dialog.add_folder(folders)
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=20_000)
    assert _table(dialog)["Green"] == ["12", "2", "14"] and _table(dialog)["Red"] == ["0", "4", "4"]
    assert "Red: only 4 examples" in dialog.warnings.text()
    assert "A new split" in dialog.split.text()  # folders too: a held-out split decides

    dialog.folders.clear()
    dialog.plan = None
    dialog.use_store.setChecked(False)  # recounts
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=20_000)
    assert not dialog.start_button.isEnabled()  # nothing to train on
    assert "at least two classes" in dialog.warnings.text()
    ls.store.close()


def test_tiny_training_runs_to_the_end_and_is_promoted(
    qtbot: Any,
    trained_store: LabelledStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop.training.compare_view import CompareView, _short_numbers

    store = trained_store.store
    dialog = _open(qtbot, store, tmp_path / "runs")
    assert _table(dialog) == {c: ["10", "0", "10"] for c in ("Blue", "Green", "Red")}
    apply_settings(dialog)
    dialog.start()
    assert dialog.is_running and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=TRAIN_TIMEOUT_MS)
    assert dialog.result.status in ("finished", "early_stopped"), dialog.result
    assert dialog.result.registered and not dialog.result.activated  # the clinician decides
    assert Path(dialog.result.model_path).is_file()
    assert dialog.result.promotion["method"] == "cross-fit"  # the store's labels, every one
    assert "right on " in dialog.decision.plain.text()  # the decision in plain words
    assert store.active_model().content_hash == trained_store.start_hash  # not yet promoted
    dialog.resize(1100, 648)  # as on a 1366x768 screen (taskbar and title bar left)
    screenshot(dialog, "finetune_dialog")

    compare = dialog.compare
    assert isinstance(compare, CompareView)
    cmp = compare.comparison
    assert cmp.active_version and cmp.active_version.endswith(trained_store.start_hash[:12])
    assert compare.overall.item(1, 2).text() == f"{cmp.new_val['macro_f1']:.3f}"
    assert _short_numbers(cmp.decision["reason"]) in compare.gate_label.text()
    screenshot(compare, "compare_view")
    asked: list[bool] = []
    monkeypatch.setattr(compare, "confirm_force", lambda: asked.append(True) or True)
    compare.promote()
    qtbot.waitUntil(lambda: compare.outcome == "promoted", timeout=30_000)
    assert asked == ([] if cmp.gate_allows else [True])  # confirmation only when forced
    active = store.active_model()
    assert active.version == cmp.new_version and active.parent_hash == trained_store.start_hash
    if not cmp.gate_allows:  # a forced promotion is on the run's record
        note = store.training_run(cmp.training_run).metrics["promotion_by_user"]
        assert note["forced"] is True and note["by"] == "dr-test"


def test_stop_midway_background_reattach_and_discard(
    qtbot: Any,
    trained_store: LabelledStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop.training import finetune_dialog as fd

    store, root = trained_store.store, tmp_path / "runs"
    first = _open(qtbot, store, root)
    apply_settings(first, {**_tiny(), "epochs": 200, "decision": "gate"})
    first.start()
    qtbot.waitUntil(lambda: first.curves.epochs_drawn >= 1, timeout=TRAIN_TIMEOUT_MS)
    monkeypatch.setattr(first, "ask_close", lambda: fd.BACKGROUND)
    first.close()
    assert first.proc.running  # left to finish in the background

    second = _open(qtbot, store, root)  # "the next start": re-attaches through the run folder
    assert second.is_running and second.proc.run_dir == first.proc.run_dir
    assert second.curves.epochs_drawn >= 1  # the curves so far were replayed
    second.stop()
    qtbot.waitUntil(lambda: second.result is not None, timeout=TRAIN_TIMEOUT_MS)
    assert second.result.status == "stopped"
    assert Path(second.result.model_path).is_file()  # the best epoch is kept
    compare = second.compare
    compare.discard()
    qtbot.waitUntil(lambda: compare.outcome == "discarded", timeout=30_000)
    assert store.active_model().content_hash == trained_store.start_hash
    run = store.training_run(compare.comparison.training_run)
    assert "discarded by dr-test" in run.log
    third = _open(qtbot, store, root)  # a discarded run is not offered again
    assert third.proc is None and not third.compare_button.isEnabled()


def _tiny() -> dict[str, Any]:
    from tests.desktop.models_support import TINY

    return dict(TINY)
