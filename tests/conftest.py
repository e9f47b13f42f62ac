"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("POXSCREEN_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder with MSID photos and TFLite weights; skip when absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} not present (fresh clone): test needs ../shared")
    return SHARED_DIR


@pytest.fixture(autouse=True)
def _english_text() -> object:
    """Every test reads PoxScreen in English, whatever this machine's locale (a test that wants
    another language sets it; this puts English back afterwards)."""
    from engine.i18n import set_language

    set_language("en")
    yield
    set_language("en")
