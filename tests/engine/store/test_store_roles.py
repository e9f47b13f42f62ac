"""Roles on a shared PostgreSQL store, enforced by the server (run with ``pytest -k role``):
a clinician labels and records its database user, but cannot activate a model, forget a photo
or change the referral rule, nor change or delete a label or an audit event with direct SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import main
from engine.referral import DEFAULT_REFERRAL_RULE
from engine.store import Store, StoreError
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, fake_result
from tests.engine.store.test_store_postgres import PASSWORD, _database, pg_server

pytestmark = pytest.mark.slow
__all__ = ["pg_server"]


def _as(url: str, user: str) -> str:
    return url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{user}@")


@pytest.fixture(scope="module")
def roles_db(pg_server: str) -> Iterator[str]:
    """A store with a registered model, one screened photo, both roles, alice (clinician) and
    bob (admin)."""
    url = _database(pg_server, "roles")
    with Store.open(url) as store:
        store.register_model(MODEL_A, name="a", meta={"classes": CLASSES})
        store.register_model(MODEL_B, name="b", meta={"classes": CLASSES})
        run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
        store.record_results(run, [fake_result(1)])
    assert main(["admin", "init-roles", "--db", url]) == 0
    yield url


@pytest.fixture()
def users(roles_db: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": "s3cret pass")
    assert main(["admin", "add-user", "alice", "--role", "clinician", "--db", roles_db]) == 0
    assert main(["admin", "add-user", "bob", "--role", "admin", "--db", roles_db]) == 0
    monkeypatch.setenv("PGPASSWORD", "s3cret pass")
    return {"alice": _as(roles_db, "alice"), "bob": _as(roles_db, "bob")}


def test_role_clinician_labels_and_the_server_records_its_user(
    users: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sha = fake_result(1)["sha256"]
    with Store.open(users["alice"]) as store:
        assert store.role() == "clinician"
        store.label(sha, "Measles", who="Dr Somebody Else", classes=CLASSES)
        (event,) = [e for e in store.events(kinds=["label"]) if e.who == "Dr Somebody Else"]
        assert event.db_user == "alice"
        with store.read() as s:
            from sqlalchemy import text

            db_user = s.execute(text("SELECT db_user FROM label_events ORDER BY id DESC")).first()
        assert db_user == ("alice",)
    assert main(["audit", "--kind", "label", "--db", users["alice"]]) == 0
    assert "Dr Somebody Else [alice]" in capsys.readouterr().out


def test_role_clinician_cannot_activate_a_model(
    users: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = users["alice"]
    code = main(["models", "activate", "b", "--reason", "trial", "--who", "alice", "--db", url])
    assert code == 2
    assert "needs the admin role" in capsys.readouterr().err
    with Store.open(url) as store:
        assert store.active_model().content_hash == MODEL_A  # nothing changed
        assert not store.events(kinds=["activate"])
        for action in (
            lambda: store.forget(fake_result(1)["sha256"]),
            lambda: store.set_referral_rule(DEFAULT_REFERRAL_RULE, who="alice"),
            lambda: store.discard_model("b"),
        ):
            with pytest.raises(StoreError, match="needs the admin role"):
                action()


def test_role_clinician_cannot_edit_labels_or_events_with_sql(users: dict[str, str]) -> None:
    import psycopg

    plain = users["alice"].replace("postgresql+psycopg", "postgresql")
    for sql in (
        "UPDATE label_events SET label = 'Normal'",
        "DELETE FROM label_events",
        "UPDATE events SET who = 'nobody'",
        "DELETE FROM events",
        "UPDATE models SET active = false",
        "UPDATE images SET forgotten_at = now()",
    ):
        with psycopg.connect(plain) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql)


def test_role_admin_may_activate_and_nobody_edits_an_event(
    users: dict[str, str], roles_db: str
) -> None:
    import psycopg

    with Store.open(users["bob"]) as store:
        assert store.role() == "admin"
        assert store.activate_model("b").active
        assert store.events(kinds=["activate"])[-1].db_user == "bob"
        store.activate_model("a")
    plain = users["bob"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM events")
    owner = roles_db.replace("postgresql+psycopg", "postgresql")
    with (
        psycopg.connect(owner, password=PASSWORD) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute("DELETE FROM events")


def test_role_bad_input_is_refused_with_a_reason(
    roles_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": "pw")
    assert main(["admin", "add-user", "Robert'); DROP", "--role", "admin", "--db", roles_db]) == 2
    assert "use lower-case letters" in capsys.readouterr().err


def test_role_sqlite_has_one_user_with_both_roles(tmp_path: Path) -> None:
    with Store.open(tmp_path / "case.db") as store:
        assert store.role() == "admin"
    assert main(["admin", "init-roles", "--db", str(tmp_path / "case.db")]) == 2


def test_role_clinician_cannot_settle_a_dispute_it_is_part_of(users: dict[str, str]) -> None:
    sha = fake_result(2)["sha256"]
    with Store.open(users["bob"]) as store:
        run = store.begin_run("/more", {}, MODEL_A, model_meta={"classes": CLASSES})
        store.record_results(run, [fake_result(2)])
        store.label(sha, "Measles", who="alice", classes=CLASSES)
        store.label(sha, "Normal", who="bob", classes=CLASSES)
    with Store.open(users["alice"]) as store:
        with pytest.raises(StoreError, match="needs the admin role"):
            store.label(sha, "Measles", who="alice", source="adjudicate", classes=CLASSES)
        assert store.current_label(sha) == "Normal"
    with Store.open(users["bob"]) as store:
        store.label(sha, "Normal", who="bob", source="adjudicate", classes=CLASSES)
        assert store.events(kinds=["adjudicate"])[-1].db_user == "bob"
