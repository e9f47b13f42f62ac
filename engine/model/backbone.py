"""The MobileNetV2 backbone: torchvision's ``features`` stack with a switchable padding mode.

Weights converted from TensorFlow expect TF "SAME" padding on stride-2 convolutions (pad right and
bottom only); checkpoints trained in PyTorch expect symmetric padding. The mode is part of a
model's metadata, so both kinds of weights stay exact without renaming any parameter.

Switching swaps the class of each stride-2 ``nn.Conv2d`` in place (to :class:`TFSamePadConv2d`
and back), so parameter objects, names, hooks and optimizer references all stay the same.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from engine.model.mobilenetv2 import mobilenet_v2
from engine.modelmeta import PADDING_MODES

__all__ = ["PADDING_MODES", "PaddingMode", "TFSamePadConv2d", "build_features", "set_padding_mode"]

PaddingMode = Literal["symmetric", "tf"]


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) for one spatial dimension of length ``size``.

    total = max((ceil(size / stride) - 1) * stride + effective_kernel - size, 0); TF puts the
    smaller half before (top/left) and the rest after (bottom/right).
    """
    effective = (kernel - 1) * dilation + 1
    if effective >= stride:
        # Same value without max(): keeps the pad a plain expression for torch.export with
        # dynamic sizes ((ceil(n/s) - 1) * s + k - n == k - 1 - (n - 1) % s).
        total = effective - 1 - (size - 1) % stride
    else:
        out = (size + stride - 1) // stride
        total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class TFSamePadConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` with TF "SAME" padding computed per input size (``padding`` is 0).

    Only ever created by :func:`set_padding_mode` swapping the class of an existing convolution;
    the symmetric padding it replaced is kept in ``symmetric_padding`` to restore it exactly.
    """

    symmetric_padding: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        sh, sw = self.stride
        dh, dw = self.dilation
        top, bottom = tf_same_pads(x.shape[-2], kh, sh, dh)
        left, right = tf_same_pads(x.shape[-1], kw, sw, dw)
        x = F.pad(x, (left, right, top, bottom))
        return self._conv_forward(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", tf_same_padding=True"


def _is_strided_conv(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and any(s > 1 for s in module.stride)


def set_padding_mode(features: nn.Module, mode: PaddingMode) -> None:
    """Switch every stride-2 convolution in ``features`` to ``mode`` in place.

    "tf" pads right/bottom like TensorFlow "SAME" (needed for weights converted from TFLite);
    "symmetric" restores stock PyTorch behaviour exactly. Parameter names do not change.
    """
    if mode not in PADDING_MODES:
        raise ValueError(f"unknown padding mode {mode!r}; expected one of {PADDING_MODES}")
    for module in features.modules():
        if not _is_strided_conv(module):
            continue
        if mode == "tf" and type(module) is nn.Conv2d:
            if isinstance(module.padding, str) or module.padding_mode != "zeros":
                raise ValueError(f"cannot switch {module!r} to TF padding")
            module.symmetric_padding = tuple(module.padding)
            module.__class__ = TFSamePadConv2d
            module.padding = (0, 0)
        elif mode == "symmetric" and type(module) is TFSamePadConv2d:
            module.__class__ = nn.Conv2d
            module.padding = module.symmetric_padding
            del module.symmetric_padding


def get_padding_mode(features: nn.Module) -> PaddingMode:
    """The padding mode of ``features``: "tf" if its stride-2 convolutions pad like TF."""
    strided = [m for m in features.modules() if _is_strided_conv(m)]
    tf = [isinstance(m, TFSamePadConv2d) for m in strided]
    if any(tf) and not all(tf):
        raise ValueError("mixed padding modes in one backbone")
    return "tf" if tf and all(tf) else "symmetric"


def build_features(padding: PaddingMode = "symmetric") -> nn.Sequential:
    """Return MobileNetV2's ``features`` (19 blocks, 1280 channels out), as torchvision builds it."""
    features = mobilenet_v2().features
    set_padding_mode(features, padding)
    return features
