"""The report and the cases export in French: ``poxscreen report --lang fr`` and ``export
--format cases --lang fr`` speak French to people; the screening CSV keeps its machine columns."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from engine.i18n import current_language, set_language
from engine.store import REFER
from tests.engine.cases_setup import CLASSES, screened_store

ENGLISH_NAMES = ("Chickenpox", "Measles", "Monkeypox", "Normal skin", "Refer / uncertain")


def _text(pdf: Path) -> str:
    return " ".join(re.sub(r"\s+", " ", p.extract_text() or "") for p in PdfReader(pdf).pages)


def test_report_translation_cli_writes_a_french_report(
    tmp_path: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main

    sc = screened_store(tmp_path, model_file, n=4)
    sc.store.label(sc.photos[0], REFER, who="Dr Kabila", classes=CLASSES)
    sc.store.close()
    out, db = tmp_path / "r.pdf", str(tmp_path / "case.db")
    args = ["report", "--run", str(sc.run_id), "--lang", "fr", "--out", str(out), "--db", db]
    assert main([*args, "--no-gradcam"]) == 0
    text = _text(out)
    assert "Rougeole" in text and "Varicelle" in text and "Peau normale" in text
    assert "aide au dépistage, pas un diagnostic" in text
    assert "Aide au dépistage, pas un diagnostic · page 2" in text  # the footer
    assert "PoxScreen : rapport de dépistage" in text and "À référer / incertain" in text
    assert re.search(r"\b0,\d\d\b", text)  # probabilities with a decimal comma
    for name in ENGLISH_NAMES:
        assert name not in text
    assert "screening aid" not in text.lower() and "Clinician" not in text
    assert current_language() == "fr"


def test_report_translation_english_stays_the_default(tmp_path: Path, model_file: Path) -> None:
    from engine.cli import main

    sc = screened_store(tmp_path, model_file, n=2)
    sc.store.close()
    out, db = tmp_path / "r.pdf", str(tmp_path / "case.db")
    assert main(["report", "--run", str(sc.run_id), "--out", str(out), "--db", db,
                 "--no-gradcam"]) == 0  # fmt: skip
    text = _text(out)
    assert "Measles" in text and "screening aid, not a diagnosis" in text
    assert "Rougeole" not in text


def test_report_translation_visit_report_in_portuguese(tmp_path: Path, model_file: Path) -> None:
    from engine.report.visit import write_visit_report

    sc = screened_store(tmp_path, model_file, n=2)
    sc.store.visits.assign([sc.photos[0], sc.photos[1]], "P-7", "V-1")
    set_language("pt")
    out = tmp_path / "v.pdf"
    write_visit_report(sc.store, out, "P-7", "V-1", clinician="Dra. Nhantumbo")
    text = _text(out)
    assert "relatório da consulta" in text and "auxílio à triagem" in text
    assert "Assinatura:" in text and "Varicela" in text and "Sarampo" in text


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


def test_export_translation_cases_headers_in_french(tmp_path: Path, model_file: Path) -> None:
    from engine.cli import main

    sc = screened_store(tmp_path, model_file, n=2)
    sc.store.close()
    db, out = str(tmp_path / "case.db"), tmp_path / "cases.csv"
    run = ["--run", str(sc.run_id), "--db", db]
    assert main(["export", *run, "--format", "cases", "--lang", "fr", "--out", str(out)]) == 0
    header = _header(out)
    assert header[:4] == ["Fichier", "sha256", "Classe prédite", "Confiance"]
    assert "Probabilité Rougeole" in header and "Étiquette du clinicien" in header
    assert not any(h.startswith("prob_") or h == "label_who" for h in header)

    machine = tmp_path / "run.csv"  # the screening CSV: stable English machine columns
    assert main(["export", *run, "--format", "csv", "--lang", "fr", "--out", str(machine)]) == 0
    assert _header(machine)[:3] == ["path", "sha256", "error"]
    assert "p_Measles" in _header(machine) and "top_class" in _header(machine)

    english = tmp_path / "cases-en.csv"
    assert main(["export", *run, "--format", "cases", "--lang", "en", "--out", str(english)]) == 0
    assert "prob_Measles" in _header(english) and "label_who" in _header(english)


def test_export_translation_rejects_an_unknown_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--format", "cases", "--lang", "xx", "--out", str(tmp_path / "c.csv")])
    assert "'xx' is not a language PoxScreen speaks (en, fr, pt)" in capsys.readouterr().err
