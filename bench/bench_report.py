"""Benchmark: the printed case report for 500 images -- time, size and pages.

Why: a clinic prints a whole day's screening; hundreds of images must not make the report slow or
huge. The photos are generated 1600x1200 JPEGs (smooth blotches, phone-photo sized, with an EXIF
block that must not reach the PDF), or the shared MSID photos with ``--source msid``. They are
screened with the shipped model through the real ScreeningJob into a temporary store; 10% get a
clinician label with a note. Then ``engine.report.write_report`` runs with Grad-CAM overlays
and without.

Run from the repository root: ``.venv/bin/python bench/bench_report.py [--images N]``.
Prints a table and writes ``bench/results/report.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.cases import collect_cases  # noqa: E402
from engine.predictor import Predictor  # noqa: E402
from engine.report import ReportOptions, write_report  # noqa: E402
from engine.screening import ScreeningJob  # noqa: E402
from engine.store import Store  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "report.json"
MODEL = ROOT / "resources" / "models" / "default.safetensors"
MSID = Path(os.environ.get("POXSCREEN_SHARED", ROOT.parent / "shared")) / "datasets" / "msid"


def synthetic_photos(folder: Path, n: int) -> list[Path]:
    """Skin-toned 1600x1200 JPEGs with a few blotches and an EXIF block (quality 90)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    out = []
    for i in range(n):
        base = np.array([200, 160, 140], np.float32) + rng.normal(0, 12, 3)
        img = np.ones((300, 400, 3), np.float32) * base
        for _ in range(rng.integers(3, 12)):
            cy, cx, r = rng.uniform(0, 300), rng.uniform(0, 400), rng.uniform(5, 30)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
            img -= blob * rng.uniform(20, 80, 3)
        img += rng.normal(0, 4, img.shape)
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).resize((1600, 1200))
        exif = Image.Exif()
        exif[0x010F] = "BenchCam"  # Make
        path = folder / f"IMG_{i:04}.jpg"
        pil.save(path, quality=90, exif=exif)
        out.append(path)
    return out


def measure(store: Store, run_id: int, tmp: Path, gradcam: bool) -> dict[str, object]:
    """One report of the run: size, pages, time, and whether any EXIF made it into the PDF."""
    out = tmp / f"report_{int(gradcam)}.pdf"
    opts = ReportOptions(clinic="Bench clinic", gradcam=gradcam, device="cpu")
    rep = write_report(store, out, run_id, options=opts)
    return {
        "gradcam": rep.gradcam,
        "images": rep.images,
        "pages": rep.pages,
        "size_mb": round(rep.size_bytes / 2**20, 2),
        "kb_per_image": round(rep.size_bytes / 1024 / max(rep.images, 1), 1),
        "seconds": round(rep.elapsed_s, 2),
        "ms_per_image": round(1000 * rep.elapsed_s / max(rep.images, 1), 1),
        "exif_in_pdf": b"BenchCam" in out.read_bytes(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--source", choices=["synthetic", "msid"], default="synthetic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.source == "msid":
            paths = sorted(MSID.rglob("*.png"))[: args.images]
        else:
            paths = synthetic_photos(tmp / "photos", args.images)
        store = Store.open(tmp / "case.db")
        store.register_model_file(MODEL, activate=True)
        predictor = Predictor.from_file(MODEL, device="cpu")
        t0 = time.perf_counter()
        summary = ScreeningJob(predictor, paths[0].parent, paths=paths, store=store).run()
        screen_s = time.perf_counter() - t0
        classes = predictor.meta.classes
        for i, p in enumerate(paths[::10]):
            store.label(p, classes[i % 4], who="dr bench", note=f"bench note {i}", classes=classes)
        rows = [measure(store, summary.run_id, tmp, gradcam) for gradcam in (True, False)]
        t0 = time.perf_counter()
        collect_cases(store, summary.run_id)
        collect_s = time.perf_counter() - t0
        store.close()
    print(f"source={args.source} images={len(paths)} screening {screen_s:.1f}s, "
          f"collect_cases {collect_s * 1000:.0f} ms")  # fmt: skip
    print(
        f"{'gradcam':>8} {'images':>7} {'pages':>6} {'MB':>7} {'KB/img':>7} {'s':>7} {'ms/img':>7}"
    )
    for r in rows:
        print(f"{r['gradcam']!s:>8} {r['images']:>7} {r['pages']:>6} {r['size_mb']:>7} "
              f"{r['kb_per_image']:>7} {r['seconds']:>7} {r['ms_per_image']:>7}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "source": args.source,
                "machine": platform.platform(),
                "collect_cases_ms": round(collect_s * 1000, 1),
                "rows": rows,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
