"""Exports: CSV of a run, and labelled images copied into class folders."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.store import REFER, Store
from tests.engine.store.conftest import CLASSES, MODEL_A, make_photo, probs_for, sha_of


def _screen(
    store: Store, folder: Path, seeds: range, run_id: int | None = None
) -> tuple[int, list[Path]]:
    photos = [make_photo(folder / f"p{s}.jpg", seed=s) for s in seeds]
    run = run_id or store.begin_run(str(folder), {}, MODEL_A, model_meta={"classes": CLASSES})
    results = [
        {
            "path": str(p),
            "sha256": sha_of(p),
            "size_bytes": p.stat().st_size,
            "width": 40,
            "height": 32,
            "probabilities": probs_for(CLASSES[i % 4], 0.55 + i / 100),
        }
        for i, p in enumerate(photos)
    ]
    results.append({"path": str(folder / "broken.jpg"), "error": "truncated JPEG"})
    store.record_results(run, results)
    return run, photos


def test_imagefolder_export_copies_labelled_images_into_class_folders(
    store: Store, tmp_path: Path
) -> None:
    run1, photos = _screen(store, tmp_path / "monday", range(0, 6))
    run2, others = _screen(store, tmp_path / "tuesday", range(10, 12))
    store.label(photos[0], "Measles", who="dr a", classes=CLASSES)
    store.label(photos[1], "Measles", who="dr a", classes=CLASSES)
    store.label(photos[2], "Normal", who="dr a", classes=CLASSES)
    store.label(photos[3], REFER, who="dr a")
    store.label(photos[4], "Normal", who="dr a", classes=CLASSES)
    store.undo(photos[4], who="dr a")  # no current label: not exported
    store.label(others[0], "Chickenpox", who="dr b", classes=CLASSES)
    shas = [sha_of(p) for p in photos]
    for p in photos:  # the USB stick is gone: copies come from the image store
        p.unlink()

    out = tmp_path / "export"
    summary = store.export_imagefolder(out, run_id=run1)
    assert summary.per_class == {"Measles": 2, "Normal": 1} and summary.missing == []
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            f"Measles/{shas[0]}.jpg",
            f"Measles/{shas[1]}.jpg",
            f"Normal/{shas[2]}.jpg",
            "manifest.csv",
        ]
    )
    for f in out.rglob("*.jpg"):
        assert sha_of(f) == f.stem  # no metadata to remove: the original photo's bytes

    again = store.export_imagefolder(out, run_id=run1)  # idempotent
    assert again.written == 3 and len(list(out.rglob("*.jpg"))) == 3

    everything = store.export_imagefolder(tmp_path / "all", include_refer=True)
    assert everything.per_class == {"Chickenpox": 1, "Measles": 2, "Normal": 1, REFER: 1}


def test_imagefolder_export_reports_images_it_cannot_find(store: Store, tmp_path: Path) -> None:
    _, photos = _screen(store, tmp_path / "monday", range(2))
    sha = sha_of(photos[0])
    photos[0].unlink()
    outcome = store.label(sha, "Measles", who="dr a", classes=CLASSES)  # no file to copy
    assert outcome.stored_path is None
    summary = store.export_imagefolder(tmp_path / "out")
    assert summary.written == 0 and summary.missing and sha in summary.missing[0]


def test_csv_export_lists_every_file_of_the_run(store: Store, tmp_path: Path) -> None:
    run, photos = _screen(store, tmp_path / "monday", range(3))
    store.label(photos[1], "Normal", who="dr a", classes=CLASSES)
    out = tmp_path / "run.csv"
    assert store.export_csv(out, run_id=run) == 4
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]).name for r in rows] == ["p0.jpg", "p1.jpg", "p2.jpg", "broken.jpg"]
    assert rows[0]["top_class"] == "Chickenpox" and float(rows[0]["confidence"]) == pytest.approx(
        0.55
    )
    assert float(rows[0]["p_Chickenpox"]) == pytest.approx(0.55)
    assert sum(float(rows[0][f"p_{c}"]) for c in CLASSES) == pytest.approx(1.0)
    assert rows[1]["label"] == "Normal" and rows[1]["stored_path"]
    assert rows[3]["error"] == "truncated JPEG" and rows[3]["sha256"] == ""
