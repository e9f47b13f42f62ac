"""Benchmark: full decode vs reduced-scale (draft) decode of a 12 MP phone-sized JPEG.

Why: screening and thumbnails only need ~224-512 px, and libjpeg can decode at 1/2, 1/4 or 1/8
scale for a fraction of the cost. This measures what ``load_image(target_size=...)`` saves.

Run from the repository root: ``.venv/bin/python bench/bench_images.py [--repeats N]``.
Prints a table and writes ``bench/results/images.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from engine.images import load_image

RESULTS = Path(__file__).resolve().parent / "results" / "images.json"
WIDTH, HEIGHT, QUALITY = 4000, 3000, 90


def make_photo(path: Path) -> None:
    """A photo-like JPEG: smooth colour gradients plus mild sensor noise (not pure noise, which
    would be unrealistically large and slow to decode)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack(
        [
            128 + 90 * np.sin(x / 410.0) * np.cos(y / 530.0),
            110 + 70 * np.cos(x / 290.0 + y / 700.0),
            100 + 60 * np.sin((x + y) / 850.0),
        ],
        axis=-1,
    )
    base += rng.normal(0, 6, base.shape).astype(np.float32)
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB").save(path, quality=QUALITY)


def time_it(fn: Callable[[], Image.Image], repeats: int) -> tuple[list[float], tuple[int, int]]:
    size = fn().size  # warm-up (file cache, lazy imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        make_photo(path)
        cases: dict[str, Callable[[], Image.Image]] = {
            "pillow open+convert(RGB) (reference)": lambda: Image.open(path).convert("RGB"),
            "load_image full": lambda: load_image(path),
            "load_image target_size=1024": lambda: load_image(path, target_size=1024),
            "load_image target_size=512": lambda: load_image(path, target_size=512),
            "load_image target_size=224": lambda: load_image(path, target_size=224),
        }
        file_bytes = path.stat().st_size
        rows = []
        for name, fn in cases.items():
            times, size = time_it(fn, args.repeats)
            rows.append(
                {
                    "case": name,
                    "output_size": list(size),
                    "median_ms": round(statistics.median(times) * 1000, 2),
                    "min_ms": round(min(times) * 1000, 2),
                }
            )

    full = next(r["median_ms"] for r in rows if r["case"] == "load_image full")
    print(f"{WIDTH}x{HEIGHT} JPEG q{QUALITY}, {file_bytes / 1e6:.1f} MB, {args.repeats} repeats")
    print(f"{'case':38} {'output':>11} {'median ms':>10} {'min ms':>8} {'speed-up':>9}")
    for r in rows:
        r["speedup_vs_full"] = round(full / r["median_ms"], 2)
        out = "x".join(map(str, r["output_size"]))
        print(
            f"{r['case']:38} {out:>11} {r['median_ms']:>10.1f} {r['min_ms']:>8.1f}"
            f" {r['speedup_vs_full']:>8.1f}x"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "images",
                "image": {
                    "width": WIDTH,
                    "height": HEIGHT,
                    "quality": QUALITY,
                    "bytes": file_bytes,
                },
                "repeats": args.repeats,
                "python": platform.python_version(),
                "pillow": Image.__version__,
                "machine": platform.machine(),
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
