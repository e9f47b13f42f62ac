"""Run every benchmark in bench/ (``make bench``), then print one table of every figure.

Each ``bench_*.py`` prints its own details and writes ``bench/results/<name>.json``; the closing
table puts each PoxScreen figure next to the naive script's from the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _load(name: str, since: float) -> dict | None:
    path = RESULTS / f"{name}.json"
    if not path.exists() or path.stat().st_mtime < since:
        return None
    return json.loads(path.read_text())


def _pipeline_rows(p: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, row in p.items():
        if not isinstance(row, dict) or "speedup" not in row:
            continue
        ours, naive = row["poxscreen"], row["naive"]
        rate = lambda side: f" ({side['images_per_s']} img/s)" if "images_per_s" in side else ""  # noqa: E731
        rows.append(
            (
                f"{name}: end to end, s",
                f"{ours['wall_s']:.2f}{rate(ours)}",
                f"{naive['wall_s']:.2f}{rate(naive)}",
                f"{row['speedup']:.2f}x faster",
            )
        )
        rows.append(
            (f"{name}: peak memory, MB", f"{ours['peak_mb']:.0f}", f"{naive['peak_mb']:.0f}", "")
        )
    mem = p.get("memory")
    if mem:
        a, b = mem["images"]
        rows.append(
            (
                f"peak memory {a} -> {b} images, MB",
                " -> ".join(f"{v:.0f}" for v in mem["poxscreen_peak_mb"]),
                f"{mem['naive_peak_mb']:.0f} ({a} images)",
                f"growth {mem['poxscreen_growth']:.2f}x",
            )
        )
    hw = p.get("hardware")
    if hw:
        rows.append(
            (
                f"CPU ceiling: {hw['matmul_gflops']} GFLOP/s matmul / 0.727 GFLOP",
                f"{hw['ceiling_images_per_s']} img/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "network alone (ONNX Runtime, batch 16)",
                f"{hw['network_images_per_s']} img/s",
                "",
                f"{100 * hw['network_fraction']:.0f}% of ceiling",
            )
        )
        if "pipeline_fraction" in hw:
            rows.append(
                ("605 PNGs end to end vs ceiling", "", "", f"{100 * hw['pipeline_fraction']:.0f}%")
            )
    return rows


def _explain_rows(e: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for batch, methods in e.get("batches", {}).items():
        ours = methods.get("gradcam (engine)", {}).get("x_forward")
        pkg = methods.get("gradcam (package)", {}).get("x_forward")
        if ours and pkg:
            rows.append(
                (
                    f"Grad-CAM batch {batch}, x forward pass",
                    f"{ours:.2f}x",
                    f"{pkg:.2f}x (grad-cam package)",
                    f"{pkg / ours:.1f}x faster",
                )
            )
    return rows


def summary(since: float) -> None:
    """One table: every figure of this run, PoxScreen next to the naive baseline."""
    rows: list[tuple[str, str, str, str]] = []
    pipeline, explain = _load("pipeline", since), _load("explain", since)
    if pipeline:
        rows += _pipeline_rows(pipeline)
    if explain:
        rows += _explain_rows(explain)
    onnx_export = _load("onnx_export", since)
    if onnx_export:
        rows.append(
            (
                "ONNX export of a fine-tune, s",
                f"{onnx_export['template_export_s']:.1f} (template)",
                f"{onnx_export['full_export_s']:.1f} (full export)",
                f"{onnx_export['full_export_s'] / onnx_export['template_export_s']:.1f}x faster",
            )
        )
    if not rows:
        return
    header = ("figure", "PoxScreen", "naive / reference", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print("\n=== summary (this run) ===")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if pipeline:
        print(
            f"machine: {pipeline['machine']}; load average at start {pipeline['load_average_start']}"
        )


def main() -> int:
    start = time.time()
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.name)
    summary(start)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
