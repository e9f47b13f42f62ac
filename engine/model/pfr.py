"""Pooling-Feature Refinement: a PoolFormer-style block whose token mixer is pooling attention.

Pooling attention mixes information across space (H x 4 by 4 x W pooled outer products) and
across channels (the same trick on each position's channel vector folded into a 32 x C/32 grid)
at a tiny cost compared with self-attention, which matters on a clinic laptop CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PoolAttn(nn.Module):
    """Spatial and channel pooling attention (the token mixer inside PFR)."""

    def __init__(self, dim: int = 256, channel_groups: int = 32, pool: int = 4) -> None:
        super().__init__()
        if dim % channel_groups:
            raise ValueError(f"dim {dim} must be divisible by {channel_groups}")
        self.channel_groups = channel_groups
        self.pool = pool
        self.proj0 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.proj1 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm = nn.GroupNorm(1, dim)
        self.proj2 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.pool
        # Spatial interaction: (H x p) @ (p x W) per channel.
        spatial = F.adaptive_avg_pool2d(x, (h, p)) @ F.adaptive_avg_pool2d(x, (p, w))
        spatial = self.proj0(spatial)
        # Channel interaction: each position's channel vector as a groups x (C/groups) grid.
        g = self.channel_groups
        tokens = x.flatten(2).transpose(1, 2).reshape(b, h * w, g, c // g)
        channel = F.adaptive_avg_pool2d(tokens, (g, p)) @ F.adaptive_avg_pool2d(tokens, (p, c // g))
        channel = channel.reshape(b, h * w, c).transpose(1, 2).reshape(b, c, h, w)
        channel = self.proj1(channel)
        return self.proj2(self.norm(spatial + channel))


class Mlp(nn.Module):
    """Pointwise MLP (1x1 convolutions) with GELU and dropout."""

    def __init__(self, dim: int = 256, hidden: int = 1024, drop: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop2 = nn.Dropout(drop)
        for conv in (self.fc1, self.fc2):
            nn.init.trunc_normal_(conv.weight, std=0.02)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


class PFR(nn.Module):
    """Pre-norm residual block: token mixing then MLP, each with a small learnable layer scale."""

    def __init__(
        self,
        dim: int = 256,
        mlp_ratio: float = 4.0,
        drop: float = 0.1,
        layer_scale_init: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)
        self.token_mixer = PoolAttn(dim)
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), layer_scale_init))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), layer_scale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.layer_scale_1[:, None, None] * self.token_mixer(self.norm1(x))
        return x + self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x))
