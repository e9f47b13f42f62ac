"""``poxscreen backup DEST`` (SQLite online backup plus the image store) and restore."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.store import Store
from tests.engine.store.conftest import make_photo, sha_of


def test_backup_and_restore_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "case.db"
    a = make_photo(tmp_path / "in" / "a.png", 1)
    b = make_photo(tmp_path / "in" / "b.png", 2)
    with Store.open(db) as store:
        store.label(a, "Measles", who="dr", classes=["Measles", "Normal"])
        reader = Store.open(db)  # another process may have it open: the backup is online
        info = store.backup(tmp_path / "backups")
        reader.close()
        assert info.images == 1 and (info.folder / "backup.json").is_file()
        store.label(b, "Normal", who="dr", classes=["Measles", "Normal"])  # after the backup
    shutil.rmtree(tmp_path / "case-images")  # a disk failure takes the image copies

    assert main(["restore", str(info.folder), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "kept as" in out
    kept = next(tmp_path.glob("case.db.before-restore-*"))
    with Store.open(db) as store:
        assert store.current_label(sha_of(a)) == "Measles"
        assert len(store.labelled_images()) == 1  # the state at backup time
        assert store.labelled_images()[0].file.read_bytes() == a.read_bytes()
        assert store.check() == []
    with Store.open(kept) as old:  # the replaced database is kept, not deleted
        assert len(old.labelled_images()) == 2


def test_cli_backup_and_bad_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "case.db"
    Store.open(db).close()
    assert main(["backup", str(tmp_path / "b"), "--db", str(db)]) == 0
    assert "backup written" in capsys.readouterr().out
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "poxscreen.db").write_text("not a database")
    before = db.read_bytes()
    assert main(["restore", str(tmp_path / "junk"), "--db", str(db)]) == 2
    assert "backup.json is missing" in capsys.readouterr().err
    assert db.read_bytes() == before
