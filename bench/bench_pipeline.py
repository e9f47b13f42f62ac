"""End to end, as a user sees it: ``poxscreen screen`` as a process versus the naive script.

Cases: an empty folder, one photo, 120 phone photos (4000x3000 JPEG, generated), the 605 shared
224x224 PNGs (MSID, skipped without ../shared), and peak memory over 500 vs 5,000 images. Each
repeat runs both sides back to back (alternating which goes first), every PoxScreen run on a
fresh copy of an already-created case store, as a returning user has. Also: this CPU's measured
float32 matmul GFLOP/s, the model's 0.727 GFLOP per image, and the fraction of that ceiling the
network alone and the whole pipeline reach.

    python bench/bench_pipeline.py [--repeats 3] [--memory-images 5000] [--quick]

Writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from engine.paths import default_model_path  # noqa: E402

RESULTS = HERE / "results" / "pipeline.json"
DATA = HERE / ".data"
GFLOP_PER_IMAGE = 0.727
SHARED = next(
    (
        p / "datasets" / "msid"
        for p in (
            Path(os.environ.get("POXSCREEN_SHARED", REPO.parent / "shared")),
            REPO.parents[1] / "shared",
        )
        if (p / "datasets" / "msid").is_dir()
    ),
    REPO.parent / "shared" / "datasets" / "msid",
)
POXSCREEN = [sys.executable, "-m", "engine", "screen"]
NAIVE = [sys.executable, str(HERE / "naive_screen.py")]


def _photo(seed: int, w: int, h: int) -> Image.Image:
    """Smooth, photo-like content plus sensor-like noise (a realistic JPEG size)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 100 + 2, w // 100 + 2, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))
    noise = rng.integers(-6, 7, base.shape, dtype=np.int16)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def make_folder(name: str, n: int, size: tuple[int, int], fmt: str) -> Path:
    """``bench/.data/NAME`` with ``n`` generated photos (kept between runs: 12 MP takes a while)."""
    folder = DATA / name
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        _photo(i, *size).save(folder / f"img{i:05}.{fmt}", quality=90)
    done.touch()
    return folder


def run_process(cmd: list[str], src: Path = REPO) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child process (code from ``src``)."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(src)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=src, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }


class Runner:
    """Runs both sides on a folder; every PoxScreen run gets a fresh copy of a created store."""

    def __init__(self, work: Path, src: Path = REPO) -> None:
        self.work, self.src = work, src
        self.template = work / "template.db"
        empty = work / "empty"
        empty.mkdir()
        run_process([*POXSCREEN, str(empty), "--db", str(self.template), "-q"], src)  # creates it
        self.n = 0

    def ours(self, folder: Path) -> dict[str, float]:
        self.n += 1
        db = self.work / f"run{self.n}.db"
        shutil.copyfile(self.template, db)
        out = self.work / f"ours{self.n}.csv"
        cmd = [*POXSCREEN, str(folder), "-r", "--db", str(db), "--out", str(out), "-q"]
        return run_process(cmd, self.src)

    def naive(self, folder: Path) -> dict[str, float]:
        self.n += 1
        return run_process([*NAIVE, str(folder), str(self.work / f"naive{self.n}.csv")])

    def compare(self, folder: Path, images: int, repeats: int) -> dict[str, object]:
        """Median over ``repeats`` of both sides, run back to back, alternating order."""
        runs: dict[str, list[dict[str, float]]] = {"poxscreen": [], "naive": []}
        for r in range(repeats):
            order = ("poxscreen", "naive") if r % 2 == 0 else ("naive", "poxscreen")
            for side in order:
                fn = self.ours if side == "poxscreen" else self.naive
                runs[side].append(fn(folder))
        row: dict[str, object] = {"images": images, "repeats": repeats}
        for side, values in runs.items():
            row[side] = {k: round(statistics.median(v[k] for v in values), 3) for k in values[0]}
            row[side]["all_wall_s"] = [round(v["wall_s"], 2) for v in values]  # type: ignore[index]
        ours_wall = row["poxscreen"]["wall_s"]  # type: ignore[index]
        naive_wall = row["naive"]["wall_s"]  # type: ignore[index]
        row["speedup"] = round(naive_wall / ours_wall, 2)
        if images:
            row["poxscreen"]["images_per_s"] = round(images / ours_wall, 1)  # type: ignore[index]
            row["naive"]["images_per_s"] = round(images / naive_wall, 1)  # type: ignore[index]
        return row


