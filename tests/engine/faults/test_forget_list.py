"""A forgotten photo stays forgotten when its folder is screened again, unless the clinician
asks for it back (``--readd-forgotten``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.cli import main
from engine.store import Store
from tests.engine.store.conftest import make_photo, sha_of


def _screen(folder: Path, db: Path, model: Path, out: Path, *extra: str) -> int:
    return main(
        ["screen", str(folder), "--db", str(db), "--model", str(model), "--out", str(out)]
        + ["--device", "cpu", "--quiet", *extra]
    )


def test_screening_again_skips_a_forgotten_photo_unless_asked(
    tmp_path: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ward"
    gone = make_photo(folder / "Jane Doe.png", 1)
    make_photo(folder / "other.png", 2)
    db = tmp_path / "case.db"
    assert _screen(folder, db, model_file, tmp_path / "first.csv") == 0
    with Store.open(db) as store:
        store.forget(sha_of(gone))
    capsys.readouterr()

    assert _screen(folder, db, model_file, tmp_path / "again.csv") == 0
    assert "1 of the skipped photos were forgotten" in capsys.readouterr().err
    rows = {r["sha256"]: r for r in csv.DictReader((tmp_path / "again.csv").open())}
    assert rows[sha_of(gone)]["source"].startswith("skipped: forgotten on ")
    assert rows[sha_of(gone)]["predicted_class"] == ""
    with Store.open(db) as store:
        assert store.image(sha_of(gone)).path is None  # its name did not come back
        assert sha_of(gone) in store.forgotten_hashes()

    assert _screen(folder, db, model_file, tmp_path / "back.csv", "--readd-forgotten") == 0
    with Store.open(db) as store:
        assert store.image(sha_of(gone)).path == str(gone.resolve())
        assert sha_of(gone) not in store.forgotten_hashes()
