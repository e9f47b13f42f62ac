"""The model a training run starts from: the model in use (the store's active model, else the shipped
default), a model file, the ImageNet backbone, or random weights.

A start model whose classes differ from the run's keeps everything except the last classifier
layer, which is re-initialised for the new class list, keeping the rows of the classes both share.
A fine-tune normally keeps its parent's classes (trainer.class_plan): only ``--classes`` changes
them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from engine.checkpoint import ModelMeta, build_model, identity_hash, load_model, stamp_hashes
from engine.model import MobileNetV2MSCAPFR

INIT_CHOICES = ("auto", "active", "imagenet", "random")


def random_model(
    classes: Sequence[str], seed: int, input_size: int = 224
) -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """A randomly initialised network (tests and experiments: no pretrained features)."""
    meta = ModelMeta(classes=list(classes), input_size=input_size, name="random-init")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(meta)
    return model, stamp_hashes(meta, model.state_dict())


def imagenet_model(classes: Sequence[str], seed: int) -> tuple[MobileNetV2MSCAPFR, ModelMeta]:
    """The converted ImageNet backbone (TF padding, mean/std 0.5) with a seeded random head."""
    from engine.default_model import untrained_model

    return untrained_model(list(classes), seed=seed)


def adapt_classes(
    model: MobileNetV2MSCAPFR, meta: ModelMeta, classes: Sequence[str], seed: int
) -> tuple[MobileNetV2MSCAPFR, ModelMeta, str]:
    """Fit a start model to ``classes``: reorder the output layer when only the order differs,
    re-initialise it when the set differs. Returns the model, its meta and what was done."""
    classes = list(classes)
    if list(meta.classes) == classes:
        return model, meta, "kept"
    head: nn.Linear = model.classifier[-1]  # type: ignore[assignment]
    new_meta = dataclasses.replace(meta, classes=classes)
    new_model = build_model(new_meta)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("classifier.2.")}
    new_model.load_state_dict(state, strict=False)
    new_head: nn.Linear = new_model.classifier[-1]  # type: ignore[assignment]
    if sorted(meta.classes) == sorted(classes):
        order = [list(meta.classes).index(c) for c in classes]
        with torch.no_grad():
            new_head.weight.copy_(head.weight[order])
            new_head.bias.copy_(head.bias[order])
        action = "reordered"
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            new_head.reset_parameters()
        kept = [
            (i, list(meta.classes).index(c)) for i, c in enumerate(classes) if c in meta.classes
        ]
        with torch.no_grad():  # classes both lists share keep what the start model knew
            for i, j in kept:
                new_head.weight[i].copy_(head.weight[j])
                new_head.bias[i].copy_(head.bias[j])
        action = f"new output layer, {len(kept)} kept" if kept else "new output layer"
    return new_model, new_meta, action


def start_model(
    init: str,
    classes: Sequence[str],
    seed: int,
    *,
    active_path: Path | None = None,
    input_size: int | None = None,
) -> tuple[MobileNetV2MSCAPFR, ModelMeta, str]:
    """The model a run starts from, its metadata and a one-line description of the choice.

    ``init``: "auto" (the model in use, ``active_path``, when there is one, else ImageNet),
    "active" (that model, or an error), "imagenet", "random", or a model file path.
    """
    if init == "auto":
        init = "active" if active_path is not None else "imagenet"
    if init == "active":
        if active_path is None:
            raise ValueError("--init active: no model is in use (none active, none shipped)")
        path = active_path
    elif init == "imagenet":
        model, meta = imagenet_model(classes, seed)
        path = None
    elif init == "random":
        model, meta = random_model(classes, seed, input_size or 224)
        path = None
    else:
        path = Path(init)
    if path is not None:
        model, meta = load_model(path)
    model, meta, action = adapt_classes(model, meta, classes, seed)
    if input_size is not None and int(input_size) != int(meta.input_size):
        meta = dataclasses.replace(meta, input_size=int(input_size))
        if action == "kept" and meta.weights_hash:  # the identity covers the input size
            meta.content_hash = identity_hash(meta.weights_hash, meta)
    source = str(path) if path is not None else init
    return model, meta, f"{source} ({meta.version}; classes {action})"
