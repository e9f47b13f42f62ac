"""The one model-file format: safetensors tensors plus a JSON metadata block.

Config travels with the weights (classes, preprocessing, padding mode, lineage, metrics,
calibration), so a model file alone is enough to screen. Nothing is ever unpickled from a file a
user picked; the authors' plain ``.pth`` state dicts are read with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.atomic import atomic_path
from engine.guard import ScopeGuard, split_guard_tensors, usable_guard
from engine.model import MobileNetV2MSCAPFR
from engine.modelmeta import (  # noqa: F401 (re-exported: the model-file API lives here)
    DEFAULT_CLASSES,
    FORMAT,
    FORMAT_VERSION,
    IMAGENET_MEAN,
    IMAGENET_STD,
    METADATA_KEY,
    OUTPUT_FIELDS,
    TF_MEAN,
    TF_STD,
    ModelFileError,
    ModelMeta,
    identity_hash,
    read_meta,
)


def stamp_hashes(meta: ModelMeta, state: dict[str, torch.Tensor]) -> ModelMeta:
    """``meta`` with ``weights_hash`` and ``content_hash`` computed for ``state``."""
    weights = state_dict_hash(state)
    meta = dataclasses.replace(meta, weights_hash=weights)
    return dataclasses.replace(meta, content_hash=identity_hash(weights, meta))


def state_dict_hash(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes, in name order: the weights' hash."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build_model(meta: ModelMeta) -> MobileNetV2MSCAPFR:
    """An untrained network shaped by ``meta`` (class count, padding mode)."""
    return MobileNetV2MSCAPFR(num_classes=len(meta.classes), padding=meta.padding)  # type: ignore[arg-type]


def save_model(
    path: str | os.PathLike[str],
    model: torch.nn.Module,
    meta: ModelMeta,
    guard: ScopeGuard | None = None,
) -> ModelMeta:
    """Write ``model`` and ``meta`` atomically (temp file + rename); return the stored metadata.

    ``guard``'s statistics are stored beside the weights and count in the content hash (they
    change what every prediction says); without one, ``meta.guard`` is cleared.
    """
    path = Path(path)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    if guard is not None:  # all tensors in the file count in the weights hash
        guard.validate()
        state.update({k: torch.from_numpy(v) for k, v in guard.to_arrays().items()})
        guard_info = {**meta.guard, **guard.summary()}
    else:  # only a reason why there is none survives (the fitted facts would be stale)
        guard_info = {k: v for k, v in meta.guard.items() if k == "unavailable"}
    meta = stamp_hashes(dataclasses.replace(meta, guard=guard_info), state)
    meta.validate()
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={METADATA_KEY: meta.to_json()})
    return meta


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    expected_classes: list[str] | None = None,
    verify_hash: bool = True,
) -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """Load a model file, validating metadata, tensor names/shapes and the content hash."""
    model, meta, _ = load_model_and_guard(path, device, expected_classes, verify_hash)
    return model, meta


def load_model_and_guard(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    expected_classes: list[str] | None = None,
    verify_hash: bool = True,
) -> tuple[MobileNetV2MSCAPFR, ModelMeta, ScopeGuard | None]:
    """Like :func:`load_model`, plus the out-of-scope guard (None: the file has none, or its
    statistics are damaged: then it is disabled with a warning, see engine.guard.usable_guard)."""
    path = Path(path)
    meta = read_meta(path)
    if expected_classes is not None and list(expected_classes) != list(meta.classes):
        raise ModelFileError(
            path, f"class mismatch: file has {meta.classes}, expected {list(expected_classes)}"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"truncated or corrupted tensor data ({exc})") from exc
    if verify_hash and meta.weights_hash and state_dict_hash(state) != meta.weights_hash:
        raise ModelFileError(
            path, "content hash mismatch: the weights are corrupted or were modified"
        )
    state, guard_tensors = split_guard_tensors(state)
    guard = usable_guard(guard_tensors, path)
    model = build_model(meta)
    _load_state_checked(model, state, path, meta.classes)
    return model.to(device).eval(), meta, guard


def _load_state_checked(
    model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, classes: list[str]
) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            path,
            f"wrong architecture: {len(missing)} missing tensors (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})",
        )
    head = "classifier.2.weight"
    if state[head].shape[0] != len(classes):
        raise ModelFileError(
            path,
            f"mismatched classes: metadata lists {len(classes)} classes, "
            f"the classifier has {state[head].shape[0]} outputs",
        )
    for name, tensor in expected.items():
        if state[name].shape != tensor.shape:
            raise ModelFileError(
                path,
                f"wrong architecture: {name} has shape "
                f"{tuple(state[name].shape)}, expected {tuple(tensor.shape)}",
            )
    model.load_state_dict(state, strict=True)


def _check_pth(path: Path) -> None:
    """Plain-words reasons for files that cannot be a PyTorch state dict at all."""
    if not path.exists():
        raise ModelFileError(path, "file not found")
    if path.is_dir():
        raise ModelFileError(path, "is a directory, not a .pth file")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head:
        raise ModelFileError(path, "file is empty (0 bytes)")
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch zip, or legacy pickle
        return
    if b"\x00" in head:  # binary, but neither of torch's formats
        raise ModelFileError(path, "not a PyTorch state dict file (.pth): unrecognised content")
    raise ModelFileError(path, "not a PyTorch state dict file (.pth): it holds text")


def import_state_dict(
    path: str | os.PathLike[str],
    classes: list[str] | None = None,
    padding: str = "symmetric",
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    name: str | None = None,
) -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """Import the authors' plain PyTorch state dict (``.pth``) safely (``weights_only=True``).

    Their networks were trained with PyTorch's symmetric padding and ImageNet mean/std, hence the
    defaults. Accepts a bare state dict, ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers and
    ``module.`` prefixes from DataParallel.
    """
    path = Path(path)
    _check_pth(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad pickles; all mean "unusable"
        raise ModelFileError(
            path,
            "not a loadable PyTorch state dict: the file is damaged, or holds objects other "
            "than tensors (which are never loaded, for safety)",
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelFileError(path, "file does not hold a state dict of tensors")
    state = {k.removeprefix("module."): v for k, v in obj.items()}
    if "classifier.2.weight" not in state or "features.0.0.weight" not in state:
        raise ModelFileError(
            path,
            "wrong architecture: not a MobileNetV2-MSCA-PFR state dict "
            f"(keys such as {sorted(state)[:3]})",
        )
    n_out = state["classifier.2.weight"].shape[0]
    if classes is None and n_out != len(DEFAULT_CLASSES):
        raise ModelFileError(
            path,
            f"its classifier has {n_out} outputs, not the {len(DEFAULT_CLASSES)} PoxScreen "
            f"classes; give --classes with {n_out} names, in the order of its outputs",
        )
    classes = list(classes) if classes is not None else list(DEFAULT_CLASSES)
    meta = ModelMeta(
        classes=classes,
        padding=padding,
        mean=list(mean),
        std=list(std),
        name=name or path.stem,
        trained=True,
        description=f"imported from {path.name}",
    )
    try:
        meta.validate()
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from exc
    model = build_model(meta)
    _load_state_checked(model, state, path, classes)
    return model.eval(), stamp_hashes(meta, model.state_dict())
