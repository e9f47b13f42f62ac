"""``poxscreen screen --layout|--manifest``, ``visits``, ``lab`` and ``evaluate --against lab``
against a real database file and a real (untrained) model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.cli import main
from launcher import route
from tests.engine.store.conftest import make_photo


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    import torch

    from engine.checkpoint import ModelMeta, save_model
    from engine.model import MobileNetV2MSCAPFR

    torch.manual_seed(0)
    path = tmp_path / "m.safetensors"
    save_model(path, MobileNetV2MSCAPFR(4).eval(), ModelMeta(name="m", trained=True))
    return path


def _visits_table(out: str) -> dict[tuple[str, str], list[str]]:
    lines = out.splitlines()
    assert lines[0].split() == [
        "patient",
        "visit",
        "photos",
        "referred",
        "decision",
        "lab",
        "result",
    ]
    return {(r[0], r[1]): r[2:] for r in (line.split() for line in lines[1:])}


def test_screen_by_layout_then_visits_lab_and_evaluate_against_lab(
    tmp_path: Path, db_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "clinic"
    for i, place in enumerate(["P1/V1", "P1/V1", "P1/V2", "P2/V1", "P2/V1", "P2/V1"]):
        make_photo(folder / place / f"p{i}.png", seed=i, size=(240, 224))
    make_photo(folder / "P3" / "loose.png", seed=9, size=(240, 224))
    db, out = str(db_path), tmp_path / "out.csv"
    args = ["screen", str(folder), "--layout", "patient/visit", "--model", str(model)]
    code, _, err = _run(capsys, *args, "--device", "cpu", "-q", "--db", db, "--out", str(out))
    assert code == 0
    assert "Not in the layout:" in err and "P3 (not in a PATIENT/VISIT folder): loose.png" in err
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
    assert len(rows) == 7  # --layout screens sub-folders
    assert (rows["p3.png"]["patient"], rows["p3.png"]["visit"]) == ("P2", "V1")
    assert (rows["loose.png"]["patient"], rows["loose.png"]["visit"]) == ("", "")

    code, text, _ = _run(capsys, "visits", "--db", db)
    table = _visits_table(text)
    assert code == 0 and set(table) == {("P1", "V1"), ("P1", "V2"), ("P2", "V1")}
    assert [table[k][0] for k in sorted(table)] == ["2", "1", "3"]

    assert (
        _run(capsys, "lab", "P1/V1", "positive", "--date", "2026-12-01", "--who", "a", "--db", db)[
            0
        ]
        == 0
    )
    assert (
        _run(capsys, "lab", "P2/V1", "negative", "--test", "PCR", "--who", "a", "--db", db)[0] == 0
    )
    assert _run(capsys, "lab", "P1/V2", "pending", "--who", "a", "--db", db)[0] == 0
    code, text, _ = _run(capsys, "visits", "--db", db)
    table = _visits_table(text)
    assert table[("P1", "V1")][-2:] == ["positive", "2026-12-01"]
    assert table[("P2", "V1")][-2:] == ["negative", "PCR"]

    assert route(["evaluate", "--against", "lab"]) == ("engine", ["evaluate", "--against", "lab"])
    code, text, _ = _run(capsys, "evaluate", "--against", "lab", "--db", db)
    assert code == 0 and "2 visits with a lab result (1 positive, 1 negative)" in text
    assert "model:" in text and "clinicians:  (2 visits without a call)" in text
    assert "sensitivity" in text and "specificity" in text and "95% CI" in text


def test_lab_refuses_bad_input_with_a_message(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(db_path)
    code, _, err = _run(capsys, "lab", "P1", "positive", "--db", db)
    assert code == 2 and "give the visit as PATIENT/VISIT" in err
    code, _, err = _run(capsys, "lab", "P1/V1", "maybe", "--db", db)
    assert code == 2 and "'maybe' is not a lab result" in err
    code, _, err = _run(
        capsys, "lab", "P1/V1", "positive", "--date", "May 1", "--who", "a", "--db", db
    )
    assert code == 2 and "not a date; write it as YYYY-MM-DD" in err
    results = tmp_path / "lab.csv"
    results.write_text("patient,visit,result,date\nP1,V1,positive,2026-12-01\nP/2,V1,negative,\n")
    code, out, err = _run(capsys, "lab", "--csv", str(results), "--who", "a", "--db", db)
    assert code == 0 and "1 lab results recorded" in out
    assert "lab.csv line 3: patient 'P/2' contains a path separator" in err


def test_visits_import_assigns_photos_and_lists_missing_files(
    tmp_path: Path, db_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "flat"
    for i in range(3):
        make_photo(folder / f"p{i}.png", seed=i, size=(240, 224))
    db = str(db_path)
    assert (
        _run(
            capsys,
            "screen",
            str(folder),
            "--model",
            str(model),
            "--device",
            "cpu",
            "-q",
            "--db",
            db,
        )[0]
        == 0
    )
    manifest = folder / "visits.csv"
    manifest.write_text("file,patient,visit\np0.png,P1,V1\np1.png,P1,V1\ngone.png,P1,V1\n")
    code, out, err = _run(capsys, "visits", "import", str(manifest), "--db", db)
    assert code == 0 and "2 photos assigned" in out
    assert "line 4" in err and "gone.png: no such file" in err
    code, text, _ = _run(capsys, "visits", "--db", db)
    assert _visits_table(text) == {("P1", "V1"): ["2", text.split()[-3], "-", "-"]}


def test_visit_report_has_the_identifiers_clinician_lab_result_and_signature(
    tmp_path: Path, db_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfReader

    folder = tmp_path / "clinic"
    for i in range(2):
        make_photo(folder / "P7" / "V2" / f"p{i}.png", seed=i, size=(240, 224))
    db = str(db_path)
    args = ["screen", str(folder), "--layout", "patient/visit", "--model", str(model), "-q"]
    assert _run(capsys, *args, "--device", "cpu", "--db", db)[0] == 0
    lab = ["lab", "P7/V2", "positive", "--date", "2026-12-02", "--test", "MPXV PCR"]
    assert _run(capsys, *lab, "--who", "a", "--db", db)[0] == 0
    out = tmp_path / "r.pdf"
    code, text, _ = _run(
        capsys, "report", "--visit", "P7/V2", "--out", str(out), "--who", "Dr Ada", "--db", db
    )
    assert code == 0 and "P7/V2: 2 photos" in text
    cover = PdfReader(out).pages[0].extract_text()
    for expected in ("P7", "V2", "Dr Ada", "PCR positive, 2026-12-02, MPXV PCR", "Signature"):
        assert expected in cover
    code, _, err = _run(capsys, "report", "--visit", "P7/V9", "--out", str(out), "--db", db)
    assert code == 2 and "P7/V9: no screened photo belongs to this visit" in err
    code, _, err = _run(capsys, "report", "--out", str(out), "--db", db)
    assert code == 2 and "give --run N" in err


def test_screen_with_a_manifest_gives_the_listed_photos_their_visit(
    tmp_path: Path, db_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "flat"
    for i in range(3):
        make_photo(folder / f"p{i}.png", seed=i, size=(240, 224))
    manifest = tmp_path / "visits.csv"
    manifest.write_text(
        f"file,patient,visit\n{folder / 'p0.png'},P1,V1\nflat/p2.png,P2,V1\nx.png,P3,V1\n"
    )
    db, out = str(db_path), tmp_path / "out.csv"
    args = ["screen", str(folder), "--manifest", str(manifest), "--model", str(model), "-q"]
    code, _, err = _run(capsys, *args, "--device", "cpu", "--db", db, "--out", str(out))
    assert code == 0 and "line 4" in err and "x.png: no such file" in err
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {Path(r["path"]).name: (r["patient"], r["visit"]) for r in csv.DictReader(fh)}
    assert rows == {"p0.png": ("P1", "V1"), "p1.png": ("", ""), "p2.png": ("P2", "V1")}
    code, text, _ = _run(capsys, "visits", "--db", db)
    assert set(_visits_table(text)) == {("P1", "V1"), ("P2", "V1")}
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nx\n")
    code, _, err = _run(capsys, *args[:3], str(bad), *args[4:], "--db", db)
    assert code == 2 and "bad.csv: the manifest lacks the column(s) file, patient, visit" in err
