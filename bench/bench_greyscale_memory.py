"""Benchmark: peak resident memory and time to load a 10000x10000 16-bit greyscale PNG.

Why: such a file is only ~230 KB on disk, yet scaling it to 8 bit in float64
once peaked at 2.5-3.5 GB resident per decode worker. Target: under 1.5 GB for a full-size
decode. Each measurement runs in a fresh Python process so the peak (ru_maxrss) is its own.

Run from the repository root: ``.venv/bin/python bench/bench_greyscale_memory.py``.
Prints a table and writes ``bench/results/greyscale_memory.json`` (git-ignored).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

RESULTS = Path(__file__).resolve().parent / "results" / "greyscale_memory.json"
SIDE = 10_000
TARGET_MB = 1536

CHILD = """
import resource, sys, time, warnings
warnings.simplefilter("ignore")
from engine.images import load_image
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
im = load_image(sys.argv[1], target_size=int(sys.argv[2]) or None)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(dt, peak / 1024, base / 1024, im.size[0], im.size[1])
"""


def make_png(path: Path) -> None:
    """A 16-bit vertical gradient: compresses to a few hundred KB, decodes to 200 MB."""
    column = np.linspace(0, 65535, SIDE).astype("<u2")
    data = np.repeat(column, SIDE).tobytes()  # row-major: each row holds one value
    Image.frombytes("I;16", (SIDE, SIDE), data).save(path, optimize=True)


def measure(path: Path, target: int) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(target)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout.split()
    seconds, peak, base, width, height = (float(v) for v in out)
    return {
        "seconds": seconds,
        "peak_rss_mb": peak,
        "baseline_rss_mb": base,
        "width": width,
        "height": height,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grey16.png"
        make_png(path)
        size_kb = path.stat().st_size / 1024
        rows = {
            "full size (display, export)": measure(path, 0),
            "target_size=224 (screening)": measure(path, 224),
        }
    print(f"{SIDE}x{SIDE} 16-bit greyscale PNG, {size_kb:.0f} KB on disk; target < {TARGET_MB} MB")
    print(f"{'load':<30} {'seconds':>8} {'peak RSS MB':>12} {'result':>12}")
    for name, r in rows.items():
        size = f"{int(r['width'])}x{int(r['height'])}"
        print(f"{name:<30} {r['seconds']:>8.2f} {r['peak_rss_mb']:>12.0f} {size:>12}")
    worst = max(r["peak_rss_mb"] for r in rows.values())
    print(f"worst peak {worst:.0f} MB: {'within' if worst < TARGET_MB else 'OVER'} the target")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "file_kb": size_kb,
                "target_mb": TARGET_MB,
                "results": rows,
                "machine": platform.platform(),
                "python": platform.python_version(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
