"""Which model to screen with when the user picked none, and the honest untrained fallback."""

from __future__ import annotations

import torch

from engine.checkpoint import (
    DEFAULT_CLASSES,
    TF_MEAN,
    TF_STD,
    ModelMeta,
    load_model,
    stamp_hashes,
)
from engine.model import MobileNetV2MSCAPFR
from engine.paths import default_model_path

UNTRAINED_NAME = "untrained-imagenet"
UNTRAINED_WARNING = (
    "UNTRAINED MODEL: ImageNet backbone with a random classification head. "
    "Its output is NOT a diagnosis; train or install a model first."
)


def untrained_model(
    classes: tuple[str, ...] | list[str] = DEFAULT_CLASSES, seed: int = 0
) -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """ImageNet-initialised backbone with a seeded random head: the start of a new model."""
    from engine.model.imagenet import imagenet_feature_state

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MobileNetV2MSCAPFR(num_classes=len(classes), padding="tf")
    model.load_state_dict(imagenet_feature_state(), strict=False)
    meta = ModelMeta(
        classes=list(classes),
        padding="tf",
        mean=list(TF_MEAN),
        std=list(TF_STD),
        name=UNTRAINED_NAME,
        trained=False,
        description=UNTRAINED_WARNING,
    )
    return model.eval(), stamp_hashes(meta, model.state_dict())


def load_default_model() -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """The shipped default model if present, otherwise the untrained fallback."""
    path = default_model_path()
    if path.exists():
        return load_model(path)
    return untrained_model()
