"""Ties an ONNX screening graph to the model file it runs for, by the weights themselves.

A graph's own metadata (the content hash it claims) is only a claim: a graph exported from
another model, with that metadata edited, would otherwise run silently. So before a graph is
used, the model file's weights hash is recomputed from its bytes and compared with the hash the
graph recorded at export, and the model's classifier tensors (the layers every fine-tuning
changes) must lie in the graph byte for byte: the exporter keeps them verbatim as initializers,
so a graph from other weights cannot hold them. Torch-free, like the rest of the ONNX path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from engine.modelmeta import ModelFileError, ModelMeta, tensor_bytes

#: Graph metadata key: the weights hash (engine.checkpoint.state_dict_hash) of the model file
#: the graph was exported from.
WEIGHTS_KEY = "poxscreen.weights_sha256"
#: The tensors that must appear verbatim in the graph: the classifier head.
BOUND_PREFIX = "classifier."


def binding_problem(
    graph: Path, model_path: Path, meta: ModelMeta, recorded: str | None
) -> str | None:
    """Why ``graph`` must not screen for the model file at ``model_path`` (None: it may).
    ``recorded``: the weights hash the graph's metadata names (graphs exported before it was
    recorded have none; the classifier check still binds them)."""
    digest, head = hashlib.sha256(), {}
    try:
        for name, dtype, shape, data in tensor_bytes(model_path):  # one pass: hash and head
            digest.update(f"{name}|{dtype}|{shape}|".encode())
            digest.update(data)
            if name.startswith(BOUND_PREFIX):
                head[name] = data
    except ModelFileError as exc:
        return f"the model file cannot be read ({exc.reason})"
    weights = digest.hexdigest()  # engine.modelmeta.file_weights_hash, computed on the way
    if meta.weights_hash and weights != meta.weights_hash:
        return "the model file's weights do not match its metadata (corrupted or replaced)"
    if recorded is not None and recorded != weights:
        return f"graph {graph.name} was exported from other weights (stale)"
    if not head:
        return f"the model file has no {BOUND_PREFIX}* tensors to tie graph {graph.name} to"
    try:
        data = graph.read_bytes()
    except OSError as exc:
        return f"graph {graph.name} cannot be read ({exc})"
    differs = sorted(name for name, raw in head.items() if raw not in data)
    if differs:
        return (
            f"graph {graph.name} does not hold this model's weights ({differs[0]} differs): "
            "it was exported from another model"
        )
    return None
