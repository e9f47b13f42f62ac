"""Benchmark: the desktop app -- launch, a 10,000-image gallery, and opening a 12 MP photo.

Why: the window must be usable within 3 s on a clinic laptop, the gallery must stay smooth on a
whole archive, and clicking a large camera photo must show the prediction and Grad-CAM quickly.

- launch: a fresh ``python`` process builds and shows the main window on an empty case store;
  timed from spawning the process to the first gallery query answered (wall clock, cold-ish).
- gallery: 10,000 images (synthetic predictions recorded as a screening would, over 1,000
  generated 320x240 JPEGs) in the real window: time to the first screenful of thumbnails, the
  paint time of a scroll step (the viewport repainted synchronously after each step),
  thumbnails per second cold (decode + cache write) and from the disk cache, resident memory.
- review: a 4000x3000 JPEG selected in the gallery until the review panel shows the prediction
  and overlay (only when desktop.review.panel is installed).

Run from the repository root: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py
[--images N]``. Prints a table and writes ``bench/results/gui.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "gui.json"
CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]

LAUNCH_CHILD = r"""
import sys, time
t0 = time.perf_counter()
from desktop.app import build_window
from PySide6.QtWidgets import QApplication
w, _ = build_window(sys.argv[1:])
w.show()
app = QApplication.instance()
while w.model.loading or w.status.counts_label.text() == "":
    app.processEvents()
app.processEvents()
print(f"READY {time.perf_counter() - t0:.3f} torch={'torch' in sys.modules}", flush=True)
"""


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_launch(tmp: Path, repeats: int = 3) -> dict[str, Any]:
    times, inner = [], []
    for i in range(repeats):
        args = ["--db", str(tmp / f"launch{i}.db"), "--settings", str(tmp / f"launch{i}.ini")]
        env = dict(os.environ, POXSCREEN_DATA_DIR=str(tmp / "data"))
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH_CHILD, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("READY"):
                times.append(time.perf_counter() - t0)
                inner.append(float(line.split()[1]))
                break
        proc.kill()
        proc.wait()
    return {
        "launch_to_usable_s_median": statistics.median(times),
        "launch_to_usable_s_all": times,
        "in_process_s_median": statistics.median(inner),
    }


def make_photos(folder: Path, n: int, files: int = 1000) -> list[dict[str, Any]]:
    """n screening-like results with spread-out confidences over ``files`` distinct JPEGs.

    Each result has its own SHA-256 (thumbnails are keyed by it), so the gallery and the
    thumbnail cache see n different images while set-up writes only ``files`` files."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, 320, dtype=np.float32)[None, :, None].repeat(240, 0).repeat(3, 2)
    paths = []
    for i in range(min(n, files)):
        tint = rng.integers(0, 255, 3).astype(np.float32)
        arr = ((base * 0.6 + tint * 0.4) % 256).astype(np.uint8)
        arr[i % 240, :, :] = 255
        path = folder / f"IMG_{i:05d}.jpg"
        Image.fromarray(arr).save(path, quality=80)
        paths.append(path)
    results = []
    for i in range(n):
        w = rng.random(4) ** 3
        probs = dict(zip(CLASSES, (w / w.sum()).tolist(), strict=True))
        path = paths[i % len(paths)]
        results.append(
            {
                "path": str(path),
                "sha256": hashlib.sha256(f"bench-image-{i}".encode()).hexdigest(),
                "size_bytes": path.stat().st_size,
                "width": 320,
                "height": 240,
                "format": "JPEG",
                "probabilities": probs,
            }
        )
    return results


def fill_store(db: Path, results: list[dict[str, Any]]) -> None:
    from engine.paths import default_model_path
    from engine.store import Store

    with Store.open(db) as store:
        info = store.register_model_file(default_model_path(), activate=True)
        run = store.begin_run(db.parent / "photos", {}, info.content_hash, total=len(results))
        for i in range(0, len(results), 500):
            store.record_results(run, results[i : i + 500])
        store.finish_run(run, "finished", total=len(results))


def pump_until(cond: Any, timeout: float = 120.0) -> float:
    from PySide6.QtWidgets import QApplication

    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("benchmark step timed out")
        QApplication.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - t0


def visible_rows(window: Any) -> int:
    """Tiles at least partly on screen."""
    view, area = window.gallery, window.gallery.viewport().rect()
    rows = window.model.rowCount()
    return sum(1 for r in range(rows) if view.visualRect(window.model.index(r)).intersects(area))


