"""No CSV PoxScreen writes lets a spreadsheet run a cell: file names, notes, clinician and class
names that start with ``=``, ``+``, ``-``, ``@``, tab or carriage return are neutralised with a
leading quote (OWASP), in every writer; and every ``csv.writer`` goes through engine.csvsafe."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest

from engine.csvsafe import read_cell, safe_cell
from engine.store import Store
from tests.engine.store.conftest import make_photo, sha_of

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ["=HYPERLINK(1)", "+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\r=1"]
FORMULA = ("=", "+", "-", "@", "\t", "\r")
CLASSES = ["-cmd", "Measles"]  # a model whose class name is a formula


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _assert_inert(path: Path, *expected: str) -> None:
    """No cell starts a formula (plain numbers excepted), and the hostile texts are there,
    quoted."""
    cells = _cells(path)
    bad = [c for c in cells if c.startswith(FORMULA) and not _is_number(c)]
    assert bad == [], f"{path.name}: cells a spreadsheet would run: {bad}"
    for text in expected:
        assert "'" + text in cells, f"{path.name}: {text!r} not written as '{text!r}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.lower().lstrip("+-")[:1].isdigit() or text.lstrip("+-").startswith(".")


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_starts_get_a_quote_and_read_back(text: str) -> None:
    assert safe_cell(text) == "'" + text
    assert read_cell(safe_cell(text)) == text


def test_numbers_plain_text_and_quoted_text_round_trip() -> None:
    for number in ["-0.5", "+1", "-1.25e-3", ".5", "0.900000"]:
        assert safe_cell(number) == number
    assert safe_cell("-inf") == "'-inf"
    assert safe_cell(1.5) == 1.5 and safe_cell(None) is None
    for text in ["/photos/=a.jpg", "dr a", "'quoted", "'=already", "''-x", "'-0.5"]:
        assert read_cell(safe_cell(text)) == text
    assert safe_cell("'=already") == "''=already"


def test_a_formula_after_another_programs_separator_quotes_the_row(tmp_path: Path) -> None:
    from engine import csvsafe

    rows = [["plain", "-0.5"], ["x;=cmd|' /C calc'!A0", "0.5"], ["a\t@SUM(1)", "1"]]
    target = tmp_path / "t.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        csvsafe.writer(fh).writerows(rows)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines == ["plain,-0.5", '"x;=cmd|\' /C calc\'!A0","0.5"', '"a\t@SUM(1)","1"']
    with target.open(newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == rows


def _hostile_store(tmp_path: Path) -> tuple[Store, int, Path]:
    """A store whose one run has a photo named like a formula, labelled with a formula class by
    a formula clinician with a formula note; one unreadable file has a formula name."""
    store = Store.open(tmp_path / "case.db")
    folder = tmp_path / "photos"
    photo = make_photo(folder / "=HYPERLINK(1).jpg", seed=1)
    run = store.begin_run(str(folder), {}, "a" * 64, model_meta={"classes": CLASSES})
    result = {
        "path": str(photo),
        "sha256": sha_of(photo),
        "size_bytes": photo.stat().st_size,
        "width": 40,
        "height": 32,
        "probabilities": {"-cmd": 0.8, "Measles": 0.2},
    }
    store.record_results(run, [result, {"path": "@SUM(A1).jpg", "error": "-2+3 broken"}])
    store.finish_run(run, "finished")
    store.label(photo, "-cmd", who="@SUM(A1)", note="-2+3")
    return store, run, photo


def test_export_csv_and_cases_csv_neutralise_hostile_cells(tmp_path: Path) -> None:
    from engine.cases import export_cases_csv

    store, run, _ = _hostile_store(tmp_path)
    with store:
        store.export_csv(tmp_path / "run.csv", run_id=run)
        export_cases_csv(store, tmp_path / "cases.csv", run)
    _assert_inert(tmp_path / "run.csv", "-cmd", "-2+3 broken")
    _assert_inert(tmp_path / "cases.csv", "-cmd", "@SUM(A1)", "-2+3", "-2+3 broken")


def test_cli_exports_neutralise_hostile_cells(tmp_path: Path) -> None:
    from engine.cli import main

    store, run, _ = _hostile_store(tmp_path)
    store.close()
    db = str(tmp_path / "case.db")
    for fmt in ("csv", "cases"):
        out = tmp_path / f"cli-{fmt}.csv"
        args = ["export", "--run", str(run), "--format", fmt, "--out", str(out), "--db", db]
        assert main(args) == 0
        _assert_inert(out, "-cmd", "-2+3 broken")


def test_manifest_neutralises_a_hostile_class_folder_and_merges_back(tmp_path: Path) -> None:
    store, run, _ = _hostile_store(tmp_path)
    out = tmp_path / "export"
    with store:
        first = store.export_imagefolder(out, run_id=run)
        assert first.per_class == {"-cmd": 1}
        store.export_imagefolder(out, run_id=run)  # merged with the manifest written above
    (name,) = first.files
    assert name.startswith("-cmd/")
    _assert_inert(out / "manifest.csv", name)
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        assert [read_cell(r["file"]) for r in csv.DictReader(fh)] == [name]


def test_screening_csv_neutralises_hostile_file_names(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.predictor import Predictor
    from engine.screening import ScreeningJob

    for i, name in enumerate(["=HYPERLINK(1).png", "-2+3.png", "@SUM(A1).png"]):
        make_photo(tmp_path / name, seed=i)
    (tmp_path / "+cmd.png").write_bytes(b"not an image")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.csv"
    summary = ScreeningJob(Predictor.from_file(model_file), Path("."), csv_path=out).run()
    assert summary.predicted == 3
    _assert_inert(out, "=HYPERLINK(1).png", "-2+3.png", "@SUM(A1).png", "+cmd.png")


def _csv_writer_calls(tree: ast.AST) -> list[int]:
    """Lines that make a ``csv.writer``/``csv.DictWriter`` or import one from ``csv``."""
    writers = {"writer", "DictWriter"}
    lines = []
    for node in ast.walk(tree):
        made = (
            isinstance(node, ast.Attribute)
            and node.attr in writers
            and isinstance(node.value, ast.Name)
            and node.value.id == "csv"
        )
        imported = (
            isinstance(node, ast.ImportFrom)
            and node.module == "csv"
            and bool({a.name for a in node.names} & writers)
        )
        if made or imported:
            lines.append(node.lineno)
    return lines


def test_every_csv_writer_goes_through_csvsafe() -> None:
    allowed = ROOT / "engine" / "csvsafe.py"
    offenders = []
    for package in ("engine", "trainer", "desktop", "launcher", "bench"):
        for source in sorted((ROOT / package).rglob("*.py")):
            if source == allowed:
                continue
            tree = ast.parse(source.read_text(encoding="utf-8"))
            offenders += [f"{source.relative_to(ROOT)}:{n}" for n in _csv_writer_calls(tree)]
    assert offenders == [], f"CSV writers not using engine.csvsafe.writer: {offenders}"
    assert _csv_writer_calls(ast.parse("import csv\nw = csv.writer(f)")) == [2]
