"""Benchmark: the review panel, from a click on a 4000 x 3000 JPEG to the photo and its overlay.

Why: a clinician opens one photo after another; the photo should appear at once and the Grad-CAM
overlay soon after, on a laptop CPU, while the GUI thread stays free. Times are measured on the
real panel (offscreen Qt) with the shipped model: ``show_item`` -> photo on show -> heat layer on
show; then an opacity change (recomposite only) and a label save up to the "next" request.
The first image is reported apart: it includes loading the model in the worker.

Run from the repository root: ``.venv/bin/python bench/bench_review_panel.py [--images N]``.
Prints a table and writes ``bench/results/review_panel.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "review_panel.json"
MODEL = ROOT / "resources" / "models" / "default.safetensors"


def make_jpeg(path: Path, seed: int, size: tuple[int, int] = (4000, 3000)) -> Path:
    """A smooth skin-toned photo with dark spots, saved as a quality-90 JPEG (~1-2 MB)."""
    rng = np.random.default_rng(seed)
    small = np.zeros((300, 400, 3), np.float32) + np.array([224, 172, 140], np.float32)
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, 400), rng.uniform(0, 300), rng.uniform(4, 20)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
        small = small * (1 - 0.7 * blob) + np.array([150, 40, 40], np.float32) * 0.7 * blob
    img = Image.fromarray(small.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    noise = rng.normal(0, 3, (size[1], size[0], 3))
    arr = np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=90)
    return path


def wait_marks(app, conditions: dict[str, Callable[[], bool]], timeout: float = 120.0):  # noqa: ANN001, ANN201
    """Process events until every condition holds; milliseconds until each first held."""
    start, marks = time.perf_counter(), {}
    while len(marks) < len(conditions):
        app.processEvents()
        now = (time.perf_counter() - start) * 1000
        marks.update({k: now for k, c in conditions.items() if k not in marks and c()})
        if now > timeout * 1000:
            raise TimeoutError(f"the panel did not finish in time: {sorted(marks)}")
        time.sleep(0.001)
    return marks


def setup(folder: Path, n: int):  # noqa: ANN201 (store, items)
    from engine.predictor import Predictor
    from engine.screening import ScreeningJob
    from engine.store import ReviewFilter, Store

    for i in range(n):
        make_jpeg(folder / f"photo{i:02d}.jpg", seed=i)
    store = Store.open(folder.parent / "db.sqlite")
    ScreeningJob(Predictor.from_file(MODEL, device="cpu"), folder, store=store).run()
    items = sorted(store.review_queue(ReviewFilter(), limit=100).items, key=lambda i: i.path)
    return store, items


def measure(app, panel, items) -> list[dict[str, float]]:  # noqa: ANN001
    rows = []
    for item in items:
        start = time.perf_counter()
        panel.show_item(item)
        row = {"show_item_ms": (time.perf_counter() - start) * 1000}
        marks = wait_marks(
            app,
            {
                "first_paint_ms": panel.view.has_photo,
                "overlay_ms": panel.view.has_heat,
                "full_res_ms": lambda: panel.view.photo_size().width() == 4000,
            },
        )
        row.update({k: v + row["show_item_ms"] for k, v in marks.items()})
        t = time.perf_counter()
        panel.opacity.setValue(90 if panel.opacity.value() != 90 else 20)
        panel.view.viewport().repaint()
        row["recomposite_ms"] = (time.perf_counter() - t) * 1000
        asked = []
        panel.navigate.connect(asked.append)
        t = time.perf_counter()
        panel.label_current("Normal")
        wait_marks(app, {"next": lambda asked=asked: asked == ["next"]})
        row["label_to_next_ms"] = (time.perf_counter() - t) * 1000
        panel.navigate.disconnect()
        panel.wait_idle()
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    args = parser.parse_args()
    os.environ["POXSCREEN_DATA_DIR"] = tempfile.mkdtemp()
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from desktop.review.panel import ReviewPanel
    from desktop.services import review as rw
    from desktop.services.review import ReviewService

    app = QApplication([])
    folder = Path(tempfile.mkdtemp()) / "photos"
    folder.mkdir()
    store, items = setup(folder, args.images)
    explainer = rw.explainer_from_file(MODEL)
    services = ReviewService(store, lambda: explainer, lambda: "bench", QThreadPool())
    panel = ReviewPanel(services)
    panel.resize(1280, 900)
    panel.show()
    rows = measure(app, panel, items)
    first, warm = rows[0], rows[1:]
    table = {
        k: {
            "first": first[k],
            "median": statistics.median(r[k] for r in warm),
            "max": max(r[k] for r in warm),
        }
        for k in first
    }
    print(
        f"review panel, 4000x3000 JPEG, shipped model, CPU; first image + median/max of "
        f"{len(warm)} more"
    )
    print(f"{'step':<18} {'first ms':>9} {'median ms':>10} {'max ms':>8}")
    for key, v in table.items():
        print(f"{key:<18} {v['first']:>9.0f} {v['median']:>10.0f} {v['max']:>8.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "image": "4000x3000 JPEG q90",
                "model": MODEL.name,
                "device": "cpu",
                "machine": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "images": len(rows),
                "steps_ms": table,
                "note": "from show_item to on show; full_res: the 4000 px photo swapped in; first image includes model load",
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")
    panel.wait_idle()
    store.close()


if __name__ == "__main__":
    main()
