"""k-fold cross-fitting on a clinic's own labels: every labelled photo gets a prediction from a
model that never saw it, so all the labels decide and all of them train the final model.

Folds are stratified by class and keep near-duplicate groups (and, where known, a patient's or
a visit's photos) whole: two photos of the same lesion in different folds would let a fold model
recognise the photo instead of the disease.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn

from engine.recipe import ADAPT, AdaptRecipe
from trainer.adapt import FeatureCache, fit_head, head_logits

__all__ = ["assign_folds", "cross_fit"]


def assign_folds(
    targets: Sequence[int], groups: Sequence[int], k: int, seed: int = 0
) -> np.ndarray:
    """The fold (0..k'-1) of each photo; k' = k unless fewer groups exist (then one per group).

    Raises ValueError with fewer than two groups: nothing could be held out."""
    y = np.asarray(targets, dtype=int)
    g = np.asarray(groups, dtype=int)
    n_groups = len(np.unique(g))
    if n_groups < 2:
        raise ValueError(
            f"only {n_groups} distinct photo(s) after grouping near-duplicates: nothing can be "
            "held out to check a fine-tune on; label more photos"
        )
    folds = np.full(len(y), -1, dtype=int)
    with warnings.catch_warnings():  # "least populated class has only k members": small data
        warnings.simplefilter("ignore", UserWarning)
        sgkf = StratifiedGroupKFold(n_splits=min(k, n_groups), shuffle=True, random_state=seed)
        for f, (_, held) in enumerate(sgkf.split(np.zeros(len(y)), y, g)):
            folds[held] = f
    return folds


def cross_fit(
    parent: nn.Module,
    cache: FeatureCache,
    num_classes: int,
    folds: np.ndarray,
    *,
    recipe: AdaptRecipe = ADAPT,
    on_fold: Callable[[int, int], None] | None = None,
    unlabelled: FeatureCache | None = None,
) -> np.ndarray:
    """Out-of-fold logits (N x K, on each photo's plain view) of fold models fitted with the
    final model's own recipe on the other folds (``unlabelled``: the clinic's photos without a
    label, as the final model gets them)."""
    out = np.zeros((len(cache), num_classes), dtype=np.float64)
    k = int(folds.max()) + 1
    for f in range(k):
        held = np.flatnonzero(folds == f)
        train = np.flatnonzero(folds != f)
        model = fit_head(
            parent,
            cache.subset(train),
            num_classes,
            recipe=recipe,
            seed=recipe.seed + f,
            unlabelled=unlabelled,
        )
        out[held] = head_logits(model, cache.features[torch.as_tensor(held), 0], recipe).numpy()
        if on_fold is not None:
            on_fold(f + 1, k)
    return out
