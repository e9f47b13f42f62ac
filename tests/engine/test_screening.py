"""Headless batch screening: the job and the ``poxscreen screen`` command."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.predictor import Predictor
from engine.screening import ScreeningJob
from tests.engine.factories import make_photo

REPO = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_job_writes_one_row_per_image_and_lists_bad_files(
    model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "results.csv"
    progress = []
    job = ScreeningJob(
        Predictor.from_file(model_file, device="cpu", batch_size=4),
        photo_folder,
        recursive=True,
        csv_path=out,
        on_progress=progress.append,
    )
    summary = job.run()
    assert (summary.total, summary.predicted, len(summary.errors)) == (9, 6, 3)
    assert not summary.cancelled
    assert {Path(p).name for p, _ in summary.errors} == {"empty.jpg", "notes.png", "truncated.jpg"}
    rows = _rows(out)
    assert len(rows) == 9
    assert progress[-1].done == 9 and progress[-1].errors == 3
    header = list(rows[0])
    assert header[:4] == ["path", "sha256", "predicted_class", "confidence"]
    assert {
        "prob_Chickenpox",
        "prob_Measles",
        "prob_Monkeypox",
        "prob_Normal",
        "model_version",
        "error",
    } <= set(header)
    good = [r for r in rows if not r["error"]]
    assert len(good) == 6 and any("éruption" in r["path"] for r in good)
    for r in good:
        probs = {k: float(v) for k, v in r.items() if k.startswith("prob_")}
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
        assert r["predicted_class"] == max(probs, key=probs.get).removeprefix("prob_")
    assert [p.name for p in out.parent.iterdir()] == ["results.csv"]


def test_not_recursive_skips_subfolders(model_file: Path, photo_folder: Path) -> None:
    job = ScreeningJob(Predictor.from_file(model_file, device="cpu"), photo_folder)
    assert job.run().total == 8


def test_cancel_leaves_complete_csv(model_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        make_photo(folder / f"p{i:02}.png", i)
    cancel = threading.Event()
    out = tmp_path / "partial.csv"
    job = ScreeningJob(
        Predictor.from_file(model_file, device="cpu", batch_size=2),
        folder,
        csv_path=out,
        cancel=cancel,
        on_results=lambda batch: cancel.set(),
    )
    summary = job.run()
    assert summary.cancelled and summary.predicted == 2
    rows = _rows(out)
    assert len(rows) == 2 and all(r["predicted_class"] for r in rows)


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "POXSCREEN_DATA_DIR": str(kwargs.pop("data_dir"))}
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_cli_screen_reports_bad_files(model_file: Path, photo_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    proc = _cli(
        "screen",
        str(photo_folder),
        "--recursive",
        "--out",
        str(out),
        "--model",
        str(model_file),
        "--device",
        "cpu",
        "--no-store",
        data_dir=tmp_path / "data",
    )
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "6 screened" in stderr and "3 could not be read" in stderr
    assert "empty.jpg: file is empty" in stderr
    assert "Device: cpu" in stderr
    assert len(_rows(out)) == 9


def test_cli_missing_folder_and_bad_model(model_file: Path, tmp_path: Path) -> None:
    proc = _cli("screen", str(tmp_path / "nowhere"), "--no-store", data_dir=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "not a folder" in err and "Traceback" not in err
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(model_file.read_bytes()[:5000])
    proc = _cli("screen", str(tmp_path), "--model", str(broken), "--no-store", data_dir=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "broken.safetensors" in err and "Traceback" not in err


def test_cli_ctrl_c_keeps_output_consistent(model_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(300):
        make_photo(folder / f"p{i:03}.png", i, size=(64, 64))
    out = tmp_path / "ctrlc.csv"
    proc = _cli(
        "screen",
        str(folder),
        "--out",
        str(out),
        "--model",
        str(model_file),
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--no-store",
        data_dir=tmp_path / "data",
    )
    deadline = time.monotonic() + 120
    while not any(tmp_path.glob(".incoming-ctrlc.csv.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "cancelled" in err.lower()
    rows = _rows(out)
    assert 0 < len(rows) < 300
    assert all(r["predicted_class"] and r["sha256"] for r in rows)
    assert not list(tmp_path.glob(".incoming-*"))


def test_rerun_with_store_skips_but_still_reports_every_image(
    model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    from engine.store import Store

    predictor = Predictor.from_file(model_file, device="cpu", batch_size=4)
    with Store.open(tmp_path / "cases.db") as store:
        first = ScreeningJob(
            predictor, photo_folder, recursive=True, csv_path=tmp_path / "a.csv", store=store
        ).run()
        second = ScreeningJob(
            predictor, photo_folder, recursive=True, csv_path=tmp_path / "b.csv", store=store
        ).run()
    assert (first.predicted, first.skipped) == (6, 0)
    assert (second.predicted, second.skipped, len(second.errors)) == (0, 6, 3)
    a = {r["path"]: r for r in _rows(tmp_path / "a.csv")}
    b = {r["path"]: r for r in _rows(tmp_path / "b.csv")}
    assert a.keys() == b.keys()
    for path, row in a.items():
        if not row["error"]:
            assert b[path]["predicted_class"] == row["predicted_class"]
            assert float(b[path]["confidence"]) == pytest.approx(float(row["confidence"]), abs=1e-6)
            assert b[path]["source"].startswith("case store") and row["source"] == ""


def test_resumed_images_reach_on_results_with_their_stored_result(
    model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    """Defect 5: without a CSV, already-screened images reached the GUI callback blank."""
    from engine.store import Store

    predictor = Predictor.from_file(model_file, device="cpu", batch_size=4)
    first: list = []
    again: list = []
    with Store.open(tmp_path / "cases.db") as store:
        ScreeningJob(
            predictor, photo_folder, recursive=True, store=store, on_results=first.extend
        ).run()
        ScreeningJob(
            predictor, photo_folder, recursive=True, store=store, on_results=again.extend
        ).run()
    before = {p.path: p for p in first if p.ok}
    resumed = [p for p in again if p.skipped]
    assert len(resumed) == len(before) == 6
    for p in resumed:
        assert p.top_class == before[p.path].top_class
        assert p.confidence == pytest.approx(before[p.path].confidence, abs=1e-6)
        assert p.probabilities == pytest.approx(before[p.path].probabilities, abs=1e-6)


def test_progress_carries_file_time_rate_and_phase(model_file: Path, photo_folder: Path) -> None:
    progress = []
    ScreeningJob(
        Predictor.from_file(model_file, device="cpu", batch_size=2),
        photo_folder,
        recursive=True,
        on_progress=progress.append,
    ).run()
    walking = [p for p in progress if p.phase == "walking"]
    screening = [p for p in progress if p.phase == "screening"]
    assert walking and walking[0].total == 1 and walking[0].current  # shown at once
    assert progress.index(walking[-1]) < progress.index(screening[0])
    assert screening[0].done == 0 and screening[-1].done == 9 == screening[-1].total
    last = screening[-1]
    assert last.current is not None and Path(last.current).exists()
    assert last.rate > 0 and last.eta_s == 0 and last.elapsed_s > 0
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(progress[:-1], progress[1:], strict=True))
    mid = [p for p in screening if 0 < p.done < p.total]
    assert mid and all(p.eta_s is not None and p.eta_s > 0 for p in mid)


def test_cancel_during_the_folder_walk(model_file: Path, tmp_path: Path) -> None:
    """A huge folder: progress starts before the walk ends, and a cancel stops the walk."""
    from engine.store import Store

    folder = tmp_path / "huge"
    for d in range(20):
        sub = folder / f"d{d:02}"
        sub.mkdir(parents=True)
        for i in range(100):
            (sub / f"p{i:03}.jpg").write_bytes(b"")  # listed, never read: the walk is cancelled
    cancel = threading.Event()
    seen = []

    def on_progress(p) -> None:
        seen.append(p)
        cancel.set()

    with Store.open(tmp_path / "cases.db") as store:
        summary = ScreeningJob(
            Predictor.from_file(model_file, device="cpu"),
            folder,
            recursive=True,
            store=store,
            on_progress=on_progress,
            cancel=cancel,
            csv_path=tmp_path / "none.csv",
        ).run()
        assert store.runs() == []  # nothing was screened: no run recorded
    assert summary.cancelled and summary.predicted == 0 and not summary.errors
    assert seen[0].phase == "walking" and summary.total < 2000
    assert _rows(tmp_path / "none.csv") == []
