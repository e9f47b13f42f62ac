"""Case-store fixtures: a real SQLite file in tmp_path, generated photos, fake screening results."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.store import Store

CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
MODEL_A = "a" * 64
MODEL_B = "b" * 64


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user data dir or an inherited $POXSCREEN_DB."""
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.delenv("POXSCREEN_DB", raising=False)
    monkeypatch.delenv("POXSCREEN_IMAGE_STORE", raising=False)


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "case.db"


@pytest.fixture()
def open_store(db_path: Path) -> Iterator[Callable[..., Store]]:
    """The one store factory: ``open_store()`` opens ``db_path``, ``open_store(other, **kw)``
    another database (Store.open's options); every store it opened is closed afterwards."""
    opened: list[Store] = []

    def factory(db: str | Path | None = None, **options: Any) -> Store:
        opened.append(Store.open(db_path if db is None else db, **options))
        return opened[-1]

    yield factory
    for st in reversed(opened):
        st.close()


@pytest.fixture()
def store(open_store: Callable[..., Store]) -> Store:
    """A fresh case store in tmp_path."""
    return open_store()


def make_photo(path: Path, seed: int, size: tuple[int, int] = (40, 32)) -> Path:
    """A small random PNG/JPEG (format from the suffix); distinct seeds give distinct bytes."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def probs_for(top: str, confidence: float) -> dict[str, float]:
    """A probability vector with ``top`` at ``confidence`` and the rest spread evenly."""
    rest = (1.0 - confidence) / (len(CLASSES) - 1)
    return {c: (confidence if c == top else rest) for c in CLASSES}


def fake_result(i: int, top: str = "Monkeypox", confidence: float = 0.9, **extra: Any) -> dict:
    """A screening result for a virtual file ``/photos/img{i}.jpg`` with a unique hash."""
    result = {
        "path": f"/photos/img{i}.jpg",
        "sha256": hashlib.sha256(f"image-{i}".encode()).hexdigest(),
        "size_bytes": 1000 + i,
        "width": 64,
        "height": 48,
        "format": "JPEG",
        "probabilities": probs_for(top, confidence),
        "top_class": top,
        "confidence": confidence,
        "error": None,
    }
    result.update(extra)
    return result


def entropy(probs: dict[str, float]) -> float:
    return -sum(p * math.log(p) for p in probs.values() if p > 0)
