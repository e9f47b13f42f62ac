"""The committed ImageNet MobileNetV2 (converted from TFLite): classifier and backbone weights.

The weights live in ``resources/imagenet`` so a new model can start from ImageNet features
without any download. They need TF padding and mean = std = 0.5, which the file's metadata says.
Only safetensors is read (never pickle).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from engine.model.backbone import set_padding_mode
from engine.paths import resources_dir

WEIGHTS_FILE = "mobilenet_v2_imagenet.safetensors"
METADATA_KEY = "poxscreen"
FORMAT = "poxscreen-imagenet-weights"
NUM_CLASSES = 1000


class ImageNetWeightsError(Exception):
    """The ImageNet weights file is missing or unusable, with the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def imagenet_dir() -> Path:
    """``resources/imagenet``: weights, labels, licence and notice."""
    return resources_dir() / "imagenet"


def imagenet_weights_path() -> Path:
    """Where the ImageNet backbone file lives (resources), loaded or not."""
    return imagenet_dir() / WEIGHTS_FILE


def read_imagenet_file(
    path: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and metadata (with ``labels`` read into a list) of an ImageNet file."""
    path = Path(path) if path is not None else imagenet_weights_path()
    if not path.is_file():
        raise ImageNetWeightsError(path, "file not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(METADATA_KEY)
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ImageNetWeightsError(path, f"not a readable safetensors file: {exc}") from exc
    if raw is None:
        raise ImageNetWeightsError(path, f"no {METADATA_KEY!r} metadata")
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImageNetWeightsError(path, f"metadata is not JSON: {exc}") from exc
    if info.get("format") != FORMAT:
        raise ImageNetWeightsError(path, f"unknown format {info.get('format')!r}")
    labels_path = path.parent / str(info.get("labels", ""))
    try:
        labels = labels_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ImageNetWeightsError(labels_path, f"labels file unreadable: {exc}") from exc
    if len(labels) != NUM_CLASSES:
        raise ImageNetWeightsError(labels_path, f"{len(labels)} labels, expected {NUM_CLASSES}")
    info["labels"] = labels
    info["labels_file"] = str(labels_path)
    return state, info


def load_imagenet_classifier(
    path: str | os.PathLike[str] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """torchvision ``mobilenet_v2`` (1000 classes, eval, padding from the file) and its info.

    ``info`` has ``mean``, ``std``, ``input_size``, ``padding``, ``labels`` (1000 names) and the
    provenance (``source_file``, ``source_sha256``, ``license``).
    """
    from engine.model.mobilenetv2 import mobilenet_v2

    state, info = read_imagenet_file(path)
    model = mobilenet_v2(num_classes=NUM_CLASSES)
    try:
        model.load_state_dict(state, strict=True)
        set_padding_mode(model.features, info.get("padding", "tf"))
    except (RuntimeError, ValueError) as exc:
        raise ImageNetWeightsError(path or imagenet_weights_path(), str(exc)) from exc
    return model.eval(), info


def imagenet_feature_state(path: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """Only the ``features.*`` tensors: the backbone of MobileNetV2-MSCA-PFR (TF padding)."""
    state, _ = read_imagenet_file(path)
    return {k: v for k, v in state.items() if k.startswith("features.")}
