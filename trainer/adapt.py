"""Fast adaptation to a clinic's labels: the head is re-fitted on cached backbone features.

Why: a clinic labels tens of photos and waits. The backbone (2.2 M weights, ~80% of the cost of
a pass) stays the parent's; each photo goes through it once per view (one plain view, a few
augmented ones) and the head (reduce, MSCA, PFR, classifier) is fitted on those cached maps. A
fold model then costs seconds, so the decision can cross-fit k of them, and the final model is
the same recipe on every label: what was estimated is what is shipped.

Old knowledge is kept by distillation: the loss mixes cross-entropy on the clinic's labels with
the KL divergence to the parent's softened outputs on the same views, so a class the clinic has
not labelled keeps the parent's answers instead of being pushed towards zero. The cross-entropy
itself is taken over the labelled classes only (``AdaptRecipe.mask_absent``): with all of it, a
clinic that labelled no Measles photo taught the head "never Measles" on every photo, and on
photos the parent never saw it lost 4 points of accuracy instead of gaining 1 to 2.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.images import ImageLoadError, load_image
from engine.preprocess import make_transform
from engine.recipe import ADAPT, AdaptRecipe
from trainer.data import Decoded, class_weights, train_transform

__all__ = ["FeatureCache", "adapted_backbone", "cache_features", "fit_head", "head_logits"]


@dataclass
class FeatureCache:
    """Backbone maps of every photo's views (view 0 plain, as screening sees it) and the parent
    head's logits on each: ``features`` is N x V x C x H x W (float16), ``parent`` N x V x K."""

    features: torch.Tensor
    parent: torch.Tensor
    targets: np.ndarray

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def subset(self, idx: Sequence[int]) -> FeatureCache:
        """The cache restricted to photos ``idx`` (a fold's training or held-out part)."""
        ix = torch.as_tensor(list(idx), dtype=torch.long)
        return FeatureCache(self.features[ix], self.parent[ix], self.targets[np.asarray(ix)])


def _views(item: Decoded, plain: Callable, augment: nn.Module, views: int) -> torch.Tensor:
    """View 0 exactly as screening sees the photo (the app's loader and transform, from the
    file); the others augmented from the decoded training copy."""
    return torch.stack([plain(item)] + [augment(item.image) for _ in range(views - 1)])


def _file_view(meta: object) -> Callable[[Path], torch.Tensor]:
    """A photo file exactly as screening sees it (the app's loader and transform)."""
    transform = make_transform(meta)  # type: ignore[arg-type]
    size = int(meta.input_size)  # type: ignore[attr-defined]
    return lambda path: transform(load_image(path, target_size=size))


def _screening_view(meta: object) -> Callable[[Decoded], torch.Tensor]:
    from_file = _file_view(meta)

    def view(item: Decoded) -> torch.Tensor:
        try:
            return from_file(item.sample.path)
        except ImageLoadError:  # decoded once already; a file gone since: the cached copy
            return train_transform(meta, augment=False)(item.image)  # type: ignore[arg-type]

    return view


@torch.no_grad()
def cache_features(
    model: nn.Module,
    items: Sequence[Decoded],
    targets: Sequence[int],
    meta: object,
    *,
    recipe: AdaptRecipe = ADAPT,
    device: torch.device | None = None,
) -> FeatureCache:
    """Run every photo's views through the parent's backbone once (eval mode: BatchNorm as the
    parent screens) and keep the maps and the parent head's logits."""
    device = device or torch.device("cpu")
    model.eval()
    plain = _screening_view(meta)
    augment = train_transform(meta, augment=True, profile=recipe.augmentation)  # type: ignore[arg-type]
    feats: list[torch.Tensor] = []
    logits: list[torch.Tensor] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        for item in items:
            x = _views(item, plain, augment, recipe.views).to(device)
            f = frozen_part(model, recipe)(x)
            logits.append(forward_rest(model, f, recipe).float().cpu())
            feats.append(f.to(torch.float16).cpu())
    if not feats:
        raise ValueError("no photos to adapt to")
    return FeatureCache(torch.stack(feats), torch.stack(logits), np.asarray(targets, dtype=int))