def memory_case(runner: Runner, n_large: int) -> dict[str, object]:
    """Peak RSS of PoxScreen over a tenth of the images and over all of them (flat = no growth)."""
    folder = make_folder(f"small{n_large}", n_large, (320, 240), "jpg")
    tenth = runner.work / "tenth"
    tenth.mkdir()
    for p in sorted(folder.glob("*.jpg"))[: n_large // 10]:
        os.link(p, tenth / p.name)
    small, large = runner.ours(tenth), runner.ours(folder)
    naive_small = runner.naive(tenth)
    return {
        "images": [n_large // 10, n_large],
        "poxscreen_peak_mb": [round(small["peak_mb"], 1), round(large["peak_mb"], 1)],
        "poxscreen_growth": round(large["peak_mb"] / small["peak_mb"], 3),
        "poxscreen_images_per_s": round(n_large / large["wall_s"], 1),
        "naive_peak_mb": round(naive_small["peak_mb"], 1),
    }


def hardware_case(png_images_per_s: float | None) -> dict[str, object]:
    """Measured matmul GFLOP/s (torch, all cores), the images/s ceiling it implies, and how
    close the network alone (ONNX Runtime, batch 16) and the end-to-end pipeline come."""
    import torch

    from engine.onnx_predictor import OnnxPredictor

    a = torch.randn(4096, 4096)
    times = []
    for _ in range(6):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    gflops = 2 * 4096**3 / min(times[1:]) / 1e9
    ceiling = gflops / GFLOP_PER_IMAGE
    predictor = OnnxPredictor.from_model_file(default_model_path())
    x = np.random.default_rng(0).standard_normal((16, 3, 224, 224)).astype(np.float32)
    predictor.predict_array(x)
    start = time.perf_counter()
    for _ in range(4):
        predictor.predict_array(x)
    net = 64 / (time.perf_counter() - start)
    row: dict[str, object] = {
        "matmul_gflops": round(gflops, 1),
        "torch_threads": torch.get_num_threads(),
        "gflop_per_image": GFLOP_PER_IMAGE,
        "ceiling_images_per_s": round(ceiling, 1),
        "network_images_per_s": round(net, 1),
        "network_fraction": round(net / ceiling, 3),
        "onnx_threads": predictor.threads,
    }
    if png_images_per_s:
        row["pipeline_fraction"] = round(png_images_per_s / ceiling, 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-images", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 1,000 memory images")
    parser.add_argument("--src", type=Path, default=REPO, help="measure another checkout's code")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file to write")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    n_memory = 1000 if args.quick else args.memory_images
    phones = make_folder("phone120", 120, (4000, 3000), "jpg")
    one = make_folder("one", 1, (224, 224), "png")
    results: dict[str, object] = {
        "poxscreen_source": str(args.src.resolve()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_start": os.getloadavg(),
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Path(tmp), args.src.resolve())
        cases = {"empty folder": (runner.work / "empty", 0), "one photo": (one, 1)}
        cases["120 phone JPEGs 4000x3000"] = (phones, 120)
        if SHARED.is_dir():
            cases["605 MSID PNGs 224x224"] = (SHARED, sum(1 for _ in SHARED.rglob("*.png")))
        for name, (folder, n) in cases.items():
            if args.only not in name:
                continue
            results[name] = runner.compare(folder, n, repeats)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
        if not args.skip_memory:
            results["memory"] = memory_case(runner, n_memory)
            print(f"memory: {json.dumps(results['memory'])}", flush=True)
    png = results.get("605 MSID PNGs 224x224")
    results["hardware"] = hardware_case(png["poxscreen"]["images_per_s"] if png else None)  # type: ignore[index]
    results["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
