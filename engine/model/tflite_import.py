"""Convert the TFLite ImageNet MobileNetV2 into a stock torchvision ``mobilenet_v2`` state dict.

torchvision's pretrained weights are downloaded on first use, which offline clinic machines
cannot do; the google-coral TFLite model (Apache-2.0) is converted once at development time and
the result is committed under ``resources/imagenet``. The converted network needs TF "SAME"
padding (``set_padding_mode(features, "tf")``) and inputs scaled to [-1, 1] (mean = std = 0.5).

This is a development tool: ``ai_edge_litert`` (a dev dependency) is imported lazily, never at
engine import time. Usage::

    python -m engine.model.tflite_import TFLITE OUT.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.model.imagenet import FORMAT, METADATA_KEY
from engine.model.imagenet import NUM_CLASSES as IMAGENET_CLASSES

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
LABELS_FILE = "imagenet_labels.txt"


class TFLiteImportError(Exception):
    """A TFLite file that cannot be converted, with the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class TFLiteLayer:
    """One convolution or dense op of the TFLite graph, dequantized to float32 (TFLite layout)."""

    op: str
    weight: np.ndarray
    bias: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def open_interpreter(
    path: str | os.PathLike[str], preserve_all_tensors: bool = False, delegates: bool = False
) -> Any:
    """An allocated ``ai_edge_litert`` interpreter for ``path`` (typed error when unreadable).

    ``delegates=False`` uses the builtin kernels only, so every op stays listed (conversion);
    ``delegates=True`` is the interpreter a TFLite user gets by default (XNNPACK on CPU).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError as exc:  # pragma: no cover - depends on the dev environment
        raise TFLiteImportError(
            path,
            "ai_edge_litert is not installed (pip install ai-edge-litert; it is a dev dependency)",
        ) from exc
    if not Path(path).is_file():
        raise TFLiteImportError(path, "file not found")
    try:
        resolver = (
            OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        with warnings.catch_warnings():
            # preserve_all_tensors is wanted here (logits read from an intermediate tensor)
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
            interp = Interpreter(
                model_path=str(path),
                experimental_op_resolver_type=resolver,
                experimental_preserve_all_tensors=preserve_all_tensors,
            )
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise TFLiteImportError(path, f"not a readable TFLite model: {exc}") from exc
    return interp


def _dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """w = scale * (q - zero_point), per channel along ``quantized_dimension`` when a vector."""
    if values.dtype.kind == "f":
        return values.astype(np.float32)
    q = detail["quantization_parameters"]
    scales = np.asarray(q["scales"], dtype=np.float64)
    zeros = np.asarray(q["zero_points"], dtype=np.float64)
    if scales.size == 0:
        raise ValueError(f"tensor {detail['name']!r} is integer but has no quantization scales")
    if scales.size > 1:
        shape = [1] * values.ndim
        shape[q["quantized_dimension"]] = scales.size
        scales, zeros = scales.reshape(shape), zeros.reshape(shape)
    return (scales * (values.astype(np.float64) - zeros)).astype(np.float32)


def read_tflite_layers(path: str | os.PathLike[str]) -> list[TFLiteLayer]:
    """Every conv/depthwise/dense op in execution order, with float weights and biases.

    int32 biases must carry scale = input_scale * weight_scale; that is checked, not assumed.
    """
    interp = open_interpreter(path)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    layers = []
    for op in interp._get_ops_details():  # the only API listing ops with their tensor indices
        if op["op_name"] not in CONV_OPS:
            continue
        if len(op["inputs"]) < 3 or op["inputs"][2] < 0:
            raise TFLiteImportError(path, f"op {op['index']} ({op['op_name']}) has no bias")
        x_idx, w_idx, b_idx = (int(i) for i in op["inputs"][:3])
        w_det, b_det, x_det = details[w_idx], details[b_idx], details[x_idx]
        try:
            weight = _dequantize(interp.get_tensor(w_idx), w_det)
            bias = _dequantize(interp.get_tensor(b_idx), b_det)
        except ValueError as exc:
            raise TFLiteImportError(path, str(exc)) from exc
        b_scales = b_det["quantization_parameters"]["scales"]
        x_scales = x_det["quantization_parameters"]["scales"]
        if b_det["dtype"] == np.int32 and len(b_scales) and len(x_scales):
            expected = x_scales[0] * np.asarray(
                w_det["quantization_parameters"]["scales"], dtype=np.float64
            )
            if not np.allclose(b_scales, expected, rtol=1e-3):
                raise TFLiteImportError(
                    path, f"bias scale of {w_det['name']!r} is not input_scale * weight_scale"
                )
        layers.append(
            TFLiteLayer(
                op["op_name"],
                weight,
                bias,
                tuple(int(s) for s in x_det["shape"]),
                tuple(int(s) for s in details[int(op["outputs"][0])]["shape"]),
            )
        )
    return layers


def _conv_bn_pairs(features: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Each convolution of torchvision's ``features`` with the BatchNorm that follows it."""
    pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d]] = []
    pending: nn.Conv2d | None = None
    for module in features.modules():
        if isinstance(module, nn.Conv2d):
            if pending is not None:
                raise ValueError("two convolutions without a BatchNorm between them")
            pending = module
        elif isinstance(module, nn.BatchNorm2d):
            if pending is None or pending.out_channels != module.num_features:
                raise ValueError("BatchNorm without a matching convolution")
            pairs.append((pending, module))
            pending = None
    return pairs


