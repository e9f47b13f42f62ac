"""Opening databases: create, migrate from the first schema, refuse foreign or newer files."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from engine.store import ReviewFilter, Store, StoreError, StoreVersionError, head_revision
from engine.store.db import _alembic_config, default_db_path, known_revisions, resolve_db_url
from engine.store.tables import Base
from tests.engine.store.conftest import MODEL_A, entropy, probs_for


def _fingerprint(path: Path) -> tuple[str, int, list[str]]:
    """Bytes, mtime and the sibling files: all must be unchanged after a refusal."""
    siblings = sorted(p.name for p in path.parent.iterdir())
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, siblings


def _create_at_revision(path: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
    engine.dispose()


def test_new_database_is_created_at_head_with_wal_and_foreign_keys(db_path: Path) -> None:
    with Store.open(db_path) as store, store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
    assert known_revisions() == ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"]
    assert head_revision() == "0008"


def test_migrations_build_exactly_the_orm_schema(db_path: Path) -> None:
    Store.open(db_path).close()
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_database_at_first_revision_is_backed_up_migrated_and_keeps_its_data(db_path: Path) -> None:
    _create_at_revision(db_path, "0001")
    probs = probs_for("Measles", 0.7)
    now = datetime(2024, 5, 1, 12, 0, 0)
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO models (id, content_hash, name, meta, metrics, created_at, active) "
            "VALUES (1, ?, 'old', '{}', '{}', ?, 1)",
            (MODEL_A, now),
        )
        conn.execute(
            "INSERT INTO images (id, sha256, path, first_seen_at, last_seen_at) "
            "VALUES (1, ?, '/old/a.jpg', ?, ?)",
            ("d" * 64, now, now),
        )
        conn.execute(
            "INSERT INTO predictions (image_id, model_id, probabilities, top_class, confidence,"
            " created_at) VALUES (1, 1, ?, 'Measles', 0.7, ?)",
            (json.dumps(probs), now),
        )
        conn.execute(
            "INSERT INTO label_events (image_id, kind, label, who, source, created_at) "
            "VALUES (1, 'set', 'Normal', 'dr a', 'clinician', ?)",
            (now,),
        )
        conn.execute("UPDATE images SET current_label = 'Normal' WHERE id = 1")
    conn.close()

    with Store.open(db_path) as store:
        (pred,) = store.predictions("d" * 64)
        assert pred.top_class == "Measles" and pred.entropy == pytest.approx(entropy(probs))
        assert [e.label for e in store.history("d" * 64)] == ["Normal"]
        assert store.current_label("d" * 64) == "Normal"
        assert store.active_model().content_hash == MODEL_A  # type: ignore[union-attr]
        run = store.start_training_run(MODEL_A, {"epochs": 1}, {"n": 1})  # table added by 0002
        assert store.training_run(run).base_model == MODEL_A
    backups = list(db_path.parent.glob("case.db.rev0001-*.bak"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    conn.close()


def test_predictions_from_before_the_guard_read_as_not_checked(db_path: Path) -> None:
    _create_at_revision(db_path, "0002")
    now = datetime(2024, 5, 1, 12, 0, 0)
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO models (id, content_hash, name, meta, metrics, created_at, active) "
            "VALUES (1, ?, 'old', '{}', '{}', ?, 1)",
            (MODEL_A, now),
        )
        conn.execute(
            "INSERT INTO images (id, sha256, path, first_seen_at, last_seen_at) "
            "VALUES (1, ?, '/old/a.jpg', ?, ?)",
            ("e" * 64, now, now),
        )
        conn.execute(
            "INSERT INTO predictions (image_id, model_id, probabilities, top_class, confidence,"
            " created_at) VALUES (1, 1, ?, 'Measles', 0.7, ?)",
            (json.dumps(probs_for("Measles", 0.7)), now),
        )
    conn.close()
    with Store.open(db_path) as store:
        (item,) = store.review_queue(ReviewFilter()).items
        assert (item.scope_score, item.out_of_scope, item.quality_issues) == (None, None, None)
        assert not item.check_photo


def test_old_database_is_not_touched_when_upgrade_is_refused(db_path: Path) -> None:
    _create_at_revision(db_path, "0001")
    before = _fingerprint(db_path)
    with pytest.raises(StoreVersionError, match="older"):
        Store.open(db_path, upgrade=False)
    assert _fingerprint(db_path) == before


def _text_file(path: Path) -> None:
    path.write_text("name,diagnosis\nalice,measles\n" * 50)


def _other_apps_db(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO patients (name) VALUES ('alice')")
    conn.close()


def _newer_store(path: Path) -> None:
    _create_at_revision(path, "0002")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    conn.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_text_file, "not an SQLite database"),
        (_other_apps_db, "holds other tables \\(patients\\)"),
        (_newer_store, "'0099_future' is unknown"),
    ],
)
def test_foreign_or_newer_files_are_refused_and_left_unmodified(
    tmp_path: Path, make, message: str
) -> None:
    path = tmp_path / "somefile.db"
    make(path)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = _fingerprint(path)
    with pytest.raises(StoreVersionError, match=message) as err:
        Store.open(path)
    assert str(path) in str(err.value)
    assert _fingerprint(path) == before


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder"):
        Store.open(tmp_path)


def test_location_comes_from_argument_then_environment_then_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_db_url(None).database == str(tmp_path / "userdata" / "poxscreen.db")
    assert default_db_path() == tmp_path / "userdata" / "poxscreen.db"
    monkeypatch.setenv("POXSCREEN_DB", str(tmp_path / "env.db"))
    assert resolve_db_url(None).database == str(tmp_path / "env.db")
    assert resolve_db_url(tmp_path / "arg.db").database == str(tmp_path / "arg.db")
    url = resolve_db_url("postgresql://clinic:secret@server/poxscreen")
    assert url.get_backend_name() == "postgresql" and url.host == "server"
    with Store.open(f"sqlite:///{tmp_path / 'url.db'}") as store:
        assert store.location == str(tmp_path / "url.db")
        assert store.images.root == tmp_path / "url-images"
    assert (tmp_path / "url.db").is_file()


def test_default_database_lands_in_the_user_data_dir(tmp_path: Path) -> None:
    with Store.open() as store:
        assert store.location == str(tmp_path / "userdata" / "poxscreen.db")
    assert (tmp_path / "userdata" / "poxscreen.db").is_file()


def test_revision_0002_label_history_survives_0003_and_redo_works(db_path: Path) -> None:
    """0003 rebuilds label_events (redo kind, the prediction shown): old events must survive."""
    _create_at_revision(db_path, "0002")
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO images (id, sha256, path, first_seen_at, last_seen_at) "
            "VALUES (1, ?, '/p/a.jpg', '2024-05-01 12:00:00', '2024-05-01 12:00:00')",
            ("f" * 64,),
        )
        conn.execute(
            "INSERT INTO label_events (id, image_id, kind, label, who, source, created_at) "
            "VALUES (1, 1, 'set', 'Measles', 'dr a', 'clinician', '2024-05-01 12:01:00')"
        )
        conn.execute(
            "INSERT INTO label_events (id, image_id, kind, who, source, undoes_id, created_at) "
            "VALUES (2, 1, 'undo', 'dr a', 'clinician', 1, '2024-05-01 12:02:00')"
        )
    conn.close()
    with Store.open(db_path) as store:
        assert [e.kind for e in store.history("f" * 64)] == ["set", "undo"]
        assert store.redo("f" * 64, who="dr b").current_label == "Measles"
        assert [e.label_after for e in store.history("f" * 64)] == ["Measles", None, "Measles"]
    with sqlite3.connect(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO label_events (image_id, kind, who, source, created_at) "
            "VALUES (1, 'redo', 'x', 'clinician', '2024-05-01 12:03:00')"
        )  # a redo must carry the label it restores
    conn.close()
