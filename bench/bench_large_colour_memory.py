"""Benchmark: peak resident memory to load 12000x12000 colour PNGs (RGB and RGBA).

Why: such a file is 2-3 MB on disk yet decodes to 576 MB in Pillow (4 bytes a pixel). Converting
an RGBA one whole held four copies (2.7 GB); the screening pipeline's decode threads held one RGB
photo at full size (1.4 GB) and three at once (4.1 GB; 8.2 GB for RGBA).
Target: one photo under 700 MB for the reduced loads (screening, training, previews). A
full-size load holds the whole decoded image by definition. Each measurement runs in a fresh
Python process; the peak is its own high-water mark (VmHWM on Linux).

Run from the repository root: ``.venv/bin/python bench/bench_large_colour_memory.py``.
Prints a table and writes ``bench/results/large_colour_memory.json`` (git-ignored).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "large_colour_memory.json"
SIDE = 12_000
TARGET_MB = 700

CHILD = """
import resource, sys, threading, time, warnings
warnings.simplefilter("ignore")
import psutil
from engine.images import load_image, load_image_bytes, load_preview
base = psutil.Process().memory_info().rss
how, paths = sys.argv[1], sys.argv[2:]
def one(p):
    if how == "preview":
        load_preview(p)
    elif how == "full":
        load_image(p)
    else:
        load_image_bytes(open(p, "rb").read(), name=p, target_size=224)
t = time.perf_counter()
threads = [threading.Thread(target=one, args=(p,)) for p in paths]
for th in threads: th.start()
for th in threads: th.join()
dt = time.perf_counter() - t
try:
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
except (OSError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(dt, (peak - base) / 2**20)
"""


PIPELINE = """
import sys, time, warnings
warnings.simplefilter("ignore")
import psutil
from engine.predictor import Predictor
predictor = Predictor.from_file(sys.argv[1], device="cpu", batch_size=4, workers=3)
base = psutil.Process().memory_info().rss
t = time.perf_counter()
results = [p for batch in predictor.predict_paths(sys.argv[2:]) for p in batch]
dt = time.perf_counter() - t
assert all(p.ok for p in results), [p.error for p in results]
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
print(dt, (peak - base) / 2**20)
"""


def measure_pipeline(model: Path, paths: list[Path]) -> dict[str, float]:
    """The screening pipeline (3 decode threads, batch 4, a test network) over ``paths``."""
    out = subprocess.run(
        [sys.executable, "-c", PIPELINE, str(model), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    return {"seconds": float(out[0]), "peak_growth_mb": float(out[1])}


def measure(how: str, paths: list[Path]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, how, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    return {"seconds": float(out[0]), "peak_growth_mb": float(out[1])}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.engine.factories import save_test_model
    from tests.engine.faults.test_large_colour import write_png

    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for alpha in (False, True):
            kind = "RGBA" if alpha else "RGB"
            path = write_png(Path(tmp) / f"{kind}.png", SIDE, alpha)
            rows[f"{kind} target_size=224 (screening)"] = measure("model", [path])
            rows[f"{kind} preview 1600 px (display)"] = measure("preview", [path])
            rows[f"{kind} full size (export)"] = measure("full", [path])
        rgb = Path(tmp) / "RGB.png"
        rows["3 x RGB on 3 decode threads"] = measure("model", [rgb] * 3)
        if Path("/proc/self/status").exists():  # the pipeline figures read VmHWM (Linux)
            model = Path(tmp) / "net.safetensors"
            save_test_model(model, name="bench", trained=True)
            rows["screening pipeline, 1 RGB"] = measure_pipeline(model, [rgb])
            rows["screening pipeline, 3 RGB"] = measure_pipeline(model, [rgb] * 3)
            rows["screening pipeline, 3 RGBA"] = measure_pipeline(
                model, [Path(tmp) / "RGBA.png"] * 3
            )
    print(f"{SIDE}x{SIDE} PNGs; reduced loads target < {TARGET_MB} MB peak growth")
    print(f"{'load':<36} {'seconds':>8} {'peak growth MB':>15}")
    for name, r in rows.items():
        print(f"{name:<36} {r['seconds']:>8.2f} {r['peak_growth_mb']:>15.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "side": SIDE,
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
