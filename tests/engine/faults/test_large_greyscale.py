"""Large 16-bit / float greyscale images are scaled without float64 copies of the
whole image, and reduced before converting when only a model-sized image is needed. The
memory target itself (10000x10000 PNG < 1.5 GB) is measured by bench/bench_greyscale_memory.py."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from engine.images import load_image

W, H = 4000, 3000


def _grey16(path: Path) -> Path:
    column = np.linspace(0, 65535, H).astype("<u2")
    Image.frombytes("I;16", (W, H), np.repeat(column, W).tobytes()).save(path)
    return path


def test_scaling_allocates_no_full_size_float_copy(tmp_path: Path) -> None:
    path = _grey16(tmp_path / "g16.png")
    tracemalloc.start()
    try:
        im = load_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert im.size == (W, H)
    one_float64_copy = W * H * 8
    assert peak < one_float64_copy / 2  # was ~3 such copies (asarray, /257, rint, clip)
    row = np.asarray(im)[:, 0, 0]
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row.astype(int)) >= 0)


def test_reduced_before_converting_when_a_small_image_is_enough(tmp_path: Path) -> None:
    path = _grey16(tmp_path / "g16.png")
    small = load_image(path, target_size=224)
    assert 224 <= min(small.size) < 2 * 224 and small.mode == "RGB"
    ints = tmp_path / "i32.tif"
    Image.fromarray(np.full((1200, 900), 40000, dtype=np.int32)).save(ints)
    im = load_image(ints, target_size=224)
    assert min(im.size) == 225 and im.getpixel((3, 3)) == (156, 156, 156)  # 40000/257
