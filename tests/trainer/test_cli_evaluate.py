"""`poxscreen evaluate active DATA [--db]` (defect 7): the store's active model, by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.store import Store
from tests.trainer.synth import make_folder, save_start_model
from trainer.cli import main


def test_evaluate_the_active_model_of_a_store(tmp_path: Path, capsys) -> None:
    data = make_folder(tmp_path / "data", per_class=4)
    classes = sorted(p.name for p in data.iterdir())
    meta = save_start_model(tmp_path / "m.safetensors", classes, input_size=64)
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        store.add_model_file(tmp_path / "m.safetensors", activate=True)
    out = tmp_path / "eval"
    args = ["evaluate", "active", str(data), "--db", str(db), "--out", str(out)]
    assert main([*args, "--device", "cpu"]) == 0
    assert meta.version in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["version"] == meta.version and report["metrics"]["n"] == 12


def test_evaluate_active_needs_a_model_file(tmp_path: Path, capsys, monkeypatch) -> None:
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        store.register_model("e" * 64, name="lost", path=None, activate=True)
    data = make_folder(tmp_path / "data", per_class=2)
    assert main(["evaluate", "active", str(data), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "lost@eeeeeeeeeeee" in err and "no model file" in err
    with pytest.raises(SystemExit):
        main(["evaluate"])  # still a usage error, not a crash
