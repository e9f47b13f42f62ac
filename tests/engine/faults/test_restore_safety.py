"""Restore never runs under a live process, never accepts a bad backup, and keeps forgotten
photos forgotten; read-only commands leave the database file as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.store import Store
from engine.store.backup import MANIFEST
from tests.engine.store.conftest import make_photo, sha_of

ROOT = Path(__file__).resolve().parents[3]
HOLDER = """
import sys, time
sys.argv = ["poxscreen", "screen", "photos"]  # what the marker says this process is
from engine.store import Store
store = Store.open(sys.stdin.readline().strip())
print("open", flush=True)
sys.stdin.readline()  # hold the store until told to close
store.close()
"""


def _backup(tmp_path: Path, labelled: int = 1) -> tuple[Path, Path]:
    db = tmp_path / "case.db"
    with Store.open(db) as store:
        for i in range(labelled):
            photo = make_photo(tmp_path / "in" / f"p{i}.png", i + 1)
            store.label(photo, "Measles", who="dr", classes=["Measles", "Normal"])
        info = store.backup(tmp_path / "backups")
    return db, info.folder


def test_restore_refuses_while_another_process_has_the_store_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, folder = _backup(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write(f"{db}\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "open"
        before = db.read_bytes()
        assert main(["restore", str(folder), "--db", str(db)]) == 2
        message = capsys.readouterr().err
        assert "a screening" in message and f"process {holder.pid}" in message
        assert os.uname().nodename[:20] in message  # the host it runs on
        assert db.read_bytes() == before
        assert not list(tmp_path.glob("case.db.before-restore-*"))
        holder.stdin.write("close\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert main(["restore", str(folder), "--db", str(db)]) == 0


def test_a_crashed_opener_does_not_block_a_restore(tmp_path: Path) -> None:
    from engine.store.openers import live_openers, openers_dir

    db, folder = _backup(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(f"{db}\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "open"
    holder.kill()  # kill -9: its marker stays behind
    holder.wait()
    assert list(openers_dir(db).glob("*.json"))
    assert live_openers(db) == []
    assert main(["restore", str(folder), "--db", str(db)]) == 0


def test_a_silent_opener_on_another_host_stops_blocking(tmp_path: Path) -> None:
    from engine.store.openers import live_openers, openers_dir

    db = tmp_path / "case.db"
    Store.open(db).close()
    folder = openers_dir(db)
    folder.mkdir()
    marker = folder / "ward-pc-4242-abcd.json"
    marker.write_text(
        json.dumps({"host": "ward-pc", "pid": 4242, "kind": "the app", "started": 1.0})
    )
    assert [o.host for o in live_openers(db)] == ["ward-pc"]  # fresh: it blocks
    old = time.time() - 600
    os.utime(marker, (old, old))
    assert live_openers(db) == []


def test_nobody_opens_a_store_while_it_is_being_restored(tmp_path: Path) -> None:
    from engine.store.openers import StoreInUseError, exclusive

    db = tmp_path / "case.db"
    Store.open(db).close()
    with exclusive(db), pytest.raises(StoreInUseError, match="restoring a backup"):
        Store.open(db)
    Store.open(db).close()  # the lock went with the restore


def test_the_desktop_app_is_named_as_an_opener(tmp_path: Path) -> None:
    from engine.store.openers import StoreInUseError, exclusive

    db = tmp_path / "case.db"
    with (
        Store.open(db, kind="the PoxScreen desktop app"),
        pytest.raises(StoreInUseError, match="the PoxScreen desktop app"),
        exclusive(db),
    ):
        pass
    with exclusive(db):
        pass


@pytest.mark.parametrize("damage", ["empty db", "no manifest", "image missing", "image changed"])
def test_restore_refuses_a_bad_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    db, folder = _backup(tmp_path)
    image = next((folder / "images").glob("??/??/*"))
    if damage == "empty db":
        (folder / "poxscreen.db").write_bytes(b"")
    elif damage == "no manifest":
        (folder / MANIFEST).unlink()
    elif damage == "image missing":
        image.unlink()
    else:
        image.write_bytes(image.read_bytes()[:-1] + b"x")
    before = db.read_bytes()
    assert main(["restore", str(folder), "--db", str(db)]) == 2
    message = capsys.readouterr().err
    assert str(folder) in message and "nothing was restored" in message
    assert db.read_bytes() == before
    assert not list(tmp_path.glob("case.db.before-restore-*"))


def test_the_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    _db, folder = _backup(tmp_path, labelled=2)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert len(manifest["files"]) == 2
    for rel, sha in manifest["files"].items():
        assert sha_of(folder / rel) == sha
    assert manifest["database"]["sha256"] == sha_of(folder / "poxscreen.db")


def test_a_backup_that_fails_part_way_removes_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import backup as backup_module
    from engine.store.errors import StoreWriteError

    db, _folder = _backup(tmp_path)

    def full_disk(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_module, "_copy_hashed", full_disk)
    with Store.open(db) as store, pytest.raises(StoreWriteError, match="disk is full"):
        store.backup(tmp_path / "more")
    assert list((tmp_path / "more").iterdir()) == []


def test_restore_takes_a_relative_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, folder = _backup(tmp_path)
    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(folder, tmp_path)
    assert main(["restore", relative, "--db", "case.db"]) == 0
    assert "restored" in capsys.readouterr().out
    assert db.is_file()


def test_check_notices_lost_labelled_copies(tmp_path: Path) -> None:
    db, _folder = _backup(tmp_path)
    for copy in (tmp_path / "case-images").glob("??/??/*"):
        copy.unlink()
    with Store.open(db) as store:
        problems = store.check()
    assert problems and "lost their copy" in problems[0]


def test_restoring_an_older_backup_forgets_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, folder = _backup(tmp_path, labelled=2)
    forgotten = sha_of(tmp_path / "in" / "p0.png")
    late = make_photo(tmp_path / "in" / "late.png", 99)  # added and forgotten after the backup
    with Store.open(db) as store:
        store.label(late, "Normal", who="dr", classes=["Measles", "Normal"])
        store.forget(forgotten)
        store.forget(sha_of(late))
    assert main(["restore", str(folder), "--db", str(db)]) == 0
    assert "1 photos forgotten since this backup was made" in capsys.readouterr().out
    with Store.open(db) as store:
        image = store.image(forgotten)
        assert image.path is None and image.stored_path is None
        assert set(store.forgotten_hashes()) == {forgotten, sha_of(late)}
    assert not list((tmp_path / "case-images").glob(f"??/??/{forgotten}*"))


def test_a_read_only_command_leaves_the_database_file_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _db, folder = _backup(tmp_path)
    copy = folder / "poxscreen.db"
    before, mtime = copy.read_bytes(), copy.stat().st_mtime_ns
    time.sleep(0.01)
    for command in (["runs"], ["history", sha_of(tmp_path / "in" / "p0.png")]):
        assert main([*command, "--db", str(copy)]) == 0
    capsys.readouterr()
    assert copy.read_bytes() == before and copy.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in folder.iterdir()) == ["backup.json", "images", "poxscreen.db"]
