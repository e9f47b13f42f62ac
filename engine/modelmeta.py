"""A model file's metadata, read without torch: the screening path must not import it.

A ``.safetensors`` file starts with an 8-byte little-endian header length and a JSON header
(tensor names, dtypes, shapes, byte offsets, and a string ``__metadata__`` map), so the header is
plain JSON; PoxScreen's metadata is one JSON string in that map under ``poxscreen``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FORMAT = "poxscreen-model"
FORMAT_VERSION = 1
METADATA_KEY = "poxscreen"
ARCHITECTURE = "mobilenetv2_msca_pfr"
PADDING_MODES: tuple[str, ...] = ("symmetric", "tf")
DEFAULT_CLASSES = ("Chickenpox", "Measles", "Monkeypox", "Normal")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_MEAN = (0.5, 0.5, 0.5)
TF_STD = (0.5, 0.5, 0.5)

#: safetensors caps its JSON header at 100 MB; anything larger is not a model file.
_MAX_HEADER = 100 * 1024 * 1024


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
    guard: dict[str, Any] = field(default_factory=dict)  # how the out-of-scope guard was fitted
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


def graph_path(model_path: str | os.PathLike[str], content_hash: str) -> Path:
    """Where the ONNX graph of the model in ``model_path`` lives: beside it, keyed by its hash.
    Here, with the model file's layout, so the case store can copy a graph with its model
    without importing inference code."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}.{content_hash[:16]}.onnx")


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked against the file size (truncation)."""
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise ValueError("file shorter than a safetensors header")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(_MAX_HEADER, size - 8):
                raise ValueError(f"header length {length} does not fit the file ({size} bytes)")
            header = json.loads(fh.read(length))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"not a safetensors file: {exc}") from exc
    if not isinstance(header, dict):
        raise ValueError("not a safetensors file: header is not a JSON object")
    ends = [
        int(t["data_offsets"][1])
        for k, t in header.items()
        if k != "__metadata__" and isinstance(t, dict) and "data_offsets" in t
    ]
    if 8 + length + max(ends, default=0) > size:
        raise ValueError(f"truncated: tensor data ends past the end of the file ({size} bytes)")
    return header


#: safetensors dtype codes as torch names them: the weights hash (engine.checkpoint) hashes
#: ``name|torch.float32|(shape)|`` before each tensor's bytes.
_TORCH_DTYPES = {
    "F64": "torch.float64",
    "F32": "torch.float32",
    "F16": "torch.float16",
    "BF16": "torch.bfloat16",
    "I64": "torch.int64",
    "I32": "torch.int32",
    "I16": "torch.int16",
    "I8": "torch.int8",
    "U8": "torch.uint8",
    "BOOL": "torch.bool",
}


def tensor_bytes(path: str | os.PathLike[str]) -> Iterator[tuple[str, str, tuple[int, ...], bytes]]:
    """``(name, torch dtype name, shape, raw bytes)`` of each tensor in a model file, in name
    order, read from the file (no torch). Raises :class:`ModelFileError` when unreadable."""
    path = Path(path)
    try:
        header = read_safetensors_header(path)
        with path.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            for name in sorted(k for k in header if k != "__metadata__"):
                info = header[name]
                start, end = (int(v) for v in info["data_offsets"])
                fh.seek(8 + length + start)
                data = fh.read(end - start)
                if len(data) != end - start:
                    raise ValueError(f"tensor {name} is truncated")
                yield name, _TORCH_DTYPES[info["dtype"]], tuple(info["shape"]), data
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(path, f"tensor data unreadable ({exc})") from exc


def file_weights_hash(path: str | os.PathLike[str]) -> str:
    """The weights hash of the tensors in a model file, computed from their bytes (no torch):
    the same value as ``engine.checkpoint.state_dict_hash`` over the loaded tensors. The
    header's ``weights_hash`` is only a claim; this is what the file holds."""
    digest = hashlib.sha256()
    for name, dtype, shape, data in tensor_bytes(path):
        digest.update(f"{name}|{dtype}|{shape}|".encode())
        digest.update(data)
    return digest.hexdigest()


def verify_weights(path: str | os.PathLike[str], meta: ModelMeta | None = None) -> ModelMeta:
    """The file's metadata, after checking that its tensors are the ones it was saved with
    (recomputed from the bytes); raises :class:`ModelFileError` naming the file otherwise."""
    meta = meta or read_meta(path)
    if not meta.weights_hash:
        raise ModelFileError(path, "the model file records no weights hash")
    if file_weights_hash(path) != meta.weights_hash:
        raise ModelFileError(
            path,
            "its weights do not match the hash recorded in its metadata "
            "(the tensors are corrupted or were replaced)",
        )
    return meta


def read_meta(path: str | os.PathLike[str]) -> ModelMeta:
    """Read and validate only the metadata (cheap: the header, not the tensors; no torch)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "file not found")
    if path.is_dir():
        raise ModelFileError(path, "is a directory, not a model file")
    if path.stat().st_size == 0:
        raise ModelFileError(path, "file is empty (0 bytes)")
    try:
        header = read_safetensors_header(path)
    except (OSError, ValueError) as exc:
        raise ModelFileError(path, f"not a readable safetensors model file ({exc})") from exc
    raw = (header.get("__metadata__") or {}).get(METADATA_KEY)
    if raw is None:
        raise ModelFileError(
            path, "safetensors file without PoxScreen metadata (not a PoxScreen model)"
        )
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("metadata is not a JSON object")
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
