"""A file name with invalid UTF-8 bytes is screened, stored and shown, never a crash."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest

from engine.paths import display_path, path_from_text, path_to_text
from engine.predictor import Predictor
from engine.screening import ScreeningJob
from engine.store import Store
from tests.engine.factories import make_photo

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte file names")


def test_path_text_round_trip_is_lossless() -> None:
    raw = os.fsdecode(b"/photos/b\xffad 100%\xe9.png")
    text = path_to_text(raw)
    text.encode("utf-8")  # storable in SQLite, PostgreSQL and CSV
    assert os.fsencode(path_from_text(text)) == os.fsencode(raw)
    assert path_to_text("/photos/éruption ß.jpg") == "/photos/éruption ß.jpg"
    assert path_from_text("/photos/éruption ß.jpg") == "/photos/éruption ß.jpg"
    assert display_path(raw) == "/photos/b\ufffdad 100%\ufffd.png"


@posix_only
def test_screen_folder_with_invalid_utf8_name(model_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "good.png", 1)
    bad = os.path.join(os.fsencode(folder), b"bad\xff.png")
    make_photo(Path(os.fsdecode(bad)), 2)
    out = tmp_path / "out.csv"
    with Store.open(tmp_path / "case.db") as store:
        job = ScreeningJob(Predictor.from_file(model_file), folder, csv_path=out, store=store)
        summary = job.run()
        assert summary.predicted == 2 and not summary.errors
        assert store.run(summary.run_id).status == "finished"
        paths = {os.fsencode(img.path) for img in (store.image(p) for p in folder.iterdir())}
        assert bad in paths  # the stored path opens the very file again
        # a rerun resumes without crashing: both already screened
        again = ScreeningJob(Predictor.from_file(model_file), folder, store=store).run()
        assert again.skipped == 2
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in rows) == ["bad\ufffd.png", "good.png"]


@posix_only
def test_case_csv_and_report_show_an_invalid_utf8_name(tmp_path: Path) -> None:
    from engine.cases import export_cases_csv
    from engine.report import ReportOptions, write_report
    from tests.engine.store.conftest import fake_result

    bad = os.fsdecode(b"/photos/b\xffad.jpg")
    with Store.open(tmp_path / "case.db") as store:
        run = store.begin_run("/photos", {}, "a" * 64, model_meta={"classes": ["Measles"]})
        store.record_results(
            run,
            [
                {**fake_result(1), "path": bad},
                fake_result(2, path=bad + "x", error="truncated", sha256=None, probabilities=None),
            ],
        )
        out = tmp_path / "cases.csv"
        assert export_cases_csv(store, out, run) == 2
        summary = write_report(
            store, tmp_path / "r.pdf", run, options=ReportOptions(gradcam=False, device="cpu")
        )
        assert summary.images >= 0 and (tmp_path / "r.pdf").is_file()
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["path"] for r in rows} == {"/photos/b\ufffdad.jpg", "/photos/b\ufffdad.jpgx"}
