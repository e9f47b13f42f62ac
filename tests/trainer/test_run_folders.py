"""Run folders are taken atomically: two trainings started in the same second get two folders,
so neither overwrites the other's model file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

import engine.training
from engine.training import new_run_dir
from trainer.train import default_run_dir

SAME_SECOND = datetime(2026, 12, 7, 5, 0, 0, tzinfo=timezone.utc)


class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return SAME_SECOND


def test_same_clock_gives_two_folders(tmp_path: Path) -> None:
    first = new_run_dir(tmp_path, clock=lambda: SAME_SECOND)
    second = new_run_dir(tmp_path, clock=lambda: SAME_SECOND)
    assert first != second
    assert first.is_dir() and second.is_dir()
    assert first.name == "20261207T050000Z" and second.name == "20261207T050000Z-1"


def test_trainer_default_folders_in_the_same_second_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(engine.training, "datetime", _FrozenClock)
    first, second = default_run_dir(), default_run_dir()
    assert first != second
    assert first.parent == second.parent == tmp_path / "training"
    assert first.is_dir() and second.is_dir()
