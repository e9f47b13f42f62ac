"""The one model-file format: safetensors tensors plus a JSON metadata block.

Config travels with the weights (classes, preprocessing, padding mode, lineage, metrics,
calibration), so a model file alone is enough to screen. Nothing is ever unpickled from a file a
user picked; the authors' plain ``.pth`` state dicts are read with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.atomic import atomic_path
from engine.model import ARCHITECTURE, PADDING_MODES, MobileNetV2MSCAPFR

FORMAT = "poxscreen-model"
FORMAT_VERSION = 1
METADATA_KEY = "poxscreen"
DEFAULT_CLASSES = ("Chickenpox", "Measles", "Monkeypox", "Normal")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_MEAN = (0.5, 0.5, 0.5)
TF_STD = (0.5, 0.5, 0.5)


class ModelFileError(Exception):
    """A model file that cannot be used, with the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelMeta:
    """Everything needed to use and trace a model, stored inside its file."""

    classes: list[str] = field(default_factory=lambda: list(DEFAULT_CLASSES))
    architecture: str = ARCHITECTURE
    input_size: int = 224
    mean: list[float] = field(default_factory=lambda: list(TF_MEAN))
    std: list[float] = field(default_factory=lambda: list(TF_STD))
    padding: str = "tf"
    name: str = "model"
    created_at: str = field(default_factory=_now)
    parent: str | None = None
    trained: bool = False
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    temperature: float = 1.0
    description: str = ""
    content_hash: str = ""
    format_version: int = FORMAT_VERSION
    weights_hash: str = ""

    @property
    def version(self) -> str:
        """Short, human-readable model version: name plus the first 12 hex digits of the hash."""
        return f"{self.name}@{self.content_hash[:12]}" if self.content_hash else self.name

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **dataclasses.asdict(self)}, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMeta:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that makes no sense."""
        if self.architecture != ARCHITECTURE:
            raise ValueError(
                f"unsupported architecture {self.architecture!r} (expected {ARCHITECTURE!r})"
            )
        if self.format_version > FORMAT_VERSION:
            raise ValueError(
                f"format version {self.format_version} is newer than this app supports ({FORMAT_VERSION})"
            )
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be at least two distinct names, got {self.classes!r}")
        if not all(isinstance(c, str) and c for c in self.classes):
            raise ValueError("class names must be non-empty strings")
        if self.padding not in PADDING_MODES:
            raise ValueError(f"unknown padding mode {self.padding!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need three values each, std > 0")
        if not 32 <= int(self.input_size) <= 1024:
            raise ValueError(f"input size {self.input_size} out of range")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


#: Metadata that changes a model's outputs: part of its identity (``content_hash``), so two files
#: with the same weights but another padding, normalisation, temperature, class order or input
#: size are two models (two registry rows, two resume states), never one.
OUTPUT_FIELDS = ("architecture", "classes", "input_size", "mean", "std", "padding", "temperature")


def identity_hash(weights_hash: str, meta: ModelMeta) -> str:
    """SHA-256 of the weights hash and the output-changing metadata: the model's identity."""
    fields = {name: getattr(meta, name) for name in OUTPUT_FIELDS}
    fields["input_size"] = int(fields["input_size"])
    fields["temperature"] = float(fields["temperature"])
    fields["mean"] = [float(v) for v in fields["mean"]]
    fields["std"] = [float(v) for v in fields["std"]]
    text = json.dumps({"weights": weights_hash, **fields}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


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


def save_model(path: str | os.PathLike[str], model: torch.nn.Module, meta: ModelMeta) -> ModelMeta:
    """Write ``model`` and ``meta`` atomically (temp file + rename); return the stored metadata."""
    path = Path(path)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    meta = stamp_hashes(meta, state)
    meta.validate()
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={METADATA_KEY: meta.to_json()})
    return meta


def read_meta(path: str | os.PathLike[str]) -> ModelMeta:
    """Read and validate only the metadata (cheap: the header, not the tensors)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "file not found")
    if path.is_dir():
        raise ModelFileError(path, "is a directory, not a model file")
    if path.stat().st_size == 0:
        raise ModelFileError(path, "file is empty (0 bytes)")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, f"not a readable safetensors model file ({exc})") from exc
    if raw is None:
        raise ModelFileError(
            path, "safetensors file without PoxScreen metadata (not a PoxScreen model)"
        )
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        meta = ModelMeta.from_dict(data)
        meta.validate()
    except (ValueError, TypeError) as exc:
        raise ModelFileError(path, f"invalid metadata: {exc}") from exc
    return _checked_identity(path, meta)


def _checked_identity(path: Path, meta: ModelMeta) -> ModelMeta:
    """Files written before identities covered metadata stored the weights' hash as the content
    hash: upgrade them in memory. Newer files must carry a consistent identity: an edited
    temperature or class order in the header would otherwise pass as the same model."""
    if not meta.content_hash:
        return meta
    if not meta.weights_hash:
        meta = dataclasses.replace(meta, weights_hash=meta.content_hash)
        return dataclasses.replace(meta, content_hash=identity_hash(meta.weights_hash, meta))
    if identity_hash(meta.weights_hash, meta) != meta.content_hash:
        raise ModelFileError(
            path, "metadata was modified after saving (its identity hash does not match)"
        )
    return meta


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    expected_classes: list[str] | None = None,
    verify_hash: bool = True,
) -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """Load a model file, validating metadata, tensor names/shapes and the content hash."""
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
    model = build_model(meta)
    _load_state_checked(model, state, path, meta.classes)
    return model.to(device).eval(), meta


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
