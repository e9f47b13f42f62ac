"""The printed case report: a parseable PDF with a cover page and one block per image, small
JPEG pictures without EXIF, Grad-CAM overlays, clear notes for missing pictures, atomic output."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

from engine.report import NOTICE, ReportCancelled, ReportOptions, write_report
from engine.store import REFER, ReviewFilter
from tests.engine.cases_setup import CLASSES, EXIF_MARKER, screened_store


def _text(pdf: Path) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in PdfReader(pdf).pages]


def _images(pdf: Path) -> list[object]:
    return [img for page in PdfReader(pdf).pages for img in page.images]


def test_report_of_a_run(tmp_path: Path, model_file: Path) -> None:
    sc = screened_store(tmp_path, model_file, n=8)
    sc.store.label(
        sc.photos[1], "Normal", who="Dr Müller", note="dry <crusts> & scale", classes=CLASSES
    )
    sc.store.label(sc.photos[2], REFER, who="dr b")
    out = tmp_path / "report.pdf"
    opts = ReportOptions(clinic="Clinique Test", device="cpu")
    summary = write_report(sc.store, out, sc.run_id, options=opts, referral=lambda p: False)

    pages = _text(out)
    assert summary.pages == len(pages) >= 2 and summary.images == 8 and summary.gradcam
    cover = pages[0]
    assert "Clinique Test" in cover and sc.version in cover and "a caller's rule" in cover
    assert NOTICE.split(",")[0] in cover  # the notice
    assert re.search(r"Referrals \(flagged by the rule or labelled refer\) 1", cover)
    assert re.search(r"Disagreements \(clinician label differs from the model\) 1", cover)
    assert re.search(r"Files that could not be read 1", cover)
    body = " ".join(pages[1:])
    for p in sc.photos:
        assert p.name in body
    assert "Dr Müller" in body and "dry <crusts> & scale" in body and "disagrees" in body
    assert "truncated or corrupt image data" in body  # the unreadable file is listed
    assert len(_images(out)) == 2 * 8  # thumbnail + Grad-CAM overlay per image
    data = out.read_bytes()
    assert EXIF_MARKER.encode() not in data and summary.size_bytes == len(data)
    assert summary.problems == []


def test_missing_pictures_and_model_are_explained(tmp_path: Path, model_file: Path) -> None:
    sc = screened_store(tmp_path, model_file, n=3)
    sc.photos[0].unlink()  # never labelled, so no copy in the image store either
    out = tmp_path / "r.pdf"
    summary = write_report(sc.store, out, sc.run_id, options=ReportOptions(gradcam=False))
    body = " ".join(_text(out)[1:])
    assert "Picture unavailable" in body and "case_0.jpg" in body
    assert len(_images(out)) == 2 and not summary.gradcam  # thumbnails only
    assert any("case_0.jpg" in p for p in summary.problems)

    with sc.store.write() as s:  # the registered model file is gone from this computer
        from engine.store.tables import ModelVersion

        for m in s.query(ModelVersion):
            m.path = str(tmp_path / "gone.safetensors")
    summary = write_report(sc.store, out, sc.run_id)
    assert not summary.gradcam and any("Grad-CAM" in p for p in summary.problems)


def test_report_of_a_filter(tmp_path: Path, model_file: Path) -> None:
    sc = screened_store(tmp_path, model_file, n=6)
    out = tmp_path / "f.pdf"
    flt = ReviewFilter(run_id=sc.run_id, predicted_class="Measles")
    summary = write_report(sc.store, out, flt, options=ReportOptions(gradcam=False))
    assert summary.images == 2  # case_1 and case_5
    body = " ".join(_text(out))
    assert "case_1.jpg" in body and "case_5.jpg" in body and "case_0.jpg" not in body
    assert "predicted class = Measles" in body


def test_cancel_leaves_no_file(tmp_path: Path, model_file: Path) -> None:
    sc = screened_store(tmp_path, model_file, n=3)
    out = tmp_path / "c.pdf"
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ReportCancelled):
        write_report(sc.store, out, sc.run_id, cancel=cancel)
    assert list(tmp_path.glob("*.pdf*")) == []


def test_cli_report(tmp_path: Path, model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    sc = screened_store(tmp_path, model_file, n=2)
    sc.store.close()
    db, out = str(tmp_path / "case.db"), tmp_path / "cli.pdf"
    assert (
        main(["report", "--run", str(sc.run_id), "--out", str(out), "--db", db, "--no-gradcam"])
        == 0
    )
    assert "2 images" in capsys.readouterr().out and len(_text(out)) >= 2
    assert main(["report", "--run", "99", "--out", str(out), "--db", db]) == 2
    assert "no screening run #99" in capsys.readouterr().err
