"""Fast ONNX graphs for fine-tuned models: the parent's graph structure with the new weights.

Why: a fine-tune changes weights, never the graph's structure, yet a full ``torch.onnx.export``
traces and translates the whole network again (10-27 s on 2 CPU cores). So every full export
also keeps a *template*: the exporter's graph before optimisation, whose initializers are
exactly the state-dict tensors by name, stored with those tensors emptied (a few hundred KB).
A model with the same structure (architecture, padding, input size, tensor names, shapes and
dtypes: the key) is then exported by filling the template with its weights and running the
exporter's own optimiser (which folds batch norms into convolutions, hence the unoptimised
template: the optimised graph's folded tensors have no one-to-one state-dict source). The
caller verifies the result against PyTorch as for a full export and falls back to one on any
failure.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from engine.atomic import atomic_path
from engine.checkpoint import ModelMeta

#: Bump when the exported wrapper's forward changes (same tensors, different graph).
TEMPLATE_FORMAT = 1
TEMPLATE_KEY = "poxscreen.template_key"
FILLED_KEY = "poxscreen.template_weights"
#: The wrapper's attribute holding the network: initializer names are ``model.<state key>``.
PREFIX = "model."


class TemplateMismatch(Exception):
    """The template cannot make this model's graph; a full export is needed."""


def structure_key(state: dict[str, torch.Tensor], meta: ModelMeta, opset: int) -> str:
    """16 hex digits naming everything that shapes the graph, and nothing that is a weight."""
    schema = [(k, list(v.shape), str(v.dtype)) for k, v in sorted(state.items())]
    what = [TEMPLATE_FORMAT, opset, meta.architecture, meta.padding, int(meta.input_size), schema]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]


def template_path(folder: Path, key: str) -> Path:
    """Where the template for structure ``key`` lives in ``folder``."""
    return folder / f"graph-template.{key}.onnx.template"


def find_template(key: str, folders: Iterable[Path]) -> Path | None:
    """The first template for ``key`` in ``folders`` (the model's own folder, the shipped one)."""
    for folder in folders:
        path = template_path(folder, key)
        if path.is_file():
            return path
    return None


def write_template(unoptimised: onnx.ModelProto, key: str, folder: Path) -> Path | None:
    """Keep ``unoptimised``'s structure with its state-dict tensors emptied; None if unwritable."""
    proto = onnx.ModelProto()
    proto.CopyFrom(unoptimised)
    filled = []
    for init in proto.graph.initializer:
        if init.name.startswith(PREFIX):
            for name in ("raw_data", "float_data", "int64_data", "int32_data", "double_data"):
                init.ClearField(name)
            filled.append(init.name)
    for node in proto.graph.node:  # the exporter's per-node provenance: 90% of the bytes
        del node.metadata_props[:]
        node.ClearField("doc_string")
    del proto.metadata_props[:]
    for k, v in ((TEMPLATE_KEY, key), (FILLED_KEY, json.dumps(filled))):
        proto.metadata_props.add(key=k, value=v)
    path = template_path(folder, key)
    try:
        with atomic_path(path) as tmp:
            onnx.save(proto, str(tmp))
            os.chmod(tmp, 0o644)
    except OSError:
        return None  # a read-only folder (the bundle): the next export is a full one, no harm
    return path


def fill_template(template: Path, key: str, state: dict[str, torch.Tensor]) -> Any:
    """The template filled with ``state`` and optimised like a full export: an ``onnx_ir`` model.

    Raises :class:`TemplateMismatch` when any tensor's name, shape or dtype does not fit.
    """
    from onnx import numpy_helper
    from torch.onnx._internal._lazy_import import onnx_ir as ir
    from torch.onnx._internal._lazy_import import onnxscript_apis

    try:
        proto = onnx.load(str(template))
    except Exception as exc:  # protobuf and OSError alike: an unusable template
        raise TemplateMismatch(f"template {template.name} cannot be read ({exc})") from exc
    props = {p.key: p.value for p in proto.metadata_props}
    if props.get(TEMPLATE_KEY) != key:
        raise TemplateMismatch(f"template {template.name} is for another structure")
    wanted = set(json.loads(props.get(FILLED_KEY, "[]")))
    for init in proto.graph.initializer:
        if init.name not in wanted:
            continue
        tensor = state.get(init.name[len(PREFIX) :])
        if tensor is None:
            raise TemplateMismatch(f"no weights for {init.name}")
        array = np.ascontiguousarray(tensor.detach().cpu().numpy())
        filled = numpy_helper.from_array(array, init.name)
        if list(filled.dims) != list(init.dims) or filled.data_type != init.data_type:
            raise TemplateMismatch(f"{init.name} has another shape or type")
        init.CopyFrom(filled)
        wanted.discard(init.name)
    if wanted:
        raise TemplateMismatch(f"template lacks {sorted(wanted)[0]}")
    del proto.metadata_props[:]
    return onnxscript_apis.optimize(ir.serde.deserialize_model(proto))


def save_ir(model: Any, metadata: dict[str, str], out: Path) -> None:
    """Write an ``onnx_ir`` model with ``metadata`` to ``out`` (not atomic: the caller is)."""
    from torch.onnx._internal._lazy_import import onnx_ir as ir

    model.metadata_props.update(metadata)
    onnx.save(ir.serde.serialize_model(model), str(out))