BN_PHOTOS = 64  # the most photos whose statistics are measured (one batch through the network)
BN_WINDOW = 640  # ... spread over this many of the clinic's most recent photos


@torch.no_grad()
def adapted_backbone(
    parent: nn.Module,
    photos: Sequence[Decoded | Path],
    meta: object,
    recipe: AdaptRecipe = ADAPT,
) -> nn.Module:
    """``parent`` itself, or (``recipe.bn_share`` > 0) a copy whose BatchNorm statistics moved
    that share towards the clinic's photos (decoded labelled photos, or photo files, labelled
    or not), seen exactly as screening sees them; files that cannot be read are passed over.

    Why: a clinic's camera shifts every layer's statistics; its own photos say by how much,
    labels or not. Only a share moves, so photos from other cameras (the reference set) are
    not normalised as if they came from this one."""
    if recipe.bn_share <= 0:
        return parent
    batch = _bn_batch(photos, meta)
    if batch is None:
        return parent
    from trainer.bn import mix_bn_statistics

    model = copy.deepcopy(parent).cpu().eval()
    keep = model.features[: recipe.bn_from] if recipe.bn_from > 0 else None
    mix_bn_statistics(model, batch, recipe.bn_share, keep)
    return model


def spread_evenly(n: int, k: int) -> list[int]:
    """``min(n, k)`` distinct indices spread evenly over ``range(n)``, first and last included.

    Why: photos come in runs (a folder of one diagnosis screened at once, labels given class by
    class); taking the first ``k`` of a list would measure one run's statistics, not the
    camera's."""
    if n <= k:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, k).round()})


def _bn_batch(photos: Sequence[Decoded | Path], meta: object) -> torch.Tensor | None:
    """Up to ``BN_PHOTOS`` of ``photos``, spread evenly, as screening sees them (None: none)."""
    plain, from_file = _screening_view(meta), _file_view(meta)
    views = []
    for item in [photos[i] for i in spread_evenly(len(photos), BN_PHOTOS)]:
        try:
            views.append(plain(item) if isinstance(item, Decoded) else from_file(item))
        except ImageLoadError:  # gone or unreadable since the store listed it
            continue
    return torch.stack(views) if views else None


def cut_index(model: nn.Module, recipe: AdaptRecipe) -> int:
    """The first backbone block that is trained (the blocks before it are cached)."""
    return len(model.features) - recipe.train_blocks


def frozen_part(model: nn.Module, recipe: AdaptRecipe) -> nn.Module:
    """The backbone blocks whose output is cached."""
    return model.features[: cut_index(model, recipe)]


def forward_rest(model: nn.Module, cached: torch.Tensor, recipe: AdaptRecipe) -> torch.Tensor:
    """Logits from cached maps: the trained backbone blocks, then the head."""
    return model.forward_head(model.features[cut_index(model, recipe) :](cached))


def head_logits(
    model: nn.Module, features: torch.Tensor, recipe: AdaptRecipe = ADAPT, batch: int = 64
) -> torch.Tensor:
    """The model's logits on cached maps (N x C x H x W), in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(features), batch):
            out.append(forward_rest(model, features[i : i + batch].float(), recipe).float())
    return torch.cat(out) if out else torch.zeros((0, model.num_classes))


def _trained_params(model: nn.Module, recipe: AdaptRecipe) -> list[nn.Parameter]:
    cut = cut_index(model, recipe)
    frozen = {f"features.{i}." for i in range(cut)}
    return [
        p for name, p in model.named_parameters() if not any(name.startswith(f) for f in frozen)
    ]


def _freeze_norms(model: nn.Module) -> None:
    """BatchNorm keeps the parent's statistics: a batch of a few cached maps is no estimate."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def _weights(targets: list[int], num_classes: int, recipe: AdaptRecipe) -> torch.Tensor:
    """Per-class cross-entropy weights: balanced, or 1 for every labelled class; 0 for a class
    with no label (``mask_absent`` reads the 0 to leave it out)."""
    if recipe.balance:
        return class_weights(targets, num_classes)
    present = set(targets)
    return torch.tensor([1.0 if i in present else 0.0 for i in range(num_classes)])


