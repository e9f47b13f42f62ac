"""Small command-line faults: export stops on forgotten photos, history calls a redo an undo,
``runs --limit 0`` lists nothing, and two screenings at once report other counts than ``runs``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.store import Store
from tests.engine.store.conftest import CLASSES, MODEL_A, make_photo, probs_for, sha_of


def _screened(store: Store, folder: Path, n: int) -> tuple[int, list[Path]]:
    photos = [make_photo(folder / f"p{i}.jpg", seed=i) for i in range(n)]
    run = store.begin_run(str(folder), {}, MODEL_A, model_meta={"classes": CLASSES})
    store.record_results(
        run,
        [
            {
                "path": str(p),
                "sha256": sha_of(p),
                "probabilities": probs_for(CLASSES[i % 4], 0.7),
            }
            for i, p in enumerate(photos)
        ],
    )
    store.finish_run(run, "finished")
    return run, photos


def test_export_skips_forgotten_photos_and_counts_them(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(db_path) as store:
        run, photos = _screened(store, tmp_path / "photos", 4)
        for p in photos:
            store.label(p, "Measles", who="dr a", classes=CLASSES)
        store.forget(photos[0])
        store.forget(photos[1])
    out = tmp_path / "export"
    args = ["export", "--run", str(run), "--format", "imagefolder", "--out", str(out)]
    assert main([*args, "--db", str(db_path)]) == 0
    captured = capsys.readouterr()
    assert "2 labelled images" in captured.out
    assert "skipped 2 forgotten photos" in captured.out
    assert "not exported" not in captured.err
    assert len(list((out / "Measles").iterdir())) == 2


def test_history_calls_a_redo_a_redo(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(db_path) as store:
        _, photos = _screened(store, tmp_path / "photos", 1)
        store.label(photos[0], "Measles", who="dr a", classes=CLASSES)
        undo = store.undo(photos[0], who="dr a")
        store.redo(photos[0], who="dr a")
        undo_id = store.history(photos[0])[1].id
    assert undo.current_label is None
    capsys.readouterr()
    assert main(["history", str(photos[0]), "--db", str(db_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert len(lines) == 3
    assert "set Measles" in lines[0]
    assert f"undo #{lines[0].split()[0][1:]}" in lines[1]
    assert f"redo Measles (undo #{undo_id})" in lines[2] and "-> Measles" in lines[2]


def test_runs_limit_zero_lists_every_run_and_a_negative_one_is_refused(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(db_path) as store:
        for day in ("monday", "tuesday", "wednesday"):
            _screened(store, tmp_path / day, 1)
    capsys.readouterr()
    assert main(["runs", "--limit", "0", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "no screening runs yet" not in out
    assert [line.split()[0] for line in out.splitlines()] == ["#3", "#2", "#1"]
    assert main(["runs", "--limit", "1", "--db", str(db_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    with pytest.raises(SystemExit) as exited:
        main(["runs", "--limit", "-1", "--db", str(db_path)])
    assert exited.value.code == 2
    assert "-1 is negative; 0 lists every run" in capsys.readouterr().err


class _LateDoneList:
    """A store whose list of already-screened photos was read before another screening of the
    same folder recorded its results: the race two screenings at once run into."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def screened_hashes(self, model_hash: str) -> set[str]:
        return set()


def test_the_screening_summary_says_what_runs_says_when_two_screen_at_once(
    model_file: Path, tmp_path: Path
) -> None:
    from engine.predictor import Predictor
    from engine.screening import ScreeningJob

    folder = tmp_path / "photos"
    for i in range(5):
        make_photo(folder / f"p{i}.png", seed=i)
    with Store.open(tmp_path / "case.db") as store:
        first = ScreeningJob(Predictor.from_file(model_file), folder, store=store).run()
        racing = _LateDoneList(store)
        second = ScreeningJob(Predictor.from_file(model_file), folder, store=racing).run()
        for summary in (first, second):
            assert summary.run_id is not None
            counts = store.run(summary.run_id).counts
            assert (summary.predicted, summary.skipped) == (counts.screened, counts.skipped)
    assert (first.predicted, second.predicted, second.skipped) == (5, 0, 5)
