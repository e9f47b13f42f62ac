"""MobileNetV2-MSCA-PFR: the whole network, with the backbone/head split Grad-CAM relies on."""

from __future__ import annotations

import torch
from torch import nn

from engine.model.backbone import PaddingMode, build_features, set_padding_mode
from engine.model.msca import MSCA
from engine.model.pfr import PFR
from engine.modelmeta import ARCHITECTURE

__all__ = ["ARCHITECTURE", "FEATURE_CHANNELS", "MobileNetV2MSCAPFR"]
FEATURE_CHANNELS = 1280


class MobileNetV2MSCAPFR(nn.Module):
    """MobileNetV2 features -> reduce -> MSCA -> (PFR + skip) -> pooled MLP classifier.

    ``forward_features`` is the ImageNet backbone (1280 x 7 x 7); ``forward_head`` is everything
    after it. ``gradcam_layer`` marks the late 7x7 map (PFR output + skip) that explanations use,
    so Grad-CAM needs gradients only through the head.
    """

    def __init__(
        self,
        num_classes: int = 4,
        padding: PaddingMode = "symmetric",
        width: int = 256,
        hidden: int = 512,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"need at least 2 classes, got {num_classes}")
        self.num_classes = num_classes
        self.padding: PaddingMode = padding
        self.features = build_features(padding)
        self.reduce = nn.Conv2d(FEATURE_CHANNELS, width, 1)
        self.msca = MSCA(width)
        self.skip = nn.Conv2d(width, width, 1)
        self.pfr = PFR(width)
        self.merge = nn.Identity()  # no parameters: a named hook point for Grad-CAM
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes)
        )

    @property
    def gradcam_layer(self) -> nn.Module:
        """The module whose output (256 x 7 x 7) Grad-CAM weighs."""
        return self.merge

    def set_padding(self, padding: PaddingMode) -> None:
        """Switch the backbone's stride-2 padding (weights from TF need "tf")."""
        set_padding_mode(self.features, padding)
        self.padding = padding

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.msca(self.reduce(feats))
        x = self.merge(self.pfr(x) + self.skip(x))
        x = self.pool(x).flatten(1)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
