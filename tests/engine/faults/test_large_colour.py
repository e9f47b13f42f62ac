"""A 12000x12000 colour PNG compresses to a few MB yet decodes to 576 MB in Pillow. Reduced loads
(screening, training, previews) must stay under 700 MB of peak memory for one such photo, also
with alpha (whose conversion once held four full-size copies, 2.7 GB), and decode threads must
take such photos one at a time (three at once held 1.6 GB). Peaks are measured in a fresh
process, since a high-water mark never falls. bench/bench_large_colour_memory.py reports the figures."""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.images as images
from engine.decode_memory import DecodeBudget
from engine.images import load_image, load_preview

ROOT = Path(__file__).resolve().parents[3]
SIDE = 12_000
LIMIT_MB = 700

_BG = (200, 150, 120, 255)
_FG = (90, 30, 30, 0)  # fully transparent in RGBA files: composited onto white


def write_png(path: Path, side: int, alpha: bool) -> Path:
    """A compressible RGB(A) PNG with a band of another colour, written row by row so the test
    process never holds the image (a quarter down to half way, left quarter to half)."""
    ch = 4 if alpha else 3
    bg, fg = np.array(_BG[:ch], np.uint8), np.array(_FG[:ch], np.uint8)
    plain = b"\0" + np.tile(bg, side).tobytes()
    row = np.tile(bg, (side, 1))
    row[side // 4 : side // 2] = fg
    marked = b"\0" + row.tobytes()
    z = zlib.compressobj(1)
    body = [z.compress(marked if side // 4 <= y < side // 2 else plain) for y in range(side)]
    body.append(z.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", side, side, 8, 6 if alpha else 2, 0, 0, 0)
    png = chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png)
    return path


_CHILD = """
import resource, sys, threading, warnings
warnings.simplefilter("ignore")
import psutil
from engine.images import load_image_bytes, load_preview
base = psutil.Process().memory_info().rss
paths, how = sys.argv[1:-1], sys.argv[-1]
sizes = []
def one(p):
    if how == "preview":
        sizes.append(load_preview(p).size)
    else:
        sizes.append(load_image_bytes(open(p, "rb").read(), target_size=224).size)
threads = [threading.Thread(target=one, args=(p,)) for p in paths]
for t in threads: t.start()
for t in threads: t.join()
try:  # this process's own high-water mark; ru_maxrss may start at a forking parent's size
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
except (OSError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print((peak - base) / 2**20, len(sizes))
"""


def peak_mb(paths: list[Path], how: str) -> float:
    """Peak resident growth (MB) of a fresh process that loads ``paths`` on one thread each."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, paths), how],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    peak, done = out.stdout.split()
    assert int(done) == len(paths)
    return float(peak)


@pytest.mark.slow
def test_one_big_rgba_png_stays_under_the_limit(tmp_path: Path) -> None:
    path = write_png(tmp_path / "big.png", SIDE, alpha=True)
    assert path.stat().st_size < 5_000_000
    assert peak_mb([path], "model") < LIMIT_MB  # was 2748 MB
    assert peak_mb([path], "preview") < LIMIT_MB


@pytest.mark.slow
def test_three_big_pngs_on_three_threads_decode_one_at_a_time(tmp_path: Path) -> None:
    path = write_png(tmp_path / "big.png", SIDE, alpha=False)
    paths = [path] * 3
    assert peak_mb(paths, "model") < LIMIT_MB + 100  # was 1650 MB: all three at once


def test_strip_conversion_matches_converting_whole(tmp_path: Path, monkeypatch) -> None:
    path = write_png(tmp_path / "small.png", 600, alpha=True)
    whole = load_image(path, target_size=100)  # below the threshold: converted whole
    assert whole.size == (600, 600)
    monkeypatch.setattr(images, "STRIP_REDUCE_PIXELS", 0)
    monkeypatch.setattr(images, "_STRIP_PIXELS", 600 * 7)  # strips of 6 rows, many of them
    reduced = load_image(path, target_size=100)
    assert reduced.size == (100, 100) and reduced.mode == "RGB"
    assert np.array_equal(np.asarray(reduced), np.asarray(whole.reduce(6)))
    assert reduced.getpixel((30, 30)) == (255, 255, 255)  # transparent band onto white
    assert reduced.getpixel((90, 90)) == _BG[:3]
    preview = load_preview(path, max_side=250)
    assert preview.size == (250, 250) and preview.getpixel((70, 70)) == (255, 255, 255)


def test_strip_path_applies_exif_orientation(tmp_path: Path, monkeypatch) -> None:
    im = Image.new("RGB", (400, 200), _BG[:3])
    im.paste((0, 0, 255), (0, 0, 100, 100))  # blue top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    path = tmp_path / "rot.png"
    im.save(path, exif=exif)
    monkeypatch.setattr(images, "STRIP_REDUCE_PIXELS", 0)
    out = load_image(path, target_size=50)
    assert out.size == (50, 100)  # 200x400 upright, reduced by 4
    assert out.getpixel((45, 5)) == (0, 0, 255)  # the corner moved to the top right


def test_budget_lets_a_photo_over_it_decode_alone() -> None:
    budget = DecodeBudget(100)
    order: list[str] = []
    first_in = threading.Event()

    def big() -> None:
        with budget.take(500):  # over the budget: needs everything
            order.append("big in")
            first_in.set()
            time.sleep(0.2)
            order.append("big out")

    def small() -> None:
        first_in.wait(5)
        with budget.take(10):
            order.append("small")

    threads = [threading.Thread(target=big), threading.Thread(target=small)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert order == ["big in", "big out", "small"]
    assert budget.used == 0


_PIPELINE = """
import sys, warnings
warnings.simplefilter("ignore")
import psutil
from engine.predictor import Predictor
predictor = Predictor.from_file(sys.argv[1], device="cpu", batch_size=4, workers=3)
base = psutil.Process().memory_info().rss
results = [p for batch in predictor.predict_paths(sys.argv[2:]) for p in batch]
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
print((peak - base) / 2**20, sum(p.ok for p in results), [p.error for p in results if not p.ok])
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM (Linux)")
def test_screening_pipeline_takes_big_photos_one_at_a_time(
    tmp_path: Path, model_file: Path
) -> None:
    paths = [write_png(tmp_path / f"big{i}.png", SIDE, alpha=i == 0) for i in range(3)]
    out = subprocess.run(
        [sys.executable, "-c", _PIPELINE, str(model_file), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    peak, ok, errors = out.stdout.split(maxsplit=2)
    assert int(ok) == 3, errors
    assert float(peak) < LIMIT_MB + 100  # three decode threads, one big photo at a time
