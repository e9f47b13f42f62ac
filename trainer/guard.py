"""Fitting the "not a skin photo" guard (``engine.guard``) on a run's own photos.

The statistics come from the run's training photos; the threshold from its validation photos
(which the model never trained on), set so that ``PASS_QUANTILE`` of them pass. Training
features sit closer to their class means than any new photo will (the network fitted them), so
a threshold set on them would flag far too many real photos.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from torch import nn

from engine.checkpoint import ModelMeta, load_model, save_model
from engine.guard import ScopeGuard, pooled_features
from engine.images import ImageLoadError, load_image
from engine.preprocess import make_transform
from engine.recipe import RECIPE
from trainer.data import Sample

PASS_QUANTILE = 0.95
COMPONENTS = 128
MIN_VAL = 10


class GuardError(Exception):
    """The guard cannot be fitted (too few photos), with the reason."""


@torch.no_grad()
def extract_features(
    model: nn.Module,
    meta: ModelMeta,
    samples: Sequence[Sample],
    device: torch.device | str = "cpu",
    batch_size: int = RECIPE.batch_size,
) -> tuple[np.ndarray, list[int]]:
    """Pooled backbone features of ``samples`` (preprocessed as the app screens) and the indices
    of the samples that could be read."""
    transform = make_transform(meta)
    model.eval()
    out: list[np.ndarray] = []
    kept: list[int] = []
    batch: list[torch.Tensor] = []

    def flush() -> None:
        if batch:
            x = torch.stack(batch).to(device)
            out.append(pooled_features(model.forward_features(x)).cpu().numpy())
            batch.clear()

    for i, s in enumerate(samples):
        try:
            batch.append(transform(load_image(s.path, target_size=int(meta.input_size))))
        except ImageLoadError:
            continue
        kept.append(i)
        if len(batch) == batch_size:
            flush()
    flush()
    return (np.concatenate(out) if out else np.zeros((0, 0))), kept


def guard_threshold(val_raw: np.ndarray, quantile: float) -> float:
    """At least ``quantile`` of the validation photos pass: the threshold lies half-way between
    the last passing score and the next one, so float32 storage or another memory layout's
    rounding cannot move a photo that sat exactly on it to the other side."""
    ordered = np.sort(np.asarray(val_raw, dtype=np.float64))
    last = float(np.quantile(ordered, quantile, method="higher"))
    above = ordered[ordered > last]
    return (last + float(above[0])) / 2 if len(above) else last * 1.01


def fit_guard(
    train_features: np.ndarray,
    train_labels: Sequence[int],
    val_features: np.ndarray,
    *,
    components: int = COMPONENTS,
    quantile: float = PASS_QUANTILE,
) -> tuple[ScopeGuard, dict[str, Any]]:
    """Fit the statistics on training features; threshold so ``quantile`` of validation pass."""
    if len(val_features) < MIN_VAL:
        raise GuardError(
            f"need at least {MIN_VAL} validation photos to set the out-of-scope threshold, "
            f"have {len(val_features)}"
        )
    labels = np.asarray(train_labels)
    x = np.sqrt(np.clip(train_features.astype(np.float64), 0, None))
    center = x.mean(axis=0)
    k = int(min(components, x.shape[0] - 1, x.shape[1]))
    _, _, vt = np.linalg.svd(x - center, full_matrices=False)
    basis = vt[:k].T
    z = (x - center) @ basis
    classes = sorted(set(labels.tolist()))
    means = np.stack([z[labels == c].mean(axis=0) for c in classes])
    within = z - means[np.searchsorted(classes, labels)]
    precision = LedoitWolf().fit(within).precision_
    residual = np.einsum("ij,ij->i", x - center, x - center) - np.einsum("ij,ij->i", z, z)
    # the residual counts like the k in-subspace dimensions: mean residual energy maps to k
    weight = k / max(float(residual.mean()), 1e-12)
    guard = ScopeGuard(center, basis, means, precision, weight, threshold=1.0)
    val_raw = guard.raw_distance(val_features)
    guard.threshold = guard_threshold(val_raw, quantile)
    info = {
        "pass_quantile": quantile,
        "n_fit": int(len(x)),
        "n_threshold": int(len(val_features)),
        "threshold_from": "validation photos",
        "val_flagged": float(np.mean(val_raw > guard.threshold)),
    }
    return guard, info


def guard_for_model(
    model: nn.Module,
    meta: ModelMeta,
    train: Sequence[Sample],
    val: Sequence[Sample],
    device: torch.device | str = "cpu",
) -> tuple[ScopeGuard, dict[str, Any]]:
    """Extract features of the run's training and validation photos and fit the guard."""
    index = {c: i for i, c in enumerate(meta.classes)}
    f_train, kept = extract_features(model, meta, train, device)
    f_val, _ = extract_features(model, meta, val, device)
    return fit_guard(f_train, [index[train[i].label] for i in kept], f_val)


def add_guard_to_file(
    model_path: Path, data_dir: Path, split_path: Path, out: Path | None = None
) -> ModelMeta:
    """Fit a guard for an existing model from its recorded split (train: statistics, val:
    threshold) and write the model file again (a new content hash)."""
    from trainer.data import scan_image_folder
    from trainer.splits import Split

    model, meta = load_model(model_path)
    samples, _ = scan_image_folder(data_dir)
    split = Split.load(split_path)
    by_sha = {s.sha256: s for s in samples}
    parts = {n: [by_sha[h] for h in split.members(n) if h in by_sha] for n in ("train", "val")}
    guard, info = guard_for_model(model, meta, parts["train"], parts["val"])
    meta = dataclasses.replace(meta, guard=info)
    return save_model(out or model_path, model, meta, guard=guard)


def main(argv: list[str] | None = None) -> int:
    """``python -m trainer.guard MODEL --data DIR --split SPLIT [--out FILE]``."""
    p = argparse.ArgumentParser(prog="python -m trainer.guard", description=main.__doc__)
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    meta = add_guard_to_file(a.model, a.data, a.split, a.out)
    print(f"{a.out or a.model}: guard added ({meta.guard}); version {meta.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
