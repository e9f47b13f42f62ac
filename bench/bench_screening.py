"""In-process screening: both backends, and where the time goes (decode vs network vs overlap).

For PyTorch (channels-last, inference_mode) and ONNX Runtime: images/s on 224x224 PNGs and on
4000x3000 JPEGs through ``predict_paths`` (hash + decode on worker threads, overlapped with the
network), decoding alone, the network alone, and one image from file to probabilities.

Run with ``make bench`` (all benchmarks) or ``python bench/bench_screening.py``.
Writes bench/results/screening.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_pipeline import make_folder  # noqa: E402

from engine.images import load_image  # noqa: E402
from engine.onnx_predictor import OnnxPredictor  # noqa: E402
from engine.paths import default_model_path  # noqa: E402
from engine.pipeline import BatchPredictor  # noqa: E402
from engine.predictor import Predictor  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def pipeline_rate(predictor: BatchPredictor, paths: list[Path]) -> float:
    list(predictor.predict_paths(paths[:4]))  # warm-up
    start = time.perf_counter()
    n = sum(len(b) for b in predictor.predict_paths(paths))
    return n / (time.perf_counter() - start)


def decode_rate(predictor: BatchPredictor, paths: list[Path]) -> float:
    """Read + hash + decode + resize alone, on the same worker threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(predictor.workers) as pool:
        list(pool.map(lambda p: predictor._prepare(p, None), paths))
    return len(paths) / (time.perf_counter() - start)


def network_rate(predictor: BatchPredictor, batch: int, rounds: int = 4) -> float:
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    predictor.predict_array(x)
    start = time.perf_counter()
    for _ in range(rounds):
        predictor.predict_array(x)
    return batch * rounds / (time.perf_counter() - start)


def latency_ms(predictor: BatchPredictor, path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        predictor.predict_images([load_image(path, target_size=predictor.meta.input_size)])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[2:])


def measure(predictor: BatchPredictor, pngs: list[Path], jpgs: list[Path]) -> dict[str, float]:
    return {
        "png224_images_per_s": round(pipeline_rate(predictor, pngs), 1),
        "jpeg12mp_images_per_s": round(pipeline_rate(predictor, jpgs), 1),
        "png224_decode_only_images_per_s": round(decode_rate(predictor, pngs), 1),
        "jpeg12mp_decode_only_images_per_s": round(decode_rate(predictor, jpgs), 1),
        f"network_only_batch{predictor.batch_size}_images_per_s": round(
            network_rate(predictor, predictor.batch_size), 1
        ),
        "network_only_batch1_images_per_s": round(network_rate(predictor, 1, 8), 1),
        "latency_png224_ms": round(latency_ms(predictor, pngs[0], 10), 1),
        "latency_jpeg12mp_ms": round(latency_ms(predictor, jpgs[0], 5), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="PNGs (JPEGs: half)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    pngs = sorted(make_folder("png64", 64, (224, 224), "png").glob("*.png"))[: args.n]
    jpgs = sorted(make_folder("phone120", 120, (4000, 3000), "jpg").glob("*.jpg"))[: args.n // 2]
    model = default_model_path()
    results: dict[str, object] = {"cpu_count": os.cpu_count(), "batch_size": args.batch_size}
    for name, predictor in (
        ("onnxruntime", OnnxPredictor.from_model_file(model, batch_size=args.batch_size)),
        ("torch", Predictor.from_file(model, device="cpu", batch_size=args.batch_size)),
    ):
        results[name] = {"device": str(predictor.choice), **measure(predictor, pngs, jpgs)}
        print(f"{name}: {json.dumps(results[name], indent=2)}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "screening.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
