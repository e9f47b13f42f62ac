"""Benchmark: ONNX export of a fine-tuned model, full export versus the parent's graph template.

A fine-tune changes weights, never the graph's structure; ``engine.onnx_template`` fills the
parent's weight-free template with the new weights instead of tracing the network again. This
times both on a stand-in fine-tune of the shipped model (its weights nudged, saved as a new model
file), checks each graph against PyTorch on a few inputs, and checks the fast graph is tied to
the new model file (engine.graph_binding).

Run from the repository root: ``.venv/bin/python bench/bench_onnx_export.py``. Prints a table,
writes ``bench/results/onnx_export.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.checkpoint import load_model, save_model  # noqa: E402
from engine.onnx_export import ensure_graph, export_graph  # noqa: E402
from engine.onnx_predictor import OnnxPredictor  # noqa: E402
from engine.paths import default_model_path  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "onnx_export.json"


def fine_tuned(folder: Path) -> Path:
    """The shipped model with every float tensor nudged: a new model of the same structure."""
    folder.mkdir(parents=True, exist_ok=True)
    model, meta = load_model(default_model_path())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.mul_(1 + 0.01 * torch.randn(tensor.shape, generator=gen))
    path = folder / "finetuned.safetensors"
    save_model(path, model, dataclasses.replace(meta, name="bench-finetune", parent=meta.version))
    return path


def max_diff(graph: Path, model_path: Path) -> float:
    """Largest probability difference between the graph and PyTorch on 4 random inputs."""
    model, meta = load_model(model_path)
    predictor = OnnxPredictor(graph, meta, model_path=model_path)  # also checks the binding
    x = np.random.default_rng(1).standard_normal((4, 3, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(model(torch.from_numpy(x)) / meta.temperature, dim=1).numpy()
    return float(np.abs(predictor.predict_array(x)[0] - ref).max())


_COLD = (
    "import sys, time; from engine.checkpoint import load_model; "
    "from engine.onnx_export import ensure_graph; model, meta = load_model(sys.argv[1]); "
    "t = time.perf_counter(); ensure_graph(sys.argv[1], model=model, meta=meta); "
    "print(time.perf_counter() - t)"
)


def cold_template_export(folder: Path) -> float:
    """The template export in a fresh process (as in a training child: no exporter imported)."""
    child = fine_tuned(folder)
    out = subprocess.run(
        [sys.executable, "-c", _COLD, str(child)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cold_s = cold_template_export(folder / "cold")
        child = fine_tuned(folder)
        model, meta = load_model(child)
        t0 = time.perf_counter()
        full = export_graph(model, meta, folder / "full.onnx")
        full_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = ensure_graph(child, model=model, meta=meta)
        fast_s = time.perf_counter() - t0
        how = OnnxPredictor(fast, meta).session.get_modelmeta().custom_metadata_map
        result = {
            "full_export_s": round(full_s, 2),
            "template_export_s": round(fast_s, 2),
            "template_export_fresh_process_s": round(cold_s, 2),
            "template_used": "template" in how.get("poxscreen.exported_with", ""),
            "full_max_prob_diff": max_diff(full, child),
            "template_max_prob_diff": max_diff(fast, child),
            "cpu_count": os.cpu_count(),
            "load_average_start": os.getloadavg()[0],
        }
    print(f"{'full ONNX export (trace + translate + optimise), s':55} {result['full_export_s']}")
    print(f"{'export from the parent graph template, s':55} {result['template_export_s']}")
    print(f"{'the same in a fresh process (imports included), s':55} {cold_s:.2f}")
    print(
        f"template used: {result['template_used']}; max probability difference vs PyTorch: "
        f"full {result['full_max_prob_diff']:.1e}, template {result['template_max_prob_diff']:.1e}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["template_used"] else 1


if __name__ == "__main__":
    sys.exit(main())
