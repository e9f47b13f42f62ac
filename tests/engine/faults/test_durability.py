"""One atomic write everywhere, stale temporaries cleaned, damage noticed."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from engine import atomic
from engine.cli import main
from engine.store import Store, StoreError
from tests.engine.store.conftest import fake_result


def _fd_is_writable(fd: int) -> bool:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl")
def test_fsync_uses_a_writable_handle_and_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[bool, bool]] = []
    real = os.fsync

    def spy(fd: int) -> None:
        import stat

        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), _fd_is_writable(fd)))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    with atomic.atomic_path(tmp_path / "model.bin") as tmp:
        tmp.write_bytes(b"weights")
    atomic.atomic_write_text(tmp_path / "report.txt", "ok")
    files = [w for is_dir, w in synced if not is_dir]
    assert files == [True, True]  # a read-only handle fails on Windows
    assert sum(is_dir for is_dir, _ in synced) == 2  # the rename itself made durable
    assert (tmp_path / "model.bin").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "report.txt"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_open(target, "w") as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_store_exports_and_copies_are_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV export and image-store copies go through engine.atomic (the CSV export was not atomic)."""
    from tests.engine.store.conftest import make_photo

    opened: list[str] = []
    real = atomic.atomic_open

    def spy(path: object, *args: object, **kwargs: object) -> object:
        opened.append(Path(str(path)).name)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    import engine.store.export as export
    import engine.store.imagestore as imagestore

    monkeypatch.setattr(export, "atomic_open", spy)
    monkeypatch.setattr(imagestore, "atomic_open", spy)
    photo = make_photo(tmp_path / "a.png", 1)
    with Store.open(tmp_path / "case.db") as store:
        store.label(photo, "Normal", who="dr", classes=["Normal"])
        store.record_results(store.begin_run("/photos", {}, "a" * 64), [fake_result(1)])
        store.export_csv(tmp_path / "all.csv")
        store.export_imagefolder(tmp_path / "export")
    assert "all.csv" in opened and sum(n.endswith(".png") for n in opened) == 2


def test_stale_incoming_files_are_removed_on_next_start(tmp_path: Path) -> None:
    root = tmp_path / "case-images"
    folder = root / "ab" / "cd"
    folder.mkdir(parents=True)
    stale = folder / ".incoming-abcd.png.x1.tmp"
    fresh = folder / ".incoming-abcd.png.x2.tmp"  # a copy in progress in another process
    keep = folder / ("ab" * 32 + ".png")
    for f in (stale, fresh, keep):
        f.write_bytes(b"x")
    old = time.time() - atomic.STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    with Store.open(tmp_path / "case.db") as store:
        assert store.housekeeping.wait(30)
        assert store.housekeeping.removed_temporaries == 1
    assert not stale.exists() and fresh.exists() and keep.exists()


def _damage(db: Path) -> None:
    with Store.open(db) as store:
        run = store.begin_run("/photos", {}, "a" * 64)
        for start in range(0, 600, 100):
            store.record_results(run, [fake_result(i) for i in range(start, start + 100)])
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = db.stat().st_size
    with db.open("r+b") as f:  # garble pages well past the header and the schema page
        f.seek(size // 2)
        f.write(os.urandom(4096 * 4))


def test_damaged_database_refuses_writes_and_check_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "case.db"
    _damage(db)
    with Store.open(db) as store:
        assert store.housekeeping.wait(30)
        assert store.housekeeping.damaged
        with pytest.raises(StoreError, match="damaged"):
            store.begin_run("/photos", {}, "a" * 64)
        assert store.check()
    assert main(["check", "--db", str(db)]) == 1
    out = capsys.readouterr()
    assert "damaged" in out.out + out.err


def test_check_on_a_healthy_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "case.db"
    with Store.open(db) as store:
        store.record_results(store.begin_run("/p", {}, "a" * 64), [fake_result(1)])
        assert store.housekeeping.wait(30) and not store.housekeeping.damaged
        assert store.check() == []
    assert main(["check", "--db", str(db)]) == 0
    assert "ok" in capsys.readouterr().out
