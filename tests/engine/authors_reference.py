"""An independent re-implementation of the authors' MobileNetV2-MSCA-PFR, written the way their
public code lays it out, used only to check that their ``.pth`` checkpoints import exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2


class AuthorsMSCA(nn.Module):
    def __init__(self, in_ch: int = 256, out_ch: int = 256) -> None:
        super().__init__()
        b = out_ch // 4
        self.branch1 = nn.Conv2d(in_ch, b, kernel_size=1, bias=False)
        self.branch3 = nn.Conv2d(in_ch, b, kernel_size=3, padding=1, bias=False)
        self.branch_dilated = nn.Conv2d(in_ch, b, kernel_size=3, padding=3, dilation=3, bias=False)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.global_conv = nn.Conv2d(in_ch, b, kernel_size=1, bias=False)
        self.fuse = nn.Conv2d(4 * b, out_ch, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.size(2), x.size(3)
        g = F.interpolate(
            self.global_conv(self.global_pool(x)), size=(h, w), mode="bilinear", align_corners=True
        )
        out = torch.cat([self.branch1(x), self.branch3(x), self.branch_dilated(x), g], 1)
        return F.relu(self.bn(self.fuse(out)))


class AuthorsPoolAttn(nn.Module):
    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.patch_pool1 = nn.AdaptiveAvgPool2d((None, 4))
        self.patch_pool2 = nn.AdaptiveAvgPool2d((4, None))
        self.embdim_pool1 = nn.AdaptiveAvgPool2d((None, 4))
        self.embdim_pool2 = nn.AdaptiveAvgPool2d((4, None))
        self.proj0 = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)
        self.proj1 = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)
        self.norm = nn.GroupNorm(1, dim)
        self.proj2 = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        x_patch_attn = self.patch_pool1(x) @ self.patch_pool2(x)
        x_patch_attn = self.proj0(x_patch_attn)
        x1 = x.view(B, C, H * W).transpose(1, 2).view(B, H * W, 32, -1)
        x_embdim_attn = self.embdim_pool1(x1) @ self.embdim_pool2(x1)
        x_embdim_attn = x_embdim_attn.view(B, H * W, C).transpose(1, 2).view(B, C, H, W)
        x_embdim_attn = self.proj1(x_embdim_attn)
        return self.proj2(self.norm(x_patch_attn + x_embdim_attn))


class AuthorsMlp(nn.Module):
    def __init__(self, dim: int = 256, hidden: int = 1024, drop: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class AuthorsPFR(nn.Module):
    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)
        self.token_mixer = AuthorsPoolAttn(dim)
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = AuthorsMlp(dim)
        self.layer_scale_1 = nn.Parameter(1e-5 * torch.ones(dim), requires_grad=True)
        self.layer_scale_2 = nn.Parameter(1e-5 * torch.ones(dim), requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.layer_scale_1.unsqueeze(-1).unsqueeze(-1) * self.token_mixer(self.norm1(x))
        return x + self.layer_scale_2.unsqueeze(-1).unsqueeze(-1) * self.mlp(self.norm2(x))


class AuthorsNet(nn.Module):
    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.features = mobilenet_v2(weights=None).features
        self.reduce = nn.Conv2d(1280, 256, 1)
        self.msca = AuthorsMSCA(256, 256)
        self.skip = nn.Conv2d(256, 256, 1)
        self.pfr = AuthorsPFR(256)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.msca(self.reduce(self.features(x)))
        x = self.pfr(x) + self.skip(x)
        return self.classifier(torch.flatten(self.gap(x), 1))
