"""Export a model file's network to ONNX for torch-free screening (:mod:`engine.onnx_predictor`).

    python -m engine.onnx_export MODEL.safetensors [--force]

writes ``MODEL.<hash16>.onnx`` beside the model (the shipped default included: run it on
``resources/models/default.safetensors`` after retraining). The graph has two outputs, ``logits``
(B x classes) and ``features`` (B x 1280, the globally pooled backbone output: the "not a skin
photo" guard's input, from the same pass), a dynamic batch dimension, and records the model's
content hash and its weights' hash, which screening checks against the model file's bytes
(engine.graph_binding), so a changed model never uses a stale graph. It is exported
with the dynamo exporter at opset 18 (the legacy exporter fails on the 7->4 adaptive pooling)
and checked against PyTorch before it is kept. A full export also keeps a weight-free template
of the graph beside the model (engine.onnx_template); a later model of the same structure (a
fine-tune) is exported by filling it with the new weights: seconds instead of a full trace.
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.atomic import atomic_path
from engine.checkpoint import ModelFileError, ModelMeta, load_model, read_meta
from engine.graph_binding import WEIGHTS_KEY
from engine.guard import pooled_features
from engine.onnx_predictor import (
    FEATURES_KEY,
    FEATURES_KIND,
    HASH_KEY,
    INPUT_NAME,
    OUTPUT_NAMES,
    OnnxPredictor,
    OnnxUnavailable,
    graph_path,
)
from engine.onnx_template import (
    fill_template,
    find_template,
    save_ir,
    structure_key,
    write_template,
)
from engine.paths import resources_dir

log = logging.getLogger(__name__)

OPSET = 18
#: Largest probability difference tolerated between the graph and PyTorch at export.
TOLERANCE = 1e-4


class GraphExportError(Exception):
    """The graph could not be exported or does not reproduce PyTorch; ``reason`` says why."""


class _LogitsAndFeatures(nn.Module):
    """The network with both outputs: class logits and the pooled backbone features (the guard's
    input), from one pass over the backbone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature_map = self.model.forward_features(x)
        return self.model.forward_head(feature_map), pooled_features(feature_map)


def _wrap(model: nn.Module) -> _LogitsAndFeatures:
    model = copy.deepcopy(model).float().to("cpu", memory_format=torch.contiguous_format)
    return _LogitsAndFeatures(model).eval()


def _metadata(meta: ModelMeta, how: str) -> dict[str, str]:
    return {
        HASH_KEY: meta.content_hash,
        WEIGHTS_KEY: meta.weights_hash,
        FEATURES_KEY: FEATURES_KIND,
        "poxscreen.version": meta.version,
        "poxscreen.classes": json.dumps(list(meta.classes)),
        "poxscreen.exported_with": f"torch {torch.__version__}, opset {OPSET}{how}",
    }


def export_graph(
    model: nn.Module,
    meta: ModelMeta,
    out: str | os.PathLike[str],
    *,
    template_dirs: Sequence[Path] = (),
) -> Path:
    """Export ``model`` (described by ``meta``) to ``out`` atomically, verified against torch.

    ``template_dirs``: also keep the graph's weight-free template there (engine.onnx_template),
    so later models of the same structure export in seconds.
    """
    out = Path(out)
    wrapper = _wrap(model)
    size = int(meta.input_size)
    example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        with warnings.catch_warnings(), _quiet_exporter():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper,
                (example,),
                dynamo=True,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes=({0: batch},),
                optimize=False,  # below, after the unoptimised template is kept
                verbose=False,
            )
            key = structure_key(wrapper.model.state_dict(), meta, OPSET)
            for folder in template_dirs:
                if find_template(key, [folder]) is None:
                    write_template(program.model_proto, key, folder)
            program.optimize()
    except Exception as exc:  # the exporter raises many types; all mean "no graph"
        raise GraphExportError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    program.model.metadata_props.update(_metadata(meta, ""))
    with atomic_path(out) as tmp:
        program.save(str(tmp))
        os.chmod(tmp, 0o644)  # a shared, read-only artefact like the model file itself
        _verify(wrapper, meta, Path(tmp))
    return out


