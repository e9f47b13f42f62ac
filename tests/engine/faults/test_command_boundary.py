"""Store and output errors end the command with a message naming the file and the
real cause, the CSV of what was screened is kept, and the run's status tells the truth."""

from __future__ import annotations

import csv
import errno
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine import atomic
from engine.cli import main
from engine.store import Store, StoreError
from tests.engine.factories import make_photo


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        make_photo(photos / f"p{i}.png", i)
    return photos


def _screen(folder: Path, model_file: Path, *extra: str) -> int:
    args = ["screen", str(folder), "--model", str(model_file), "--device", "cpu", "-q"]
    return main([*args, "--batch-size", "2", *extra])


def _runs(db: Path) -> list:
    with Store.open(db, create=False) as store:
        return store.runs()


def test_db_pointing_at_a_folder_is_a_message(
    folder: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _screen(folder, model_file, "--db", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: is a folder" in err


def test_store_failure_midway_keeps_the_csv_and_closes_the_run(
    folder: Path,
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, out = tmp_path / "case.db", tmp_path / "out.csv"
    real = Store.record_results
    calls = []

    def failing(self: Store, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise StoreError(f"{db}: database error: the disk is full")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "record_results", failing)
    assert _screen(folder, model_file, "--db", str(db), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "screening stopped" in err and str(db) in err and "disk is full" in err
    assert str(out) in err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 4  # both batches that were screened, the second one too
    (run,) = _runs(db)
    assert run.status == "failed" and "disk is full" in (run.error or "")


def test_out_naming_a_folder_fails_before_screening(
    folder: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "case.db"
    out = tmp_path / "results"
    out.mkdir()
    assert _screen(folder, model_file, "--db", str(db), "--out", str(out)) == 2
    assert f"{out}: cannot write: it is a folder" in capsys.readouterr().err
    assert _runs(db) == []  # no run begun, none left "running" or "finished"


def test_invalid_out_leaves_no_running_run(
    folder: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "case.db"
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert _screen(folder, model_file, "--db", str(db), "--out", str(blocker / "o.csv")) == 2
    assert "o.csv: cannot write" in capsys.readouterr().err
    assert [r.status for r in _runs(db)] == []


def test_disk_full_while_writing_csv_fails_the_run_and_leaves_no_temp(
    folder: Path,
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine import screening

    db, out = tmp_path / "case.db", tmp_path / "out.csv"
    real = screening.csvsafe.writer
    state = {"rows": 0}

    class FullDisk:
        def __init__(self, fh: object) -> None:
            self.inner = real(fh)  # type: ignore[call-overload]

        def writerow(self, row: list[str]) -> None:
            self.inner.writerow(row)

        def writerows(self, rows: list[list[str]]) -> None:
            state["rows"] += len(rows)
            if state["rows"] > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.inner.writerows(rows)

    monkeypatch.setattr(screening.csvsafe, "writer", FullDisk)
    assert _screen(folder, model_file, "--db", str(db), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert f"{out}: cannot write: the disk is full" in err
    assert not out.exists() and not list(tmp_path.glob(".incoming-*"))
    (run,) = _runs(db)
    assert run.status == "failed"


def test_status_is_set_only_after_the_csv_is_in_place(
    folder: Path,
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, out = tmp_path / "case.db", tmp_path / "out.csv"

    real = atomic._commit

    def no_rename(tmp: Path, target: Path) -> None:
        if target != out:
            return real(tmp, target)
        raise atomic.write_failed(target, OSError(errno.EROFS, "Read-only file system"))

    monkeypatch.setattr(atomic, "_commit", no_rename)
    assert _screen(folder, model_file, "--db", str(db), "--out", str(out)) == 1
    assert "the file system is read-only" in capsys.readouterr().err
    (run,) = _runs(db)
    assert run.status == "failed"  # was "finished" although no CSV was written


def test_read_only_commands_never_create_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "casse.db"
    for command in (["runs"], ["history", "abcdef12"], ["models"]):
        assert main([*command, "--db", str(typo)]) == 2
        assert "no case store there" in capsys.readouterr().err
    assert not typo.exists()
    assert main(["models", "--db", str(tmp_path / "nowhere" / "x.db")]) == 2
    assert not (tmp_path / "nowhere").exists()


def test_a_writing_command_announces_a_new_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "a.png", 1)
    db = tmp_path / "new.db"
    assert main(["label", str(photo), "Normal", "--who", "dr", "--db", str(db)]) == 0
    assert f"created a new, empty case store at {db}" in capsys.readouterr().err
    assert main(["label", str(photo), "Measles", "--who", "dr", "--db", str(db)]) == 0
    assert "created" not in capsys.readouterr().err
    assert main(["label", str(photo), "Normal", "--db", str(tmp_path / "no" / "x.db")]) == 2
    assert "folder does not exist" in capsys.readouterr().err


def test_disk_full_is_named_not_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.store import db as dbmod

    with Store.open(tmp_path / "case.db"):
        pass
    monkeypatch.setattr(dbmod, "free_bytes", lambda folder: 0)
    cause = dbmod.sqlite_cause(tmp_path / "case.db", Exception("disk I/O error"))
    assert cause.startswith("the disk is full")
    assert atomic.os_cause(OSError(errno.ENOSPC, "x")) == "the disk is full"
    assert atomic.os_cause(OSError(errno.EROFS, "x")) == "the file system is read-only"


def test_export_names_a_full_disk_not_a_missing_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import StoreError

    photo = make_photo(tmp_path / "a.png", 1)
    with Store.open(tmp_path / "case.db") as store:
        store.label(photo, "Normal", who="dr", classes=["Normal"])

        def full(*args: object, **kwargs: object) -> object:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(atomic, "tempfile", SimpleNamespace(mkstemp=full))
        with pytest.raises(StoreError, match="the disk is full"):
            store.export_imagefolder(tmp_path / "export")