def bench_gallery(tmp: Path, n: int) -> tuple[dict[str, Any], Any]:
    from desktop.app import build_window

    t0 = time.perf_counter()
    results = make_photos(tmp / "photos", n)
    fill_store(tmp / "case.db", results)
    setup_s = time.perf_counter() - t0
    rss0 = rss_mb()
    t0 = time.perf_counter()
    window, _ = build_window(["--db", str(tmp / "case.db"), "--settings", str(tmp / "g.ini")])
    window.resize(1440, 900)
    window.show()
    pump_until(lambda: window.model.rowCount() > 0)
    first_page = time.perf_counter() - t0
    pump_until(lambda: window.center.currentWidget() is window.gallery)
    need = visible_rows(window)
    pump_until(lambda: window.thumbs.loaded >= need)
    first_thumbs = time.perf_counter() - t0
    out = {
        "images": n,
        "setup_s": setup_s,
        "first_page_s": first_page,
        "first_screen_of_thumbnails_s": first_thumbs,
        "tiles_on_screen": need,
    }
    pump_until(lambda: window.active.handle is not None)  # steady state: torch loaded
    out.update(scroll_and_rate(window, tmp))
    out["rss_mb_after"] = rss_mb()
    out["rss_mb_growth"] = out["rss_mb_after"] - rss0
    return out, window


def scroll_and_rate(window: Any, tmp: Path) -> dict[str, Any]:
    """Scroll through the gallery step by step, timing each synchronous repaint; then load a
    block of thumbnails cold (decode + cache write) and again from the disk cache."""
    from PySide6.QtWidgets import QApplication

    from engine.thumbnails import ThumbnailCache

    view, bar = window.gallery, window.gallery.verticalScrollBar()
    frames = []
    for _ in range(300):
        t = time.perf_counter()
        bar.setValue(bar.value() + bar.singleStep() * 4)
        view.viewport().repaint()
        QApplication.processEvents()
        frames.append((time.perf_counter() - t) * 1000)
    frames.sort()
    out = {
        "scroll_frame_ms_median": statistics.median(frames),
        "scroll_frame_ms_p95": frames[int(len(frames) * 0.95)],
        "rows_loaded_after_scroll": window.model.rowCount(),
    }
    thumbs = window.thumbs
    thumbs.cache = ThumbnailCache(root=tmp / "fresh-thumbs")
    for label in ("thumbnails_per_s_cold", "thumbnails_per_s_disk_cache"):
        thumbs.clear()
        before, t0 = thumbs.loaded, time.perf_counter()
        target = min(400, window.model.rowCount())
        for r in range(target):
            window.model.index(r).data(window.model.ThumbRole)
        pump_until(lambda b=before, n=target: thumbs.loaded - b >= n)
        out[label] = target / (time.perf_counter() - t0)
    return out


def bench_review(window: Any, tmp: Path) -> dict[str, Any]:
    """A 4000x3000 JPEG clicked in the gallery until prediction and overlay are shown."""
    review = window.review
    if not hasattr(review, "wait_idle"):
        return {"review_12mp_click_to_overlay_s": None, "note": "review panel not installed"}
    import numpy as np
    from PIL import Image

    from engine.store import Store

    path = tmp / "big" / "camera_4000x3000.jpg"
    path.parent.mkdir()
    yy, xx = np.mgrid[0:3000, 0:4000]
    arr = np.stack([(xx / 16) % 256, (yy / 12) % 256, ((xx + yy) / 28) % 256], -1).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=90)
    with Store.open(tmp / "case.db") as store:
        info = store.active_model()
        run = store.begin_run(path.parent, {}, info.content_hash, total=1)
        probs = {"Chickenpox": 0.001, "Measles": 0.001, "Monkeypox": 0.001, "Normal": 0.997}
        data = path.read_bytes()
        item = {
            "path": str(path),
            "sha256": hashlib.sha256(data).hexdigest(),
            "probabilities": probs,
        }
        store.record_results(run, [item])
    window.filters.search.setText("camera_4000x3000")
    pump_until(lambda: window.model.rowCount() == 1 and not window.model.loading, 30)
    window.active.when_ready(lambda h: None)
    pump_until(lambda: window.active.handle is not None, 120)
    t0 = time.perf_counter()
    window.gallery.select_row(0)
    pump_until(lambda: review.wait_idle(10) and review.current_item() is not None, 120)
    return {"review_12mp_click_to_overlay_s": time.perf_counter() - t0}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=10_000)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="poxscreen-bench-gui-"))
    os.environ["POXSCREEN_DATA_DIR"] = str(tmp / "data")
    out: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count()}
    out.update(bench_launch(tmp))
    gallery, window = bench_gallery(tmp, args.images)
    out.update(gallery)
    out.update(bench_review(window, tmp))
    window.close()
    for key, value in out.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{key:36s} {shown}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
