"""The MobileNetV2-MSCA-PFR network and its building blocks."""

from engine.model.backbone import PADDING_MODES, PaddingMode, build_features, set_padding_mode
from engine.model.network import ARCHITECTURE, MobileNetV2MSCAPFR

__all__ = [
    "ARCHITECTURE",
    "PADDING_MODES",
    "MobileNetV2MSCAPFR",
    "PaddingMode",
    "build_features",
    "set_padding_mode",
]
