"""Run the original TFLite ImageNet model next to the converted one, to check the conversion.

Development tool (tests and ``bench/``): ``ai_edge_litert`` is imported lazily. Both sides get
the same preprocessing: Pillow bilinear resize to 224, then x = pixel / 127.5 - 1 for PyTorch,
and the same float input quantized with the TFLite input tensor's own scale/zero point.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.model.tflite_import import TFLiteImportError, open_interpreter

INPUT_SIZE = 224


def load_pixels(path: str | os.PathLike[str], size: int = INPUT_SIZE) -> np.ndarray:
    """RGB uint8 pixels (size x size x 3), Pillow bilinear resize of the whole image."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def pixels_to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> the [-1, 1] floats both models expect (mean = std = 0.5 on [0, 1])."""
    return pixels.astype(np.float32) / 127.5 - 1.0


def pixels_to_tensor(pixels: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """(N x) H x W x 3 uint8 pixels -> N x 3 x H x W float tensor for the PyTorch model."""
    arr = np.asarray(pixels)
    if arr.ndim == 3:
        arr = arr[None]
    return torch.from_numpy(pixels_to_float(arr)).permute(0, 3, 1, 2).contiguous()


class TFLiteClassifier:
    """The TFLite model, returning dequantized pre-softmax logits for the 1000 ImageNet classes.

    The graph's output is a uint8 softmax (steps of 1/256, many ties); the logits are read from
    the SOFTMAX op's input, which needs ``experimental_preserve_all_tensors``.
    """

    def __init__(self, path: str | os.PathLike[str], delegates: bool = True) -> None:
        """``delegates``: the default TFLite interpreter (XNNPACK); False: builtin kernels."""
        self.path = Path(path)
        self.interp = open_interpreter(path, preserve_all_tensors=True, delegates=delegates)
        self.input = self.interp.get_input_details()[0]
        softmax = [op for op in self.interp._get_ops_details() if op["op_name"] == "SOFTMAX"]
        if len(softmax) != 1:
            raise TFLiteImportError(path, "expected exactly one SOFTMAX op")
        details = {d["index"]: d for d in self.interp.get_tensor_details()}
        self.logits_detail: dict[str, Any] = details[int(softmax[0]["inputs"][0])]

    def quantize_input(self, pixels: np.ndarray) -> np.ndarray:
        """The float input x = p / 127.5 - 1 in the input tensor's dtype and quantization.

        An 8-bit input declaring x = (q - zero_point) * scale with scale = 1/127.5 and zero
        point 127 (uint8; -1 for int8) takes the pixel bytes as they are: re-quantizing
        p / 127.5 - 1 would land exactly on rounding ties (127 vs 127.5), so float noise would
        pick q. Anything else is quantized as declared.
        """
        x = pixels_to_float(pixels)[None]
        dtype = self.input["dtype"]
        if np.issubdtype(dtype, np.floating):
            return x.astype(dtype)
        scale, zero = self.input["quantization"]
        info = np.iinfo(dtype)
        if info.bits == 8 and abs(scale * 127.5 - 1) < 1e-6 and zero - info.min == 127:
            return (pixels[None].astype(np.int16) + info.min).astype(dtype)
        q = np.floor(x.astype(np.float64) / scale + zero + 0.5)
        return np.clip(q, info.min, info.max).astype(dtype)

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """1000 float logits (background dropped) for one H x W x 3 uint8 image."""
        self.interp.set_tensor(self.input["index"], self.quantize_input(pixels))
        self.interp.invoke()
        raw = self.interp.get_tensor(self.logits_detail["index"]).reshape(-1)
        scale, zero = self.logits_detail["quantization"]
        values = raw.astype(np.float32) if not scale else (raw.astype(np.float32) - zero) * scale
        return values[1:] if values.size == 1001 else values


def torch_logits(
    model: torch.nn.Module, pixels: Sequence[np.ndarray], batch_size: int = 64
) -> np.ndarray:
    """Logits of ``model`` for a list of H x W x 3 uint8 images (model set to eval, channels-last)."""
    model = model.eval().to(memory_format=torch.channels_last)
    outs = []
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            x = pixels_to_tensor(pixels[start : start + batch_size])
            outs.append(model(x.to(memory_format=torch.channels_last)).float().numpy())
    return np.concatenate(outs)


def agreement(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """How far two N x C logit arrays agree: top-1, reference top-1 within our top-5, Pearson r.

    ``top5`` is the share of images whose reference top-1 class is among our five best.
    """
    if ours.shape != ref.shape or ours.ndim != 2:
        raise ValueError(f"logit arrays differ in shape: {ours.shape} vs {ref.shape}")
    ref_top1 = ref.argmax(1)
    top5 = np.argsort(-ours, axis=1)[:, :5]
    a = ours - ours.mean(1, keepdims=True)
    b = ref - ref.mean(1, keepdims=True)
    corr = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return {
        "n": float(len(ours)),
        "top1": float((ours.argmax(1) == ref_top1).mean()),
        "top5": float((top5 == ref_top1[:, None]).any(1).mean()),
        "corr": float(corr.mean()),
    }
