"""Multi-Scale Context Aggregator: four parallel views of the 7x7 map, fused back to 256 channels.

Small lesions and whole-body rash patterns live at different scales; the branches see 1x1,
3x3, dilated 3x3 (receptive field 7x7) and global context before a 1x1 fusion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MSCA(nn.Module):
    """Multi-Scale Context Aggregator (names match the authors' checkpoints)."""

    def __init__(self, channels: int = 256, branch_channels: int = 64) -> None:
        super().__init__()
        self.branch1 = nn.Conv2d(channels, branch_channels, 1, bias=False)
        self.branch3 = nn.Conv2d(channels, branch_channels, 3, padding=1, bias=False)
        self.branch_dilated = nn.Conv2d(
            channels, branch_channels, 3, padding=3, dilation=3, bias=False
        )
        self.global_conv = nn.Conv2d(channels, branch_channels, 1, bias=False)
        self.fuse = nn.Conv2d(4 * branch_channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = self.global_conv(F.adaptive_avg_pool2d(x, 1))
        global_ctx = F.interpolate(pooled, size=size, mode="bilinear", align_corners=True)
        branches = [self.branch1(x), self.branch3(x), self.branch_dilated(x), global_ctx]
        return self.relu(self.bn(self.fuse(torch.cat(branches, dim=1))))
