"""Models view: versions listed with their lineage, activate and roll back, a corrupted model
file refused with the reason, a valid one imported (not active), agreement per class, export;
promotion through the gate (refused unless forced; a forced one is recorded as forced)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.models_support import (
    CLASSES3,
    save_model_file,
    screenshot,
)


def _store_with_lineage(tmp: Path) -> tuple[Any, Any, Any]:
    """parent (active at first) -> child (registered, then active)."""
    from engine.store import Store

    store = Store.open(tmp / "case.db")
    parent = save_model_file(tmp / "parent.safetensors", CLASSES3, "clinic-v1", seed=1)
    child = save_model_file(
        tmp / "child.safetensors", CLASSES3, "clinic-v2", seed=2, parent=parent.content_hash,
        metrics={"val": {"accuracy": 0.9, "macro_f1": 0.88, "n": 40}},
    )  # fmt: skip
    store.register_model_file(tmp / "parent.safetensors", activate=True)
    store.register_model_file(tmp / "child.safetensors", activate=False)
    return store, parent, child


def _open(qtbot: Any, active: Any) -> Any:
    from desktop.versions.models_dialog import ModelsDialog

    store = active.store
    dialog = ModelsDialog(active)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == len(store.models()), timeout=20_000)
    return dialog


def _row(dialog: Any, name: str) -> int:
    return next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 1).text() == name)


def test_activate_and_roll_back(
    qtbot: Any, store_env: Path, active_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.desktop.reason_support import Reasons

    store, parent, child = _store_with_lineage(store_env)
    reasons = Reasons(monkeypatch, reason="trial of the clinic's model")  # neither has a guard
    dialog = _open(qtbot, active_for(store))
    row = _row(dialog, "clinic-v2")
    assert dialog.table.item(row, 4).text() == parent.version  # parent shown by version
    assert dialog.table.item(row, 6).text() == "0.880"
    assert "active" in dialog.table.item(_row(dialog, "clinic-v1"), 0).text()
    dialog.table.selectRow(row)
    with qtbot.waitSignal(dialog.active.changed, timeout=20_000) as sig:
        dialog.activate_selected()
    assert sig.args[0].version == child.version == store.active_model().version
    qtbot.waitUntil(lambda: "active" in dialog.table.item(_row(dialog, "clinic-v2"), 0).text())
    assert dialog.buttons["rollback"].isEnabled()
    screenshot(dialog, "models_view")
    with qtbot.waitSignal(dialog.active.changed, timeout=20_000):
        dialog.roll_back()
    assert store.active_model().version == parent.version
    assert "Rolled back" in dialog.message.text()
    assert [a[0] for a in reasons.asked] == ["Activate this model?", "Roll back to this model?"]
    store.close()


def test_corrupted_model_file_is_refused_with_the_reason(
    qtbot: Any, store_env: Path, active_for: Any
) -> None:
    store, _, _ = _store_with_lineage(store_env)
    dialog = _open(qtbot, active_for(store))
    good = store_env / "child.safetensors"
    broken = store_env / "broken.safetensors"
    data = bytearray(good.read_bytes())
    data[-5000:-4990] = b"\xff" * 10  # flip weight bytes: the recorded content hash no longer fits
    broken.write_bytes(bytes(data))
    dialog.import_file(broken)
    qtbot.waitUntil(lambda: "Not done" in dialog.message.text(), timeout=20_000)
    assert "broken.safetensors" in dialog.message.text()
    assert len(store.models()) == 2

    half = store_env / "half.safetensors"
    half.write_bytes(good.read_bytes()[:1000])
    dialog.import_file(half)
    qtbot.waitUntil(lambda: "half.safetensors" in dialog.message.text(), timeout=20_000)
    assert len(store.models()) == 2

    third = save_model_file(store_env / "third.safetensors", CLASSES3, "from-elsewhere", seed=3)
    dialog.import_file(store_env / "third.safetensors")
    qtbot.waitUntil(lambda: "Imported" in dialog.message.text(), timeout=20_000)
    imported = next(m for m in store.models() if m.name == "from-elsewhere")
    assert not imported.active and imported.content_hash == third.content_hash
    assert Path(imported.path).parent != store_env  # copied beside the database

    out = store_env / "exported.safetensors"
    dialog.export_active(out)
    qtbot.waitUntil(lambda: "Exported" in dialog.message.text(), timeout=20_000)
    active_file = Path(store.active_model().path)
    assert (
        hashlib.sha256(out.read_bytes()).digest()
        == hashlib.sha256(active_file.read_bytes()).digest()
    )
    store.close()


def test_agreement_per_class(qtbot: Any, store_env: Path, active_for: Any) -> None:
    store, parent, _ = _store_with_lineage(store_env)
    run = store.begin_run(str(store_env), {}, parent.content_hash)
    results = []
    for i, top in enumerate(["Blue", "Blue", "Blue", "Red", "Green"]):
        probs = {c: (0.8 if c == top else 0.1) for c in CLASSES3}
        sha = hashlib.sha256(f"img{i}".encode()).hexdigest()
        results.append({"path": f"/p/{i}.png", "sha256": sha, "probabilities": probs})
    store.record_results(run, results)
    for i, label in [(0, "Blue"), (1, "Blue"), (2, "Red"), (3, "Red"), (4, "refer")]:
        store.label(results[i]["sha256"], label, who="dr", classes=CLASSES3)
    dialog = _open(qtbot, active_for(store))
    dialog.table.selectRow(_row(dialog, "clinic-v1"))
    qtbot.waitUntil(lambda: dialog.agreement.rowCount() == 2, timeout=20_000)
    rows = {
        dialog.agreement.item(r, 0).text(): [dialog.agreement.item(r, c).text() for c in (1, 2, 3)]
        for r in range(2)
    }
    # per clinician label: Blue twice predicted Blue; Red once Blue, once Red; refer left out
    assert rows == {"Blue": ["2", "0", "100%"], "Red": ["1", "1", "50%"]}
    store.close()


def test_promotion_gate_refuses_unless_forced_and_records_forced(store_env: Path) -> None:
    from desktop.services import versions as ops

    store, parent, _ = _store_with_lineage(store_env)
    run_dir = store_env / "run"
    run_dir.mkdir()
    new = save_model_file(run_dir / "model.safetensors", CLASSES3, "new", seed=4)
    store.add_model_file(run_dir / "model.safetensors", activate=False)  # no gate result recorded
    run_id = store.start_training_run(parent.content_hash, {}, {})
    cmp = ops.Comparison(
        run_dir=run_dir, classes=CLASSES3, new_version=new.version,
        new_model=run_dir / "model.safetensors", new_val={"macro_f1": 0.5},
        active_version=parent.version, active_val={"macro_f1": 0.6},
        decision={"activate": False, "reason": "does not beat"}, training_run=run_id,
    )  # fmt: skip
    with pytest.raises(ops.PromotionRefused):
        ops.promote(store, cmp, force=False, who="dr")
    assert store.active_model().version == parent.version
    info = ops.promote(store, cmp, force=True, who="dr")
    assert info.content_hash == new.content_hash == store.active_model().content_hash
    note = store.training_run(run_id).metrics["promotion_by_user"]
    assert note == {"forced": True, "by": "dr", "previous": parent.version}
    assert "forced" in store.training_run(run_id).log
    store.close()


def test_evaluate_on_a_folder_shows_the_saved_plots(
    qtbot: Any, store_env: Path, active_for: Any
) -> None:
    from tests.trainer.synth import make_folder

    store, _, _ = _store_with_lineage(store_env)
    data = make_folder(store_env / "eval", per_class=4, classes=tuple(CLASSES3))
    dialog = _open(qtbot, active_for(store))
    dialog.table.selectRow(_row(dialog, "clinic-v1"))
    dialog.evaluate(data, out_root=store_env / "evaluations")
    assert not dialog.buttons["evaluate"].isEnabled()  # one evaluation at a time
    qtbot.waitUntil(lambda: dialog.eval_proc is None, timeout=180_000)
    assert "saved in" in dialog.eval_status.text(), dialog.eval_status.text()
    assert dialog.eval_dir is not None and (dialog.eval_dir / "report.json").is_file()
    for name, label in dialog.plots.items():
        assert (dialog.eval_dir / f"eval_{name}.png").is_file()
        assert not label.pixmap().isNull(), name
    store.close()
