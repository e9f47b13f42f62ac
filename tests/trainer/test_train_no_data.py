"""``train`` without usable data says why in one line (exit code, no traceback): no --data, an
empty folder, a store with no labels, a store whose labelled photos were all forgotten."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import launcher
from engine.store import Store
from tests.engine.factories import make_photo

CLASSES = ["Measles", "Normal"]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(data))
    monkeypatch.delenv("POXSCREEN_DB", raising=False)
    return data


def _train(args: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = launcher.main(["train", "--epochs", "1", "--device", "cpu", *args])
    return status, capfd.readouterr().err


def test_no_data_option_is_refused_before_a_run_folder_is_made(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main

    assert main(["train", "--epochs", "1"]) == 2  # the child process: python -m trainer train
    err = capfd.readouterr().err
    assert "no training data: give --data DIR" in err and "Traceback" not in err
    assert not (tmp_path / "data" / "training").exists()


def test_no_data_with_a_run_folder_ends_with_an_error_event_the_app_reads(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from engine.training import TrainingProcess

    status, err = _train(["--out", str(tmp_path / "run")], capfd)
    assert status == 1 and "no training data" in err and "Traceback" not in err
    events = TrainingProcess.attach(tmp_path / "run").events
    assert events[-1]["event"] == "error" and "no training data" in events[-1]["message"]


def test_an_empty_folder_is_a_message(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    status, err = _train(["--data", str(empty), "--out", str(tmp_path / "run")], capfd)
    assert status == 1 and "Traceback" not in err
    assert f"{empty}: no class sub-folders" in err


def test_a_store_without_labels_is_a_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    Store.open(tmp_path / "case.db").close()
    args = ["--from-store", "--db", str(tmp_path / "case.db"), "--out", str(tmp_path / "run")]
    status, err = _train(args, capfd)
    assert status == 2 and "Traceback" not in err  # the model in use's classes, none labelled
    assert "no class has enough labels to decide anything" in err
    assert "Measles: 0 labels — keeps the parent's knowledge" in err
    assert "skipped" not in err


def test_a_store_whose_labelled_photos_were_forgotten_says_how_many_were_skipped(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    photos = [make_photo(folder / f"p{i}.jpg", seed=i) for i in range(8)]
    with Store.open(tmp_path / "case.db") as store:
        run = store.begin_run(str(folder), {}, "a" * 64, model_meta={"classes": CLASSES})
        store.record_results(
            run,
            [
                {
                    "path": str(p),
                    "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                    "probabilities": {"Measles": 0.6, "Normal": 0.4},
                }
                for p in photos
            ],
        )
        for i, p in enumerate(photos):
            store.label(p, CLASSES[i % 2], who="dr a", classes=CLASSES)
        for p in photos:
            store.forget(p)
    args = ["--from-store", "--db", str(tmp_path / "case.db"), "--out", str(tmp_path / "run")]
    status, err = _train(args, capfd)
    assert status == 1 and "Traceback" not in err
    assert "found none; 8 labelled photos were skipped (8 labelled, but the photo is gone" in err
    assert "forgotten" in err
