"""Fill a case store with known results (no model run): filters and sorts have exact answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("Chickenpox", "Measles", "Monkeypox", "Normal")


def probs_for(top: str, conf: float) -> dict[str, float]:
    rest = (1.0 - conf) / 3
    return {c: (conf if c == top else rest) for c in CLASSES}


#: name -> (top class, confidence); names are not in confidence order on purpose.
CASES = {
    "delta.png": ("Monkeypox", 0.95),
    "alpha.png": ("Normal", 0.55),
    "charlie.png": ("Chickenpox", 0.80),
    "bravo.png": ("Measles", 0.40),
    "echo.png": ("Monkeypox", 0.62),
    "foxtrot.png": ("Normal", 0.99),
}


def fill_store(db: Path, folder: Path) -> dict[str, str]:
    """Record CASES as one finished run; return name -> sha256."""
    from engine.store import Store

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    results, shas = [], {}
    for name, (top, conf) in CASES.items():
        path = folder / name
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        shas[name] = sha
        results.append(
            {
                "path": str(path),
                "sha256": sha,
                "size_bytes": path.stat().st_size,
                "width": 80,
                "height": 60,
                "format": "PNG",
                "probabilities": probs_for(top, conf),
                "top_class": top,
                "confidence": conf,
                "error": None,
            }
        )
    from engine.paths import default_model_path

    with Store.open(db) as store:  # results "of" the shipped model, so the window can load it
        model = store.register_model_file(default_model_path(), activate=True)
        run = store.begin_run(folder, {}, model.content_hash)
        store.record_results(run, results)
        store.finish_run(run, "finished", total=len(results))
    return shas
