"""Patients and visits in the case store: identifiers, layout, manifest, visit rows, decisions,
lab results and the comparison with the lab."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from engine.lab_compare import compare_with_lab
from engine.store import ReviewFilter, Store, StoreError
from engine.store.visits import VisitRow
from engine.visits import (
    VisitIdError,
    by_layout,
    check_identifier,
    parse_visit_ref,
    read_manifest,
    wilson_interval,
)
from tests.engine.store.conftest import CLASSES, MODEL_A, fake_result, make_photo
from tests.engine.store.test_store_migrations import _create_at_revision


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("p1/v1", "path separator"),
        ("p1\\v1", "path separator"),
        ("p\x07", "control character"),
        ("x" * 65, "65 characters"),
        ("  ", "empty"),
    ],
)
def test_identifiers_that_cannot_be_one_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(VisitIdError, match=reason):
        check_identifier(text, "patient")


def test_identifiers_are_kept_and_a_visit_is_named_patient_slash_visit() -> None:
    assert check_identifier(" P-0042 ") == "P-0042"
    assert check_identifier("x" * 64) == "x" * 64
    assert parse_visit_ref("P1/2026-12-01") == ("P1", "2026-12-01")
    with pytest.raises(VisitIdError, match="PATIENT/VISIT"):
        parse_visit_ref("P1")


def test_layout_reads_patient_and_visit_and_names_folders_that_do_not_fit(tmp_path: Path) -> None:
    root = tmp_path / "in"
    good = [
        root / "P1" / "V1" / "a.png",
        root / "P1" / "V2" / "b.png",
        root / "P2" / "V1" / "c.png",
    ]
    loose = [root / "stray.png", root / "P3" / "d.png", root / "P1" / "V1" / "deep" / "e.png"]
    bad = [root / ("x" * 70) / "V1" / "f.png"]
    found = by_layout(root, good + loose + bad)
    assert found.visits == {
        good[0]: ("P1", "V1"),
        good[1]: ("P1", "V2"),
        good[2]: ("P2", "V1"),
    }
    misfits = {m.folder: m for m in found.misfits}
    assert set(misfits) == {
        root,
        root / "P3",
        root / "P1" / "V1" / "deep",
        root / ("x" * 70) / "V1",
    }
    assert misfits[root].files == (root / "stray.png",)
    assert "not in a PATIENT/VISIT folder" in misfits[root / "P3"].reason
    assert "70 characters" in misfits[root / ("x" * 70) / "V1"].reason


def test_manifest_lists_missing_files_and_bad_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.png", seed=1)
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "file,patient,visit\na.png,P1,V1\nmissing.png,P1,V1\na.png,P/1,V1\n", encoding="utf-8"
    )
    read = read_manifest(manifest)
    assert read.visits == {photo.resolve(): ("P1", "V1")}
    assert len(read.problems) == 2
    assert "line 3" in read.problems[0] and "missing.png: no such file" in read.problems[0]
    assert "line 4" in read.problems[1] and "path separator" in read.problems[1]


def test_manifest_without_the_columns_names_the_file(tmp_path: Path) -> None:
    from engine.visits import ManifestError

    manifest = tmp_path / "m.csv"
    manifest.write_text("path,who\na.png,P1\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"m\.csv: the manifest lacks the column\(s\) file"):
        read_manifest(manifest)


def _screened(store: Store, n: int, tops: list[str]) -> list[str]:
    run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
    results = [fake_result(i, top=tops[i], confidence=0.9) for i in range(n)]
    store.record_results(run, results)
    store.finish_run(run, "finished")
    return [r["sha256"] for r in results]


def test_visit_rows_count_photos_referred_photos_and_mpox_calls(store: Store) -> None:
    shas = _screened(store, 4, ["Monkeypox", "Normal", "Normal", "Measles"])
    assert store.visits.assign_hashes({shas[0]: ("P1", "V1"), shas[1]: ("P1", "V1")}) == 2
    store.visits.assign([shas[2][:12], shas[3][:12]], "P2", "V1")
    rows = store.visits.visit_rows()
    assert [(r.patient, r.visit, r.photos, r.referred_photos) for r in rows] == [
        ("P1", "V1", 2, 1),  # the Monkeypox photo is referred by the default rule
        ("P2", "V1", 2, 0),
    ]
    assert rows[0].referred and rows[0].model_mpox and not rows[1].referred
    photos = store.visits.photos_of("P1", "V1")
    assert [p.item.sha256 for p in photos] == [shas[0], shas[1]]  # most suspicious first
    assert photos[0].referred and not photos[1].referred
    page = store.review_queue(ReviewFilter(patient="P2", visit="V1"))
    assert {i.sha256 for i in page.items} == {shas[2], shas[3]}
    assert {(i.patient, i.visit) for i in page.items} == {("P2", "V1")}
    store.visits.assign([shas[3]], None, None)
    assert store.visits.visit("P2", "V1").photos == 1


def test_bad_identifiers_are_refused_by_the_store(store: Store) -> None:
    shas = _screened(store, 1, ["Normal"])
    with pytest.raises(StoreError, match="path separator"):
        store.visits.assign([shas[0]], "P/1", "V1")
    with pytest.raises(StoreError, match="control character"):
        store.visits.assign_hashes({shas[0]: ("P1", "V\n1")})


def test_visit_decision_and_lab_result_are_kept_apart_from_photo_labels(store: Store) -> None:
    shas = _screened(store, 2, ["Monkeypox", "Normal"])
    store.visits.assign(shas, "P1", "V1")
    store.visits.decide("P1", "V1", "Monkeypox", who="dr a", classes=CLASSES)
    store.visits.set_lab("P1", "V1", "positive", who="dr a", on="2026-12-01", test="MPXV PCR")
    row = store.visits.visit("P1", "V1")
    assert (row.decision, row.decided_by) == ("Monkeypox", "dr a")
    assert (row.lab_result, row.lab_date, row.lab_test) == ("positive", "2026-12-01", "MPXV PCR")
    assert store.current_label(shas[0]) is None and store.current_label(shas[1]) is None
    with pytest.raises(StoreError, match="not a decision"):
        store.visits.decide("P1", "V1", "smallpox", who="dr a", classes=CLASSES)
    with pytest.raises(StoreError, match="not a lab result"):
        store.visits.set_lab("P1", "V1", "maybe", who="dr a")
    with pytest.raises(StoreError, match="not a date"):
        store.visits.set_lab("P1", "V1", "negative", who="dr a", on="1/12/2026")
    store.visits.decide("P1", "V1", None, who="dr a")
    assert store.visits.visit("P1", "V1").decision is None
    trail = store.audit.events(kinds=["visit", "lab"])  # the audit trail names the visit only
    assert [(e.kind, e.who, e.object) for e in trail] == [
        ("visit", "dr a", "visit:P1/V1"), ("lab", "dr a", "visit:P1/V1"),
        ("visit", "dr a", "visit:P1/V1"),
    ]  # fmt: skip
    assert (
        trail[0].details == {"decision": "Monkeypox"} and trail[1].details["result"] == "positive"
    )


def test_wilson_interval_matches_the_published_values() -> None:
    low, high = wilson_interval(8, 10)  # Newcombe (1998): 0.4902-0.9433
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0


def _row(lab: str | None, mpox: int, decision: str | None) -> VisitRow:
    return VisitRow("P", "V", 2, mpox, mpox, decision=decision, lab_result=lab)


def test_lab_comparison_counts_only_visits_with_a_result() -> None:
    rows = [
        _row("positive", 1, "Monkeypox"),
        _row("positive", 0, "Normal"),
        _row("negative", 1, "Normal"),
        _row("negative", 0, "refer"),
        _row("pending", 1, "Monkeypox"),
        _row(None, 1, "Monkeypox"),
    ]
    model, clinicians = compare_with_lab(rows, "Monkeypox")
    assert (model.sensitivity.hits, model.sensitivity.n) == (1, 2)
    assert (model.specificity.hits, model.specificity.n) == (1, 2)
    assert (clinicians.sensitivity.hits, clinicians.sensitivity.n) == (1, 2)
    assert (clinicians.specificity.hits, clinicians.specificity.n) == (1, 1)
    assert clinicians.no_call == 1
    assert model.sensitivity.text().startswith("0.50 (1/2, 95% CI 0.09-0.91)")


def test_a_store_from_before_visits_is_migrated_with_no_visits(db_path: Path) -> None:
    _create_at_revision(db_path, "0006")
    now = datetime(2026, 5, 1, 12, 0, 0)
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO images (id, sha256, path, first_seen_at, last_seen_at) "
            "VALUES (1, ?, '/old/a.jpg', ?, ?)",
            ("d" * 64, now, now),
        )
    conn.close()
    with Store.open(db_path) as store:
        with store.read() as s:
            from engine.store.tables import Image

            img = s.get(Image, 1)
            assert img is not None and (img.patient, img.visit) == (None, None)
        store.visits.set_lab("P1", "V1", "pending", who="dr a")
        assert store.visits.visit_rows() == []  # no photo carries the visit yet


def test_a_forgotten_photo_leaves_its_visit(store: Store) -> None:
    shas = _screened(store, 2, ["Normal", "Normal"])
    store.visits.assign(shas, "P1", "V1")
    store.forget(shas[0])
    assert store.visits.visit("P1", "V1").photos == 1
