"""Fault-injection fixtures: an isolated data folder for every test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user data dir or an inherited $POXSCREEN_DB."""
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.delenv("POXSCREEN_DB", raising=False)
    monkeypatch.delenv("POXSCREEN_IMAGE_STORE", raising=False)
