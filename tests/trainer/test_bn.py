"""BatchNorm: re-estimation keeps the function; ImageNet predictions survive training mode;
frozen BatchNorms stay in eval mode under model.train()."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
import torch
from torchvision.transforms import v2

from engine.images import load_image
from trainer.bn import batchnorms, freeze_backbone, reestimate_bn
from trainer.initial_model import imagenet_model


def _shifted_batches(seed: int, n: int = 2, size: int = 48) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(6, 3, size, size, generator=g) * 0.6 + 0.3 for _ in range(n)]


def test_reestimation_preserves_eval_function_and_sets_real_statistics() -> None:
    model, _ = imagenet_model(["a", "b", "c"], seed=0)
    model.eval()
    probe = torch.randn(4, 3, 48, 48, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        before = model(probe)
    old = {n: bn.running_mean.clone() for n, bn in batchnorms(model)}
    seen = reestimate_bn(model, _shifted_batches(1))
    assert seen == 12
    with torch.no_grad():
        after = model(probe)
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4)
    changed = [n for n, bn in batchnorms(model) if not torch.allclose(bn.running_mean, old[n])]
    assert len(changed) == len(old)  # every BN got measured statistics (converted ones were 0)


def test_identity_bn_in_training_mode_changes_the_function_but_reestimated_does_not() -> None:
    """Training-mode output on the data BN was estimated on must match eval-mode output."""
    batch = torch.cat(_shifted_batches(2))
    fresh, _ = imagenet_model(["a", "b", "c"], seed=0)
    with torch.no_grad():
        fresh.eval()
        ref = fresh.forward_features(batch)
        model = copy.deepcopy(fresh)  # before any training-mode pass moves running stats
        fresh.train()
        identity_train = fresh.forward_features(batch)
        reestimate_bn(model, [batch])
        model.train()
        reest_train = model.forward_features(batch)

    def rel(x: torch.Tensor) -> float:
        return float((x - ref).norm() / ref.norm())

    assert rel(reest_train) < 0.02
    assert rel(identity_train) > 0.3  # the failure re-estimation exists to prevent


def test_frozen_blocks_keep_eval_bn_and_no_gradients() -> None:
    model, _ = imagenet_model(["a", "b"], seed=0)
    freeze_backbone(model, 0.45)
    blocks = list(model.features.children())
    n_frozen = round(0.45 * len(blocks))
    assert n_frozen == 9
    frozen_bns = [bn for b in blocks[:n_frozen] for _, bn in batchnorms(b)]
    live_bns = [bn for b in blocks[n_frozen:] for _, bn in batchnorms(b)]
    stats = [bn.running_mean.clone() for bn in frozen_bns]
    live_stats = [bn.running_mean.clone() for bn in live_bns]
    model.train()
    model(torch.randn(4, 3, 48, 48))
    assert all(not bn.training for bn in frozen_bns)
    assert all(bn.training for bn in live_bns)
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(stats, frozen_bns, strict=True))
    assert any(
        not torch.equal(a, bn.running_mean) for a, bn in zip(live_stats, live_bns, strict=True)
    )
    assert all(not p.requires_grad for b in blocks[:n_frozen] for p in b.parameters())
    assert all(p.requires_grad for b in blocks[n_frozen:] for p in b.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())


@pytest.mark.shared
def test_imagenet_top1_survives_training_mode_after_reestimation(shared_dir: Path) -> None:
    """The four sample photos keep their ImageNet answers in a training-mode batch (with 28 skin
    photos, as in fine-tuning) once BN is re-estimated on skin photos; with the converted
    identity BN they do not."""
    from engine.model.imagenet import load_imagenet_classifier

    clf, info = load_imagenet_classifier()
    labels = info["labels"]
    t = v2.Compose(
        [
            v2.ToImage(),
            v2.Resize((224, 224), antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(info["mean"], info["std"]),
        ]
    )
    sample_files = sorted((shared_dir / "weights" / "imagenet_samples").iterdir())
    samples = torch.stack([t(load_image(p)) for p in sample_files])
    photos = sorted((shared_dir / "datasets" / "msid").glob("*/*.png"))
    random.Random(0).shuffle(photos)
    train = torch.stack([t(load_image(p)) for p in photos[:64]])
    batch_mates = torch.stack([t(load_image(p)) for p in photos[64:92]])
    with torch.no_grad():
        expected = clf(samples).argmax(1)
        assert [labels[i] for i in expected] == [
            "chickadee",
            "Egyptian cat",
            "military uniform",
            "macaw",
        ]
        identity = copy.deepcopy(clf).train()
        identity.classifier.eval()  # dropout off: compare the features' answer only
        broken = identity(torch.cat([samples, batch_mates]))[:4].argmax(1)
        reestimate_bn(clf, [train[:32], train[32:]])
        assert torch.equal(clf.eval()(samples).argmax(1), expected)
        clf.train()
        clf.classifier.eval()
        kept = clf(torch.cat([samples, batch_mates]))[:4].argmax(1)
    assert torch.equal(kept, expected), [labels[i] for i in kept]
    assert not torch.equal(broken, expected)
