"""Screening with ONNX Runtime: the same pipeline and results as the torch backend, no torch.

Each model's graph (``logits`` and the pooled backbone ``features`` (B x 1280) outputs, dynamic
batch; see :mod:`engine.onnx_export`) lies beside its model file, named by the model's content
hash, and records that hash and the weights' hash inside; before it runs, the model file's weights
are hashed from its bytes and its classifier tensors must lie in the graph (engine.graph_binding),
so a changed model never runs a stale graph, even one whose metadata was edited. The "not a skin photo" guard is read from the model file
with safetensors' numpy API, so screening stays torch-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.device import DeviceChoice
from engine.graph_binding import WEIGHTS_KEY, binding_problem
from engine.modelmeta import ModelFileError, ModelMeta, graph_path, read_meta
from engine.pipeline import BatchPredictor

if TYPE_CHECKING:
    from engine.guard import ScopeGuard

#: Graph metadata key holding the content hash of the weights the graph was exported from.
HASH_KEY = "poxscreen.content_hash"
#: Graph metadata key saying what the ``features`` output is; graphs exported before it was the
#: pooled backbone output (the guard's input) returned 256 pre-logits and are refused as stale.
FEATURES_KEY = "poxscreen.features"
FEATURES_KIND = "backbone_pool"
INPUT_NAME = "input"
OUTPUT_NAMES = ("logits", "features")
#: Inference threads. Decoding and hashing run on the other cores meanwhile; on the 2-core
#: development machine one inference thread beat two end to end (bench/README.md).
DEFAULT_THREADS_ENV = "POXSCREEN_INFERENCE_THREADS"


class OnnxUnavailable(Exception):
    """ONNX Runtime cannot screen with this model; ``reason`` says why (shown as a note)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def default_threads() -> int:
    """Inference threads: ``POXSCREEN_INFERENCE_THREADS``, else half the cores (at least 1)."""
    env = os.environ.get(DEFAULT_THREADS_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 2) // 2)


def _session(graph: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise OnnxUnavailable("onnxruntime is not installed") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # no busy-waiting between batches: the decode threads need those cycles
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for unreadable graphs
        raise OnnxUnavailable(f"graph {graph.name} could not be loaded ({exc})") from exc


def check_graph(session: Any, meta: ModelMeta, graph: Path) -> None:
    """Refuse a graph exported from other weights, or shaped for another class list/input."""
    props = session.get_modelmeta().custom_metadata_map
    if props.get(HASH_KEY) != meta.content_hash:
        raise OnnxUnavailable(f"graph {graph.name} was exported from other weights (stale)")
    outputs = [o.name for o in session.get_outputs()]
    if outputs != list(OUTPUT_NAMES):
        raise OnnxUnavailable(f"graph {graph.name} has outputs {outputs}, not {OUTPUT_NAMES}")
    if props.get(FEATURES_KEY) != FEATURES_KIND:
        raise OnnxUnavailable(f"graph {graph.name} predates pooled backbone features (stale)")
    shape = session.get_inputs()[0].shape
    size = int(meta.input_size)
    if list(shape[1:]) != [3, size, size]:
        raise OnnxUnavailable(f"graph {graph.name} takes input {shape}, not [B, 3, {size}, {size}]")
    if json.loads(props.get("poxscreen.classes", "null") or "null") != list(meta.classes):
        raise OnnxUnavailable(f"graph {graph.name} was exported for other classes")


class OnnxPredictor(BatchPredictor):
    """Same interface as :class:`engine.predictor.Predictor`, running the exported graph."""

    backend = "onnxruntime"

    def __init__(
        self,
        graph: str | os.PathLike[str],
        meta: ModelMeta,
        batch_size: int = 16,
        workers: int | None = None,
        threads: int | None = None,
        reason: str = "CPU",
        guard: ScopeGuard | None = None,
        quality_check: bool = True,
        keep_features: bool = False,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """``model_path``: the model file the graph must be tied to by its weights
        (engine.graph_binding); None only where the graph was just exported from them."""
        super().__init__(
            meta,
            batch_size=batch_size,
            workers=workers,
            guard=guard,
            quality_check=quality_check,
            keep_features=keep_features,
        )
        self.graph = Path(graph)
        if not self.graph.is_file():
            raise OnnxUnavailable(f"no ONNX graph for {meta.version} ({self.graph.name} missing)")
        self.threads = threads or default_threads()
        self.session = _session(self.graph, self.threads)
        check_graph(self.session, meta, self.graph)
        if model_path is not None:
            props = self.session.get_modelmeta().custom_metadata_map
            problem = binding_problem(self.graph, Path(model_path), meta, props.get(WEIGHTS_KEY))
            if problem:
                raise OnnxUnavailable(problem)
        dim = self.session.get_outputs()[1].shape[-1]
        if guard is not None and dim != guard.dim:
            raise OnnxUnavailable(
                f"graph {self.graph.name} returns {dim} features, the guard takes {guard.dim}"
            )
        self.device = "cpu"
        self.choice = DeviceChoice("cpu", f"{reason}; ONNX Runtime, {self.threads} thread(s)")

    @classmethod
    def from_model_file(
        cls, model_path: str | os.PathLike[str], meta: ModelMeta | None = None, **kwargs: Any
    ) -> OnnxPredictor:
        """The predictor for a model file's graph and guard (both read without torch).

        Raises :class:`engine.modelmeta.ModelFileError` when the file cannot be read; damaged
        guard statistics disable the guard with a warning (engine.guard.usable_guard).
        """
        meta = meta or read_meta(model_path)
        if "guard" not in kwargs:
            kwargs["guard"] = _file_guard(Path(model_path))
        graph = graph_path(model_path, meta.content_hash)
        if not graph.is_file():  # e.g. a store's copy of the shipped default made before graphs
            from engine.paths import default_model_path

            shipped = graph_path(default_model_path(), meta.content_hash)
            graph = shipped if shipped.is_file() else graph
        return cls(graph, meta, model_path=model_path, **kwargs)

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        try:
            logits, feats = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        except Exception as exc:  # ORT's exceptions do not derive from RuntimeError
            raise RuntimeError(f"ONNX Runtime: {exc}") from exc
        return logits, feats


def _file_guard(path: Path) -> ScopeGuard | None:
    """The model file's guard (None: it has none), its problems named with the file."""
    from safetensors import SafetensorError

    from engine.guard import read_guard_tensors, usable_guard

    try:
        tensors = read_guard_tensors(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, f"out-of-scope statistics unreadable ({exc})") from exc
    return usable_guard(tensors, path)
