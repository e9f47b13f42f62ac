"""The clinic fine-tune's ways of keeping what the parent knew while adapting: BatchNorm
statistics mixed towards the clinic's photos, L2-SP towards the parent's head, distillation
on the clinic's unlabelled photos, and cross-entropy masked to the classes the labels hold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.recipe import ADAPT
from trainer.adapt import FeatureCache, adapted_backbone, fit_head, head_logits, spread_evenly
from trainer.bn import mix_bn_statistics
from trainer.data import Decoded, Sample
from trainer.initial_model import imagenet_model

QUICK = dataclasses.replace(ADAPT, views=2, epochs=4, lr=3e-3, distill=0.0, mask_absent=False)


def _two_norms() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
    )


def test_mixing_moves_each_statistic_the_share_of_the_way_to_the_photos_measured_in_order() -> None:
    model = _two_norms()
    x = torch.randn(16, 3, 5, 5) * 3 + 2
    with torch.no_grad():
        first_in = model[0](x)
    old = model[1].running_mean.clone()
    mix_bn_statistics(model, x, 0.5)
    want = 0.5 * old + 0.5 * first_in.mean((0, 2, 3))
    assert torch.allclose(model[1].running_mean, want, atol=1e-5)
    # the second norm is measured on what it sees after the first one's mixed statistics
    with torch.no_grad():
        second_in = model[2](model[1](first_in))
    assert torch.allclose(model[3].running_mean, 0.5 * second_in.mean((0, 2, 3)), atol=1e-5)
    full = _two_norms()
    mix_bn_statistics(full, x, 1.0)
    assert torch.allclose(full[1].running_var, first_in.var((0, 2, 3)), atol=1e-4)


def test_a_share_of_zero_changes_nothing_and_a_share_outside_0_1_is_refused() -> None:
    model = _two_norms()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mix_bn_statistics(model, torch.randn(4, 3, 5, 5), 0.0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="within"):
        mix_bn_statistics(model, torch.randn(4, 3, 5, 5), 1.5)


def test_norms_inside_keep_hold_their_statistics_and_the_later_ones_still_move() -> None:
    model = _two_norms()
    x = torch.randn(16, 3, 5, 5) * 3 + 2
    first = (model[1].running_mean.clone(), model[1].running_var.clone())
    second = model[3].running_mean.clone()
    mix_bn_statistics(model, x, 0.5, keep=model[:2])
    assert torch.equal(model[1].running_mean, first[0])
    assert torch.equal(model[1].running_var, first[1])
    # the second norm moves, measured on what the first (unchanged) norm hands it
    with torch.no_grad():
        second_in = model[2](model[1](model[0](x)))
    want = 0.5 * second + 0.5 * second_in.mean((0, 2, 3))
    assert torch.allclose(model[3].running_mean, want, atol=1e-5)
    assert not torch.allclose(model[3].running_mean, second)


def test_the_app_moves_only_the_blocks_from_bn_from_on_and_never_touches_the_parent(
    tmp_path: Path,
) -> None:
    parent, meta = imagenet_model(["a", "b", "c"], seed=0)
    parent.eval()
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    g = torch.Generator().manual_seed(0)
    size = int(meta.input_size)
    items = [  # files gone since decoding: the decoded copies are what is measured
        Decoded(
            sample=Sample(path=tmp_path / f"gone{i}.png", label="a", sha256="", source="t"),
            image=torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8),
            hashes=(0, 0),
        )
        for i in range(6)
    ]
    recipe = dataclasses.replace(ADAPT, bn_share=0.5, bn_from=10)
    moved = adapted_backbone(parent, items, meta, recipe).state_dict()
    early = "features.2.conv.0.1.running_mean"
    late = "features.15.conv.0.1.running_mean"
    assert torch.equal(moved[early], before[early])
    assert not torch.allclose(moved[late], before[late])
    assert all(torch.equal(before[k], v) for k, v in parent.state_dict().items())


def test_the_batchnorm_photos_span_the_whole_list_not_its_first_run() -> None:
    """A clinic that screened 22 Chickenpox photos, then 64 others: the 64 photos measured are
    spread over both runs in proportion, not the 64 newest."""
    picks = spread_evenly(86, 64)
    assert len(picks) == len(set(picks)) == 64 and (picks[0], picks[-1]) == (0, 85)
    assert 15 <= sum(i < 22 for i in picks) <= 18  # 22 x 64 / 86 = 16.4
    assert spread_evenly(10, 64) == list(range(10))


def test_unreadable_clinic_photos_are_passed_over(tmp_path: Path) -> None:
    """A screened photo emptied or deleted since the store listed it does not stop the
    fine-tune: the readable ones are measured, and with none readable the parent stays."""
    from tests.trainer.synth import photo

    parent, meta = imagenet_model(["a", "b", "c"], seed=0)
    parent.eval()
    good = tmp_path / "good.png"
    photo(1, "Red").save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    recipe = dataclasses.replace(ADAPT, bn_share=0.5)
    bad = [empty, tmp_path / "gone.png"]
    assert adapted_backbone(parent, bad, meta, recipe) is parent
    moved = adapted_backbone(parent, [bad[0], good, bad[1]], meta, recipe)
    one = adapted_backbone(parent, [good], meta, recipe)
    key = "features.1.conv.0.1.running_mean"
    assert not torch.allclose(moved.state_dict()[key], parent.state_dict()[key])
    assert torch.equal(moved.state_dict()[key], one.state_dict()[key])


def _cache(n: int, seed: int) -> tuple[nn.Module, FeatureCache]:
    """A tiny parent and random cached maps whose labels it can learn (channel 0's sign)."""
    parent, _ = imagenet_model(["a", "b", "c"], seed=0)
    parent.eval()
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, 2, 1280, 2, 2, generator=g)
    y = (feats[:, 0, 0].mean((1, 2)) > 0).long().numpy()
    feats[:, :, 0] += torch.as_tensor(y * 4.0 - 2.0)[:, None, None, None]
    with torch.no_grad():
        logits = parent.forward_head(feats.flatten(0, 1)).view(n, 2, -1)
    return parent, FeatureCache(feats.to(torch.float16), logits, y)


