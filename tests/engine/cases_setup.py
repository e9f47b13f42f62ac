"""A case store with one recorded screening run of real (generated) photos, for the case CSV and
report tests: photos carry an EXIF marker that must never reach an export."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from engine.checkpoint import read_meta
from engine.store import Store
from tests.engine.factories import make_photo

CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
EXIF_MARKER = "SecretCamSerial123"


@dataclass
class Screened:
    store: Store
    run_id: int
    photos: list[Path]
    broken: Path
    version: str


def probs(top: str, confidence: float) -> dict[str, float]:
    rest = (1.0 - confidence) / (len(CLASSES) - 1)
    return {c: (confidence if c == top else rest) for c in CLASSES}


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = EXIF_MARKER  # camera make
    return exif


def screened_store(tmp_path: Path, model_file: Path, n: int = 6) -> Screened:
    """``n`` photos screened by ``model_file`` (top classes cycle through CLASSES, confidence
    0.55 + 0.05 i) plus one unreadable file recorded with its error."""
    store = Store.open(tmp_path / "case.db")
    info = store.register_model_file(model_file, activate=True)
    meta = read_meta(model_file)
    folder = tmp_path / "photos"
    photos = [
        make_photo(folder / f"case_{i}.jpg", i, (320, 240), cell=8, quality=90, exif=_exif())
        for i in range(n)
    ]
    broken = folder / "broken.jpg"
    run = store.begin_run(str(folder), {"device": "cpu"}, meta.content_hash)
    results: list[dict] = [
        {
            "path": str(p),
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "size_bytes": p.stat().st_size,
            "width": 320,
            "height": 240,
            "probabilities": probs(CLASSES[i % 4], 0.55 + 0.05 * i),
        }
        for i, p in enumerate(photos)
    ]
    results.append({"path": str(broken), "error": "truncated or corrupt image data"})
    store.record_results(run, results)
    store.finish_run(run, "finished")
    return Screened(store, run, photos, broken, info.version)
