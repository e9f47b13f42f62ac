"""The screening job recording into the store, and ``kill -9`` in the middle of a CLI screening."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.predictor import Predictor
from engine.screening import ScreeningJob
from engine.store import ReviewFilter, Store
from tests.engine.conftest import make_photo
from tests.engine.store.conftest import sha_of

REPO = Path(__file__).resolve().parents[3]
N_PHOTOS = 40


def test_screening_job_records_into_the_store_and_a_rerun_skips_everything(
    model_file: Path, photo_folder: Path, db_path: Path
) -> None:
    predictor = Predictor.from_file(model_file, device="cpu", batch_size=4)
    with Store.open(db_path) as store:
        first = ScreeningJob(predictor, photo_folder, recursive=True, store=store).run()
        assert (first.predicted, len(first.errors)) == (6, 3)
        run = store.run(first.run_id)  # type: ignore[arg-type]
        assert run.status == "finished" and run.total == 9
        assert (run.counts.screened, run.counts.skipped, run.counts.failed) == (6, 0, 3)
        assert run.model_version == predictor.meta.content_hash
        good = [p for p in photo_folder.rglob("*") if p.suffix in (".png", ".jpg")]
        good = [p for p in good if p.name not in ("empty.jpg", "notes.png", "truncated.jpg")]
        assert store.done_hashes(predictor.meta.content_hash) == {sha_of(p) for p in good}
        assert store.active_model().name == "testmodel"  # type: ignore[union-attr]

        second = ScreeningJob(predictor, photo_folder, recursive=True, store=store).run()
        assert (second.predicted, second.skipped) == (0, 6)
        rerun = store.run(second.run_id)  # type: ignore[arg-type]
        assert (rerun.counts.screened, rerun.counts.skipped, rerun.counts.failed) == (0, 6, 3)
        assert store.count(ReviewFilter(run_id=second.run_id)) == 6  # skipped files still listed
        assert store.count() == 6


def _poll_predictions(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:  # not created or not migrated yet
        return 0


def _screen_cmd(folder: Path, db: Path, model_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "engine",
        "screen",
        str(folder),
        "--db",
        str(db),
        "--model",
        str(model_file),
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--quiet",
    ]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_mid_run_leaves_a_consistent_store_and_the_rerun_completes_it(
    model_file: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "clinic"
    folder.mkdir()
    photos = [make_photo(folder / f"p{i:03}.png", i, size=(64, 64)) for i in range(N_PHOTOS)]
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    db = tmp_path / "case.db"
    env = {**os.environ, "POXSCREEN_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        _screen_cmd(folder, db, model_file),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while _poll_predictions(db) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"screening ended before the kill: {err!r}"

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        killed = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        before = dict(conn.execute("SELECT id, probabilities FROM predictions").fetchall())
        # Whole batches only: every prediction's file is attached to the run that made it.
        orphans = conn.execute(
            "SELECT count(*) FROM predictions p WHERE NOT EXISTS (SELECT 1 FROM run_items r "
            "WHERE r.run_id = p.run_id AND r.image_id = p.image_id)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert 4 <= killed < N_PHOTOS and orphans == 0

    done = subprocess.run(
        _screen_cmd(folder, db, model_file),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{N_PHOTOS - killed} screened, {killed} already screened" in done.stderr

    with Store.open(db) as store:
        model = store.active_model()
        assert model is not None
        assert store.done_hashes(model.content_hash) == {sha_of(p) for p in photos}
        with store.read() as s:
            dupes = s.execute(
                text(
                    "SELECT image_id FROM predictions GROUP BY image_id, model_id"
                    " HAVING count(*) > 1"
                )
            ).all()
            after = dict(s.execute(text("SELECT id, probabilities FROM predictions")).all())
        assert dupes == [] and len(after) == N_PHOTOS
        assert {k: after[k] for k in before} == before  # nothing written before the kill changed
        # The killed process is gone (same host), so the rerun resumed its run (issue #9).
        (latest,) = store.runs()
        assert latest.status == "finished"
        assert (latest.counts.screened, latest.counts.skipped, latest.counts.failed) == (
            N_PHOTOS,
            0,
            1,
        )
        assert store.count(ReviewFilter(run_id=latest.id)) == N_PHOTOS