def _distance(model: nn.Module, parent: nn.Module) -> float:
    ref = dict(parent.named_parameters())
    return sum(
        float(((p.detach() - ref[k].detach()) ** 2).sum())
        for k, p in model.named_parameters()
        if "features" not in k
    )


def test_l2sp_keeps_the_fitted_head_nearer_the_parent() -> None:
    parent, cache = _cache(24, 1)
    free = fit_head(parent, cache, 3, recipe=QUICK)
    held = fit_head(parent, cache, 3, recipe=dataclasses.replace(QUICK, l2sp=1.0))
    assert _distance(held, parent) < 0.5 * _distance(free, parent)


def test_unlabelled_photos_pull_the_answers_on_them_towards_the_parent() -> None:
    parent, cache = _cache(24, 2)
    _, pool = _cache(32, 3)
    plain = fit_head(parent, cache, 3, recipe=QUICK, unlabelled=pool)  # weight 0: ignored
    pulled = fit_head(
        parent, cache, 3, recipe=dataclasses.replace(QUICK, unlabelled_distill=2.0),
        unlabelled=pool,
    )  # fmt: skip

    def gap(model: nn.Module) -> float:
        mine = torch.log_softmax(head_logits(model, pool.features[:, 0], QUICK), 1)
        theirs = torch.softmax(pool.parent[:, 0], 1)
        return float(-(theirs * mine).sum(1).mean())

    assert np.isfinite(gap(pulled)) and gap(pulled) < gap(plain)


def _two_of_three(n: int, seed: int) -> tuple[nn.Module, FeatureCache]:
    """Cached maps labelled with classes 0 and 1 only: class 2 has no label (not seen yet)."""
    parent, cache = _cache(n, seed)
    assert set(cache.targets.tolist()) == {0, 1}
    return parent, cache


def _mean_prob(model: nn.Module, cache: FeatureCache, k: int) -> float:
    return float(torch.softmax(head_logits(model, cache.features[:, 0], QUICK), 1)[:, k].mean())


def test_masking_leaves_a_class_without_labels_where_the_parent_had_it() -> None:
    parent, cache = _two_of_three(24, 4)
    recipe = dataclasses.replace(QUICK, distill=ADAPT.distill)  # the parent's answers anchor
    pushed = fit_head(parent, cache, 3, recipe=recipe)
    kept = fit_head(parent, cache, 3, recipe=dataclasses.replace(recipe, mask_absent=True))
    before = _mean_prob(parent, cache, 2)
    # plain cross-entropy teaches "never class 2" on every labelled photo; masked, only the
    # distillation speaks of class 2, and it says what the parent said
    assert _mean_prob(pushed, cache, 2) < 0.67 * before
    assert _mean_prob(kept, cache, 2) > 0.85 * before
    # and the labelled classes are still learnt
    pred = head_logits(kept, cache.features[:, 0], QUICK)[:, :2].argmax(1).numpy()
    assert (pred == cache.targets).mean() >= 0.8  # chance: 0.5


def test_masking_changes_nothing_when_every_class_has_labels() -> None:
    parent, cache = _cache(24, 5)
    cache = FeatureCache(cache.features, cache.parent, np.arange(24) % 3)
    plain = fit_head(parent, cache, 3, recipe=QUICK)
    masked = fit_head(parent, cache, 3, recipe=dataclasses.replace(QUICK, mask_absent=True))
    for (name, a), (_, b) in zip(plain.named_parameters(), masked.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_balanced_weights_give_a_rare_class_more_say_than_one_weight_per_photo() -> None:
    parent, cache = _cache(24, 6)
    y = np.where(cache.targets == 1, 1, 0)
    y[np.flatnonzero(y == 1)[3:]] = 0  # three photos of class 1 among 24
    cache = FeatureCache(cache.features, cache.parent, y)
    balanced = fit_head(parent, cache, 3, recipe=QUICK)
    plain = fit_head(parent, cache, 3, recipe=dataclasses.replace(QUICK, balance=False))
    _, unseen = _cache(48, 8)  # photos neither head trained on: what a head leans towards
    assert _mean_prob(balanced, unseen, 1) > _mean_prob(plain, unseen, 1) + 0.01


def test_without_balance_equal_classes_train_exactly_as_balanced() -> None:
    parent, cache = _cache(24, 7)
    cache = FeatureCache(cache.features, cache.parent, np.arange(24) % 3)
    balanced = fit_head(parent, cache, 3, recipe=QUICK)
    plain = fit_head(parent, cache, 3, recipe=dataclasses.replace(QUICK, balance=False))
    for (name, a), (_, b) in zip(
        balanced.named_parameters(), plain.named_parameters(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), name
