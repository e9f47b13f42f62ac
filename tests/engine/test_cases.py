"""Case CSV export: the screening CSV's columns plus the label in force, who, when, note and the
referral flag, for a run (unreadable files included), a review filter or a list of items."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from engine.cases import EXTRA_COLUMNS, case_columns, collect_cases, export_cases_csv
from engine.referral import ReferralRule
from engine.screening import csv_header
from engine.store import REFER, ReviewFilter
from tests.engine.cases_setup import CLASSES, screened_store


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_case_columns_extend_the_screening_csv() -> None:
    assert case_columns(CLASSES) == csv_header(CLASSES) + EXTRA_COLUMNS


def test_run_export_has_every_file_with_the_label_in_force(
    tmp_path: Path, model_file: Path
) -> None:
    sc = screened_store(tmp_path, model_file)
    st, photos = sc.store, sc.photos
    st.label(photos[0], "Measles", who="dr first", note="wrong", classes=CLASSES)
    st.label(
        photos[0], "Normal", who="dr second", note='crusted, <5 mm & "typical"', classes=CLASSES
    )
    st.label(photos[1], "Normal", who="dr a", classes=CLASSES)
    st.undo(photos[1], who="dr a")  # no label in force any more
    st.label(photos[2], REFER, who="dr b", note="poor focus")

    out = tmp_path / "out" / "cases.csv"
    n = export_cases_csv(st, out, sc.run_id, referral=lambda p: False)
    rows = _read(out)
    assert n == len(rows) == len(photos) + 1
    by_path = {r["path"]: r for r in rows}
    first = by_path[str(photos[0])]
    assert (first["label"], first["label_who"], first["label_note"]) == (
        "Normal",
        "dr second",
        'crusted, <5 mm & "typical"',
    )
    assert first["label_at"].endswith("+00:00") and first["sha256"] == _sha(photos[0])
    assert first["predicted_class"] == "Chickenpox" and first["model_version"] == sc.version
    assert float(first["prob_Chickenpox"]) == pytest.approx(0.55)
    undone = by_path[str(photos[1])]
    assert undone["label"] == undone["label_who"] == undone["label_at"] == ""
    assert by_path[str(photos[2])]["label"] == REFER
    assert {r["referral"] for r in rows if r["predicted_class"]} == {"false"}  # the rule's flag
    referred = [
        c.name for c in collect_cases(st, sc.run_id, referral=lambda p: False).cases if c.referral
    ]
    assert referred == ["case_2.jpg"]  # the report also refers what the clinician referred
    broken = by_path[str(sc.broken)]
    assert broken["error"] and broken["predicted_class"] == "" and broken["sha256"] == ""
    assert [r["path"] for r in rows][:-1] == [str(p) for p in photos]  # the run's order


def test_referral_rule_flags_probabilities(tmp_path: Path, model_file: Path) -> None:
    sc = screened_store(tmp_path, model_file)
    cases = collect_cases(sc.store, sc.run_id, referral=lambda p: p["Monkeypox"] > 0.5).cases
    flagged = {Path(c.path).name for c in cases if c.referral}
    assert flagged == {"case_2.jpg"}  # the only image with Monkeypox on top (0.65)
    # by default the store's own rule (here set to: below 0.7 confidence, or P(Mpox) above 0.3)
    sc.store.set_referral_rule(ReferralRule(min_confidence=0.7, mpox_above=0.3), who="dr a")
    rule = sc.store.referral_rule()
    default = {c.name: c.referral for c in collect_cases(sc.store, sc.run_id).cases if c.top_class}
    assert default == {c.name: rule.flags(c.probabilities) for c in cases if c.top_class}
    assert default["case_0.jpg"] and not default["case_4.jpg"]  # 0.55 vs 0.75 Chickenpox
    text = collect_cases(sc.store, sc.run_id).referral_text
    assert f"below {rule.min_confidence:.2f}" in text and f"above {rule.mpox_above:.2f}" in text


def test_filter_and_item_list_select_the_same_cases(tmp_path: Path, model_file: Path) -> None:
    sc = screened_store(tmp_path, model_file)
    for i in (0, 3):
        sc.store.label(sc.photos[i], "Monkeypox", who="dr a", classes=CLASSES)
    flt = ReviewFilter(run_id=sc.run_id, label="Monkeypox")
    by_filter = collect_cases(sc.store, flt, referral=lambda p: False)
    assert sorted(Path(c.path).name for c in by_filter.cases) == ["case_0.jpg", "case_3.jpg"]
    assert all(c.disagreement for c in by_filter.cases)  # model said Chickenpox / Normal
    assert "label = Monkeypox" in by_filter.title
    items = sc.store.review_queue(flt).items
    out = tmp_path / "items.csv"
    assert export_cases_csv(sc.store, out, items, referral=lambda p: False) == 2
    assert {r["label"] for r in _read(out)} == {"Monkeypox"}
    assert by_filter.model["version"] == sc.version and by_filter.classes == CLASSES


def test_cli_exports_cases(tmp_path: Path, model_file: Path) -> None:
    from engine.cli import main

    sc = screened_store(tmp_path, model_file)
    sc.store.label(sc.photos[4], "Measles", who="dr cli", classes=CLASSES)
    sc.store.close()
    out = tmp_path / "cli.csv"
    db = str(tmp_path / "case.db")
    assert (
        main(
            ["export", "--run", str(sc.run_id), "--format", "cases", "--out", str(out), "--db", db]
        )
        == 0
    )
    rows = _read(out)
    assert len(rows) == 7 and [r["label_who"] for r in rows].count("dr cli") == 1


def test_cases_export_carries_each_photos_patient_and_visit(
    tmp_path: Path, model_file: Path
) -> None:
    sc = screened_store(tmp_path, model_file)
    sc.store.visits.assign([sc.photos[0], sc.photos[1]], "P-0042", "2026-12-01")
    out = tmp_path / "cases.csv"
    export_cases_csv(sc.store, out, sc.run_id, referral=lambda p: False)
    by_path = {r["path"]: r for r in _read(out)}
    for photo in sc.photos[:2]:
        assert (by_path[str(photo)]["patient"], by_path[str(photo)]["visit"]) == (
            "P-0042",
            "2026-12-01",
        )
    assert by_path[str(sc.photos[2])]["patient"] == by_path[str(sc.photos[2])]["visit"] == ""
