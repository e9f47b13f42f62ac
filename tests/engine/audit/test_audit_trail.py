"""The audit trail: every action leaves an event (who, when, where, what, which object), the
events cannot be changed, a restore keeps them, and ``poxscreen audit`` reads them."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.cli import main
from engine.referral import DEFAULT_REFERRAL_RULE
from engine.store import Store, StoreError
from engine.store.audit import workstation
from engine.store.care import restore
from engine.store.registry import ActivationNote
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, make_photo, sha_of


def _csv(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, str]]:
    assert main(["audit", "--format", "csv", *argv]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_a_label_a_forget_and_an_export_appear_with_who_and_when(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "smith-john-arm.png", seed=1)
    sha, db = sha_of(photo), str(db_path)
    with Store.open(db_path) as store:
        store.register_model(MODEL_A, name="msid", meta={"classes": CLASSES})
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert (
        main(["label", str(photo), "Measles", "--who", "Dr A", "--note", "rash", "--db", db]) == 0
    )
    out = tmp_path / "out.csv"
    assert main(["export", "--format", "csv", "--out", str(out), "--who", "Dr B", "--db", db]) == 0
    assert main(["forget", sha[:12], "--yes", "--who", "Dr C", "--db", db]) == 0
    capsys.readouterr()
    rows = _csv(capsys, "--db", db)
    assert [(r["kind"], r["who"]) for r in rows] == [
        ("label", "Dr A"), ("note", "Dr A"), ("export", "Dr B"), ("forget", "Dr C"),
    ]  # fmt: skip
    for r in rows:
        assert datetime.fromisoformat(r["when_utc"]) >= started.replace(microsecond=0)
        assert r["workstation"] == workstation()
    assert rows[0]["object"] == rows[3]["object"] == f"photo:{sha}"
    assert '"label":"Measles"' in rows[0]["details"]
    assert main(["audit", "--db", db]) == 0
    table = capsys.readouterr().out
    assert "smith" not in table and "smith" not in str(rows)  # never a file name


def test_filters_and_bad_input(
    tmp_path: Path, store: Store, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "p.png", seed=2)
    store.label(photo, "Measles", who="Dr A", classes=CLASSES)
    store.label(photo, "Normal", who="Dr B", classes=CLASSES)
    store.set_referral_rule(DEFAULT_REFERRAL_RULE, who="Dr B")
    db = str(db_path)
    assert [r["who"] for r in _csv(capsys, "--who", "dr b", "--db", db)] == ["Dr B", "Dr B"]
    assert [r["kind"] for r in _csv(capsys, "--kind", "settings", "--db", db)] == ["settings"]
    assert _csv(capsys, "--since", "2999-01-01", "--db", db) == []
    assert len(_csv(capsys, "--since", "2000-01-01", "--db", db)) == 3
    assert main(["audit", "--since", "last tuesday", "--db", db]) == 2
    assert "--since 'last tuesday': not a date" in capsys.readouterr().err
    assert main(["audit", "--kind", "delete", "--db", db]) == 2
    assert "unknown event kind 'delete'" in capsys.readouterr().err


def test_nothing_can_change_or_delete_an_event(tmp_path: Path, store: Store) -> None:
    store.label(make_photo(tmp_path / "p.png", seed=3), "Measles", who="Dr A", classes=CLASSES)
    for sql in ("UPDATE events SET who = 'someone else'", "DELETE FROM events"):
        with pytest.raises(StoreError, match="append-only"), store.write() as s:
            s.execute(text(sql))
    assert [e.who for e in store.events()] == ["Dr A"]
    assert not [n for n in dir(store.audit) if n.startswith(("update", "delete", "edit"))]


def test_an_action_that_fails_leaves_no_event(tmp_path: Path, store: Store) -> None:
    with pytest.raises(StoreError):
        store.label(make_photo(tmp_path / "p.png", seed=4), "Measles", who=" ", classes=CLASSES)
    with pytest.raises(StoreError):
        store.discard_model("nothing-like-this")
    assert store.events() == []


def test_model_decisions_are_recorded(store: Store) -> None:
    store.register_model(MODEL_A, name="msid", meta={"classes": CLASSES})
    store.register_model(MODEL_B, name="clinic", meta={"classes": CLASSES})
    store.activate_model(MODEL_B, ActivationNote("Dr A", reason="trial", forced=True))
    store.rollback(MODEL_A, ActivationNote("Dr B", how="roll back", reason="worse"))
    store.audit.db.actor = lambda: "Dr C"
    store.discard_model(MODEL_B)
    events = store.events()
    assert [(e.kind, e.who, e.object) for e in events] == [
        ("activate", "Dr A", f"model:{MODEL_B}"),
        ("rollback", "Dr B", f"model:{MODEL_A}"),
        ("discard", "Dr C", f"model:{MODEL_B}"),
    ]
    assert events[0].details["forced"] is True and events[0].details["reason"] == "trial"


def test_restore_keeps_the_events_since_the_backup_and_records_itself(
    tmp_path: Path, db_path: Path
) -> None:
    photo = make_photo(tmp_path / "p.png", seed=5)
    with Store.open(db_path) as store:
        store.label(photo, "Measles", who="Dr A", classes=CLASSES)
        folder = store.backup(tmp_path / "backups", who="Dr A").folder
        store.label(photo, "Normal", who="Dr B", classes=CLASSES)
        store.forget(photo, who="Dr B")
    outcome = restore(folder, db_path, tmp_path / "case-images", who="Dr Admin")
    assert outcome.events_kept == 3  # the backup event, Dr B's label and forget
    with Store.open(db_path) as store:
        kinds = [(e.kind, e.who) for e in store.events()]
        assert store.current_label(photo) == "Measles"  # the data is the backup's
    assert kinds[:4] == [("label", "Dr A"), ("backup", "Dr A"), ("label", "Dr B"),
                         ("forget", "Dr B")]  # fmt: skip
    assert kinds[-1] == ("restore", "Dr Admin")
    assert ("forget", "Dr Admin") in kinds  # forgotten again after the restore