def _distilled_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    parent: torch.Tensor,
    weights: torch.Tensor,
    recipe: AdaptRecipe,
) -> torch.Tensor:
    ce_logits = logits
    if recipe.mask_absent:  # a class with no label here is neither pushed up nor down by CE
        ce_logits = logits.masked_fill(weights <= 0, float("-inf"))
    ce = F.cross_entropy(ce_logits, y, weight=weights)
    if recipe.distill <= 0:
        return ce
    t = recipe.distill_temperature
    kl = F.kl_div(
        F.log_softmax(logits / t, 1), F.log_softmax(parent / t, 1), log_target=True,
        reduction="batchmean",
    )  # fmt: skip
    return (1 - recipe.distill) * ce + recipe.distill * t * t * kl


def _l2sp(params: Sequence[nn.Parameter], start: Sequence[torch.Tensor]) -> torch.Tensor:
    """Squared distance of the trained weights from the parent's (L2-SP): the head may move
    where the clinic's labels pull it, but pays for every step away from what it knew."""
    return sum(((p - s) ** 2).sum() for p, s in zip(params, start, strict=True))  # type: ignore[return-value]


def _unlabelled_kl(
    model: nn.Module, pool: FeatureCache, gen: torch.Generator, recipe: AdaptRecipe
) -> torch.Tensor:
    """KL to the parent on a batch of the clinic's unlabelled photos (plain views)."""
    ix = torch.randint(0, len(pool), (recipe.batch_size,), generator=gen)
    logits = forward_rest(model, pool.features[ix, 0].float(), recipe)
    t = recipe.distill_temperature
    kl = F.kl_div(
        F.log_softmax(logits / t, 1), F.log_softmax(pool.parent[ix, 0] / t, 1), log_target=True,
        reduction="batchmean",
    )  # fmt: skip
    return t * t * kl


def fit_head(
    parent: nn.Module,
    cache: FeatureCache,
    num_classes: int,
    *,
    recipe: AdaptRecipe = ADAPT,
    seed: int | None = None,
    unlabelled: FeatureCache | None = None,
) -> nn.Module:
    """A copy of ``parent`` whose head is fitted on ``cache`` (an epoch: every view of every
    photo once, shuffled); the backbone is shared in value, never changed. ``unlabelled``: the
    clinic's other photos, pulled towards the parent's answers when ``recipe.unlabelled_distill``
    is set. Returns the model in eval mode."""
    model = copy.deepcopy(parent).cpu()
    gen = torch.Generator().manual_seed(recipe.seed if seed is None else seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed if seed is None else seed)
        params = _trained_params(model, recipe)
        start = [p.detach().clone() for p in params]
        opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
        n, v = cache.features.shape[:2]
        y_all = torch.as_tensor(cache.targets, dtype=torch.long).repeat_interleave(v)
        flat = cache.features.flatten(0, 1)  # every view of every photo is one example
        soft = cache.parent.flatten(0, 1)
        weights = _weights(cache.targets.tolist(), num_classes, recipe)
        pool = unlabelled if unlabelled is not None and len(unlabelled) else None
        for _ in range(recipe.epochs):
            model.train()
            _freeze_norms(model)
            order = torch.randperm(n * v, generator=gen)
            for i in range(0, n * v, recipe.batch_size):
                ix = order[i : i + recipe.batch_size]
                logits = forward_rest(model, flat[ix].float(), recipe)
                loss = _distilled_loss(logits, y_all[ix], soft[ix], weights, recipe)
                if recipe.l2sp > 0:
                    loss = loss + recipe.l2sp * _l2sp(params, start)
                if pool is not None and recipe.unlabelled_distill > 0:
                    loss = loss + recipe.unlabelled_distill * _unlabelled_kl(
                        model, pool, gen, recipe
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model.eval()
