"""Activating or rolling back to a model its records advise against (never evaluated, worse,
no out-of-scope guard) needs a reason, from the command line as in the app; the reason is
recorded on the model's row with who and when, and such a model is marked while in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.activation import activation_history, active_marks
from engine.cli import main
from engine.store import Store
from tests.engine.store.conftest import MODEL_A, MODEL_B

MODEL_C = "c" * 64
EVALUATED = {"val": {"macro_f1": 0.9, "accuracy": 0.9, "n": 40}}


def _lineage(db: Path) -> None:
    """msid (active, evaluated) -> clinic (fine-tuned from it, never evaluated)."""
    with Store.open(db) as store:
        store.register_model(MODEL_A, name="msid", meta={"trained": True}, metrics=EVALUATED)
        store.register_model(MODEL_B, name="clinic", meta={"trained": True}, parent_hash=MODEL_A)


def _row(db: Path, name: str):  # noqa: ANN202
    with Store.open(db) as store:
        return next(m for m in store.models() if m.name == name)


def test_cli_activate_refuses_an_unevaluated_model_without_a_reason(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lineage(db_path)
    db = str(db_path)
    assert main(["models", "activate", "clinic", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "no recorded evaluation" in err and "--reason" in err
    assert _row(db_path, "msid").active and activation_history(_row(db_path, "clinic")) == []

    code = main(["models", "activate", "clinic", "--reason", "the lab asked", "--who", "dr a",
                 "--db", db])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and f"active model: clinic@{MODEL_B[:12]}" in out
    assert "marked forced" in out and "marked untrained" in out
    record = activation_history(_row(db_path, "clinic"))[-1]
    assert record["who"] == "dr a" and record["reason"] == "the lab asked"
    assert record["forced"] is True and record["how"] == "activate" and record["at"]
    assert "no recorded evaluation" in record["concerns"][0]


def test_cli_rollback_asks_the_same(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(db_path) as store:
        store.register_model(MODEL_A, name="start", meta={"trained": True})  # never evaluated
        store.register_model(
            MODEL_B, name="clinic", meta={"trained": True}, metrics=EVALUATED,
            parent_hash=MODEL_A, activate=True,
        )  # fmt: skip
    db = str(db_path)
    assert main(["models", "rollback", "--db", db]) == 2
    assert "no recorded evaluation" in capsys.readouterr().err
    assert _row(db_path, "clinic").active

    assert main(["models", "rollback", "--reason", "v2 misses rashes", "--db", db]) == 0
    assert f"rolled back; active model: start@{MODEL_A[:12]}" in capsys.readouterr().out
    record = activation_history(_row(db_path, "start"))[-1]
    assert record["how"] == "roll back" and record["reason"] == "v2 misses rashes"
    with Store.open(db_path) as store:
        assert [m.word for m in active_marks(store)] == ["forced", "untrained"]


def test_trainer_rollback_needs_the_reason_too(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli import main as trainer_main

    with Store.open(db_path) as store:
        store.register_model(MODEL_A, name="start", meta={"trained": True})
        store.register_model(MODEL_B, name="clinic", parent_hash=MODEL_A, activate=True)
    assert trainer_main(["rollback", "--db", str(db_path)]) == 1
    assert "--reason" in capsys.readouterr().err and _row(db_path, "clinic").active
    assert trainer_main(["rollback", "--db", str(db_path), "--reason", "back", "--who", "x"]) == 0
    assert activation_history(_row(db_path, "start"))[-1]["who"] == "x"


def test_an_evaluated_better_model_needs_no_reason_and_is_not_marked(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lineage(db_path)
    better = {"val": {"macro_f1": 0.95, "accuracy": 0.95, "n": 40}}
    with Store.open(db_path) as store:
        store.register_model(MODEL_C, name="better", meta={"trained": True}, metrics=better)
    assert main(["models", "activate", "better", "--who", "dr b", "--db", str(db_path)]) == 0
    assert "marked" not in capsys.readouterr().out
    record = activation_history(_row(db_path, "better"))[-1]
    assert record["forced"] is False and record["who"] == "dr b" and record["concerns"] == []
    with Store.open(db_path) as store:
        assert active_marks(store) == []
        # the file's metadata refreshed: the record of who activated it stays
        store.register_model(MODEL_C, name="better", meta={"trained": True, "x": 1})
        assert activation_history(next(m for m in store.models() if m.name == "better"))