def export_from_template(
    model: nn.Module, meta: ModelMeta, out: str | os.PathLike[str], folders: list[Path]
) -> bool:
    """Export ``model`` by filling a template of the same structure found in ``folders``.

    False (nothing written) when there is none or anything fails: the caller exports in full.
    """
    wrapper = _wrap(model)
    state = wrapper.model.state_dict()
    key = structure_key(state, meta, OPSET)
    template = find_template(key, folders)
    if template is None:
        return False
    try:
        with warnings.catch_warnings(), _quiet_exporter():
            warnings.simplefilter("ignore")
            graph = fill_template(template, key, state)
        with atomic_path(Path(out)) as tmp:
            save_ir(graph, _metadata(meta, f", weights into template {key}"), Path(tmp))
            os.chmod(tmp, 0o644)
            _verify(wrapper, meta, Path(tmp))
    except Exception as exc:  # noqa: BLE001  any failure means: export in full instead
        log.info("graph template %s not used (%s); exporting in full", template.name, exc)
        return False
    return True


def _verify(wrapper: nn.Module, meta: ModelMeta, graph: Path) -> None:
    """The graph must give PyTorch's probabilities (batch 1 and 3) before it is kept."""
    try:
        predictor = OnnxPredictor(graph, meta, threads=1)
    except OnnxUnavailable as exc:
        raise GraphExportError(exc.reason) from exc
    size = int(meta.input_size)
    gen = torch.Generator().manual_seed(1)
    for n in (1, 3):
        x = torch.randn(n, 3, size, size, generator=gen)
        with torch.inference_mode():
            logits, feats = wrapper(x)
        ref = torch.softmax(logits / float(meta.temperature), dim=1).numpy()
        probs, got = predictor.predict_array(x.numpy())
        diff = float(np.abs(probs - ref).max())
        if diff >= TOLERANCE or not np.allclose(got, feats.numpy(), atol=1e-3, rtol=1e-3):
            raise GraphExportError(f"graph disagrees with PyTorch (probability diff {diff:.2e})")


class _quiet_exporter:
    """The exporter logs progress at INFO through ``torch.onnx``; a clinician needs none of it."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("torch.onnx")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def ensure_graph(
    model_path: str | os.PathLike[str],
    model: nn.Module | None = None,
    meta: ModelMeta | None = None,
    force: bool = False,
    template_dirs: Sequence[Path] = (),
) -> Path:
    """The graph of the model file at ``model_path``, exported unless a valid one exists.

    ``model``/``meta``: the already-loaded network of that file (saves reloading it).
    ``template_dirs``: where else graph templates live (a store's models folder), besides the
    model's own folder and the shipped models: a fine-tune's graph is filled from one in seconds.
    """
    meta = meta or read_meta(model_path)
    out = graph_path(model_path, meta.content_hash)
    if not force and out.is_file():
        try:
            OnnxPredictor(out, meta, threads=1, model_path=model_path)
            return out
        except OnnxUnavailable:
            pass  # stale or unreadable: export again
    if model is None:
        model, meta = load_model(model_path)
    folders = [Path(model_path).parent, *template_dirs]
    if not export_from_template(model, meta, out, [*folders, resources_dir() / "models"]):
        export_graph(model, meta, out, template_dirs=folders)
    _remove_stale_graphs(Path(model_path), keep=out)
    return out


def _remove_stale_graphs(model_path: Path, keep: Path) -> None:
    """Graphs of earlier weights saved under the same file name (a retrained default) go."""
    for old in model_path.parent.glob(f"{glob.escape(model_path.stem)}.*.onnx"):
        key = old.name[len(model_path.stem) + 1 : -len(".onnx")]
        if old != keep and len(key) == 16 and all(c in "0123456789abcdef" for c in key):
            old.unlink(missing_ok=True)


def try_export(
    model_path: str | os.PathLike[str],
    model: nn.Module | None = None,
    meta: ModelMeta | None = None,
    template_dirs: Sequence[Path] = (),
) -> tuple[Path | None, str]:
    """:func:`ensure_graph` for callers that must not fail over it (registration, training):
    the graph, or None and the reason (screening then falls back to PyTorch)."""
    try:
        return ensure_graph(model_path, model=model, meta=meta, template_dirs=template_dirs), ""
    except (ModelFileError, GraphExportError, OSError) as exc:
        return None, f"no ONNX graph exported ({exc}); screening this model will use PyTorch"


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.onnx_export MODEL``: (re)build a model's screening graph."""
    parser = argparse.ArgumentParser(prog="python -m engine.onnx_export", description=__doc__)
    parser.add_argument("model", help="a PoxScreen model file (.safetensors)")
    parser.add_argument("--force", action="store_true", help="export even if a valid graph exists")
    args = parser.parse_args(argv)
    try:
        out = ensure_graph(args.model, force=args.force)
    except (ModelFileError, GraphExportError) as exc:
        print(f"onnx_export: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.model} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
