"""Screening throughput and latency on this machine: 224x224 PNGs, 4000x3000 JPEGs, one image.

Run with ``make bench`` (all benchmarks) or ``python bench/bench_screening.py``.
Writes bench/results/screening.json.
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
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.default_model import load_default_model  # noqa: E402
from engine.images import load_image  # noqa: E402
from engine.predictor import Predictor  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _photo(seed: int, w: int, h: int) -> Image.Image:
    """Smooth, photo-like content (noise would make JPEGs unrealistically large)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 100 + 2, w // 100 + 2, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.BICUBIC)


def make_folder(root: Path, n: int, size: tuple[int, int], fmt: str) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = root / f"img{i:04}.{fmt}"
        _photo(i, *size).save(p, quality=92) if fmt == "jpg" else _photo(i, *size).save(p)
        paths.append(p)
    return paths


def throughput(predictor: Predictor, paths: list[Path]) -> float:
    list(predictor.predict_paths(paths[:4]))  # warm-up
    start = time.perf_counter()
    n = sum(len(b) for b in predictor.predict_paths(paths))
    return n / (time.perf_counter() - start)


def latency_ms(predictor: Predictor, path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        image = load_image(path, target_size=predictor.meta.input_size)
        predictor.predict_images([image])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=64, help="images per folder")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    model, meta = load_default_model()
    predictor = Predictor(model, meta, device=args.device, batch_size=args.batch_size)
    results: dict[str, object] = {
        "device": str(predictor.choice),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "batch_size": args.batch_size,
        "model": meta.version,
    }
    with tempfile.TemporaryDirectory() as tmp:
        pngs = make_folder(Path(tmp) / "png", args.n, (224, 224), "png")
        jpgs = make_folder(Path(tmp) / "jpg", max(8, args.n // 2), (4000, 3000), "jpg")
        results["png224_images_per_s"] = round(throughput(predictor, pngs), 1)
        results["jpeg4000x3000_images_per_s"] = round(throughput(predictor, jpgs), 1)
        results["latency_png224_ms"] = round(latency_ms(predictor, pngs[0], 10), 1)
        results["latency_jpeg4000x3000_ms"] = round(latency_ms(predictor, jpgs[0], 5), 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "screening.json").write_text(json.dumps(results, indent=2))
    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