def _torch_weight(layer: TFLiteLayer) -> np.ndarray:
    """TFLite OHWI (conv) / 1HWC (depthwise) -> PyTorch OIHW / C1HW."""
    if layer.op == "DEPTHWISE_CONV_2D":
        return layer.weight.transpose(3, 0, 1, 2)
    if layer.op == "CONV_2D":
        return layer.weight.transpose(0, 3, 1, 2)
    return layer.weight[:, :, None, None]  # FULLY_CONNECTED (O, I)


def _check_stride(layer: TFLiteLayer, conv: nn.Conv2d, name: str) -> None:
    """The TFLite op's spatial reduction must equal the PyTorch conv's stride."""
    in_h, out_h = layer.in_shape[1], layer.out_shape[1]
    if out_h != -(-in_h // conv.stride[0]):  # SAME padding: out = ceil(in / stride)
        raise ValueError(f"{name}: TFLite maps {in_h} -> {out_h}, torch stride is {conv.stride}")


def convert_layers(layers: Sequence[TFLiteLayer]) -> dict[str, torch.Tensor]:
    """Map the TFLite layers onto a stock ``mobilenet_v2(num_classes=1000)`` by graph order.

    BatchNorm is already folded into each TFLite convolution, so each BN becomes the identity
    plus the folded bias (weight 1, running_mean 0, running_var 1 - eps). The 1001-way output
    loses row 0 ("background").
    """
    from engine.model.mobilenetv2 import mobilenet_v2

    model = mobilenet_v2(num_classes=IMAGENET_CLASSES)
    pairs = _conv_bn_pairs(model.features)
    if len(layers) != len(pairs) + 1:
        raise ValueError(
            f"TFLite graph has {len(layers)} conv/dense ops; torchvision "
            f"mobilenet_v2 needs {len(pairs)} convolutions + 1 classifier"
        )
    names = {id(m): n for n, m in model.named_modules()}
    with torch.no_grad():
        for layer, (conv, bn) in zip(layers[:-1], pairs, strict=True):
            name = names[id(conv)]
            weight = _torch_weight(layer)
            if conv.groups > 1 and layer.op != "DEPTHWISE_CONV_2D":
                raise ValueError(f"{name} is depthwise but TFLite op is {layer.op}")
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise ValueError(
                    f"{name}: TFLite weight {weight.shape} != torch {tuple(conv.weight.shape)}"
                )
            if len(layer.in_shape) == 4:
                _check_stride(layer, conv, name)
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(layer.bias))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        head = layers[-1]
        fc: nn.Linear = model.classifier[1]  # type: ignore[assignment]
        w = head.weight.reshape(head.weight.shape[0], -1)
        if w.shape[0] != IMAGENET_CLASSES + 1 or w.shape[1] != fc.in_features:
            raise ValueError(
                f"classifier: TFLite weight {w.shape}, expected "
                f"({IMAGENET_CLASSES + 1}, {fc.in_features})"
            )
        fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(w[1:])))
        fc.bias.copy_(torch.from_numpy(head.bias[1:]))
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def convert_tflite(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The torchvision ``mobilenet_v2`` state dict (fp32, 1000 classes) for a TFLite file."""
    layers = read_tflite_layers(path)
    try:
        return convert_layers(layers)
    except ValueError as exc:
        raise TFLiteImportError(path, f"does not match torchvision mobilenet_v2: {exc}") from exc


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a (large) file, read in 1 MiB chunks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def conversion_metadata(tflite: str | os.PathLike[str]) -> dict[str, Any]:
    """What travels with the converted weights: provenance, licence and preprocessing."""
    return {
        "format": FORMAT,
        "architecture": "torchvision.mobilenet_v2",
        "num_classes": IMAGENET_CLASSES,
        "source_file": Path(tflite).name,
        "source_sha256": file_sha256(tflite),
        "source": "google-coral/test_data TFLite model, dequantized to float32",
        "license": "Apache-2.0",
        "padding": "tf",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "input_size": 224,
        "labels": LABELS_FILE,
        "converter": "engine.model.tflite_import",
    }


def save_converted(tflite: str | os.PathLike[str], out: str | os.PathLike[str]) -> dict[str, Any]:
    """Convert ``tflite`` and write ``out`` (safetensors + JSON metadata); returns the metadata."""
    from safetensors.torch import save_file

    state = convert_tflite(tflite)
    meta = conversion_metadata(tflite)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out), metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m engine.model.tflite_import TFLITE OUT``: convert once, offline."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.model.tflite_import",
        description="Convert a TFLite ImageNet MobileNetV2 to a torchvision state dict.",
    )
    parser.add_argument("tflite", type=Path, help="the .tflite file")
    parser.add_argument("out", type=Path, help="where to write the .safetensors file")
    args = parser.parse_args(argv)
    try:
        meta = save_converted(args.tflite, args.out)
    except TFLiteImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} from {meta['source_file']} (sha256 {meta['source_sha256'][:12]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
