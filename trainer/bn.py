"""BatchNorm handling for fine-tuning: function-preserving re-estimation, and backbone freezing.

The converted ImageNet backbone has every BatchNorm folded into its convolution (running mean 0,
running var 1 - eps, weight 1): exact at inference, but in training mode BN normalises with the
batch's statistics instead, which are nothing like (0, 1), and the ImageNet features are lost.

:func:`reestimate_bn` measures the real mean/variance of each BN's input on training images (in
eval mode, one pass: since each layer's function is kept, later layers see the same inputs), sets
the running statistics to them and rescales weight/bias so the eval-mode output is unchanged:

    y = w (x - m) / sqrt(v + eps) + b   with  m, v the old running stats
      = w' (x - m') / sqrt(v' + eps) + b'
    w' = w sqrt(v' + eps) / sqrt(v + eps),  b' = b + w (m' - m) / sqrt(v + eps)

In training mode the batch statistics are then close to (m', v'), so training starts close to
the pretrained function.

:func:`freeze_backbone` freezes the first blocks of ``model.features``; their BatchNorms stay in
eval mode even when ``model.train()`` is called (a forward pre-hook enforces it).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def batchnorms(module: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    """Every BatchNorm in ``module`` (with running statistics), with its name."""
    return [
        (n, m)
        for n, m in module.named_modules()
        if isinstance(m, _BN) and m.track_running_stats and m.running_mean is not None
    ]


class _Moments:
    """Per-channel sum, sum of squares and count of a BN's inputs, in float64."""

    def __init__(self, channels: int, device: torch.device) -> None:
        self.s = torch.zeros(channels, dtype=torch.float64, device=device)
        self.ss = torch.zeros(channels, dtype=torch.float64, device=device)
        self.n = 0

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().transpose(0, 1).reshape(x.shape[1], -1).double()
        self.s += x.sum(1)
        self.ss += (x * x).sum(1)
        self.n += x.shape[1]

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.s / self.n
        var = (self.ss / self.n - mean * mean).clamp(min=0)
        if self.n > 1:
            var = var * self.n / (self.n - 1)  # unbiased, as BN's running_var
        return mean, var


@torch.no_grad()
def reestimate_bn(
    model: nn.Module,
    batches: Iterable[torch.Tensor],
    modules: Iterable[nn.modules.batchnorm._BatchNorm] | None = None,
    device: torch.device | str | None = None,
) -> int:
    """Set each BN's running stats to its measured input statistics, keeping the eval function.

    ``batches`` yields input tensors (already normalised images). Returns the number of images
    measured. The model is left in eval mode.
    """
    targets = list(modules) if modules is not None else [m for _, m in batchnorms(model)]
    if not targets:
        return 0
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    moments = {m: _Moments(m.num_features, dev) for m in targets}
    handles = [
        m.register_forward_pre_hook(lambda mod, inp: moments[mod].add(inp[0])) for m in targets
    ]
    model.eval()
    seen = 0
    try:
        for x in batches:
            model(x.to(dev))
            seen += x.shape[0]
    finally:
        for h in handles:
            h.remove()
    if seen == 0:
        return 0
    for m in targets:
        _set_stats_preserving(m, *moments[m].mean_var())
    return seen


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, batches: Iterable[torch.Tensor], device: torch.device | str | None = None
) -> None:
    """Plain BN recalibration (``torch.optim.swa_utils.update_bn``): running stats become the
    average batch statistics in training mode. Changes the function; meant for a randomly
    initialised network, whose eval-mode activations otherwise shrink towards zero."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    torch.optim.swa_utils.update_bn(batches, model, device=dev)
    model.eval()


def _set_stats_preserving(
    bn: nn.modules.batchnorm._BatchNorm, new_mean: torch.Tensor, new_var: torch.Tensor
) -> None:
    old_mean = bn.running_mean.double()
    old_std = (bn.running_var.double() + bn.eps).sqrt()
    new_std = (new_var + bn.eps).sqrt()
    if bn.affine:
        w = bn.weight.detach().double()
        b = bn.bias.detach().double()
    else:  # no parameters to compensate with: only exact when stats already match
        raise ValueError("reestimate_bn needs affine BatchNorm layers")
    new_w = w * new_std / old_std
    new_b = b + w * (new_mean - old_mean) / old_std
    bn.weight.copy_(new_w.to(bn.weight.dtype))
    bn.bias.copy_(new_b.to(bn.bias.dtype))
    bn.running_mean.copy_(new_mean.to(bn.running_mean.dtype))
    bn.running_var.copy_(new_var.to(bn.running_var.dtype))


def _force_eval(module: nn.Module, _inputs: object) -> None:
    module.training = False


def frozen_block_count(n_blocks: int, fraction: float) -> int:
    """How many leading blocks ``fraction`` of ``n_blocks`` freezes (rounded)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"freeze fraction must be within [0, 1], got {fraction}")
    return round(fraction * n_blocks)


def freeze_backbone(model: nn.Module, fraction: float) -> list[RemovableHandle]:
    """Freeze the first ``fraction`` of ``model.features`` blocks (19 in MobileNetV2).

    Frozen parameters get ``requires_grad = False``; frozen BatchNorms are kept in eval mode by a
    forward pre-hook even under ``model.train()``, so their statistics neither drift nor use
    batch statistics. Returns the hook handles (remove them to unfreeze the BN behaviour).
    """
    blocks = list(model.features.children())  # type: ignore[union-attr]
    k = frozen_block_count(len(blocks), fraction)
    handles: list[RemovableHandle] = []
    for block in blocks[:k]:
        for p in block.parameters():
            p.requires_grad_(False)
        for _, bn in batchnorms(block):
            bn.eval()
            handles.append(bn.register_forward_pre_hook(_force_eval))
    return handles


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters the optimiser updates (frozen blocks are left out)."""
    return [p for p in model.parameters() if p.requires_grad]


@torch.no_grad()
def mix_bn_statistics(
    model: nn.Module, images: torch.Tensor, share: float, keep: nn.Module | None = None
) -> None:
    """Move every BatchNorm's running statistics ``share`` of the way towards the statistics
    of ``images`` (one batch, normalised, as screening feeds them), in place; AdaBN at 1.
    The BatchNorms inside ``keep`` (a part of ``model``) keep their statistics.

    Why: a clinic's camera (colour cast, blur, JPEG) shifts what every layer sees; its own
    photos, labelled or not, say by how much. Each layer normalises with the mixed statistics
    during the pass, so the layers after it are measured on what they will really see."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the BatchNorm share must be within [0, 1], got {share}")
    if share == 0 or len(images) == 0:
        return

    def mixed(mod: nn.modules.batchnorm._BatchNorm, inp: tuple, _out: torch.Tensor) -> torch.Tensor:
        x = inp[0]
        dims = [d for d in range(x.dim()) if d != 1]
        mean = (1 - share) * mod.running_mean + share * x.mean(dims)
        var = (1 - share) * mod.running_var + share * x.var(dims, unbiased=True)
        mod.running_mean.copy_(mean)
        mod.running_var.copy_(var)
        return torch.nn.functional.batch_norm(
            x, mean, var, mod.weight, mod.bias, False, 0.0, mod.eps
        )

    kept = {id(m) for _, m in batchnorms(keep)} if keep is not None else set()
    moving = [m for _, m in batchnorms(model) if id(m) not in kept]
    handles = [m.register_forward_hook(mixed) for m in moving]
    model.eval()
    try:
        model(images)
    finally:
        for h in handles:
            h.remove()
