"""The training loop: Adam + cross-entropy, validation every epoch, early stopping, clean stop.

The best model so far (by the monitored validation metric) is written atomically to
``best.safetensors`` in the run folder after every improvement, so a stop -- or a crash -- never
loses more than the epoch in progress, and the file on disk is always whole.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from engine.checkpoint import ModelMeta, save_model
from engine.recipe import BALANCING, MONITORS, RECIPE, SCHEDULES
from trainer.bn import trainable_parameters
from trainer.calibration import softmax_t
from trainer.data import balanced_sampler, class_weights
from trainer.metrics import classification_metrics
from trainer.progress import Reporter, StopControl


@dataclass
class FitConfig:
    """How one fit runs; the recipe's defaults come from engine.recipe (the authors' recipe,
    which the CLI and the desktop's fine-tune dialog offer too)."""

    epochs: int = RECIPE.epochs
    batch_size: int = RECIPE.batch_size
    lr: float = RECIPE.lr
    weight_decay: float = RECIPE.weight_decay
    patience: int = RECIPE.patience
    monitor: str = RECIPE.monitor
    balance: str = RECIPE.balance
    seed: int = RECIPE.seed
    num_workers: int = 0
    schedule: str = RECIPE.schedule
    label_smoothing: float = 0.0
    ema_decay: float = 0.0  # 0: off; else validate and keep an exponential moving average
    warmup_epochs: int = 0  # linear warm-up before the constant or cosine schedule
    keep_last: bool = False  # keep the last epoch (an epoch count chosen by cross-validation)
    mix: float = 0.0  # share of batches mixed: MixUp (alpha 0.2) or CutMix (alpha 1), half each

    def validate(self) -> None:
        """Refuse a configuration the loop cannot run, before any data is read."""
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch size and patience must be at least 1")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError("learning rate must be > 0 and weight decay >= 0")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if self.balance not in BALANCING:
            raise ValueError(f"balance must be one of {BALANCING}, got {self.balance!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 <= self.label_smoothing < 1 or not 0 <= self.ema_decay < 1:
            raise ValueError("label smoothing and EMA decay must be in [0, 1)")
        if not 0 <= self.mix <= 1:
            raise ValueError("mix (the share of mixed batches) must be in [0, 1]")
        if self.warmup_epochs < 0 or (self.warmup_epochs and self.schedule == "plateau"):
            raise ValueError("warm-up needs a constant or cosine schedule and >= 0 epochs")


@dataclass
class FitResult:
    """How a fit ended and the best weights it saw (the caller decides what to keep)."""

    status: str  # "finished" (epoch limit) | "early_stopped" | "stopped"
    best_epoch: int | None
    best_state: dict[str, torch.Tensor] | None
    best_val: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    epochs_run: int = 0
    train_seconds: float = 0.0
    images_seen: int = 0


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; ask torch for deterministic kernels where it has them."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _worker_init(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def make_train_loader(
    dataset: Dataset[Any], targets: list[int], num_classes: int, config: FitConfig
) -> DataLoader[Any]:
    """Shuffled (or class-balanced) batches from a seeded generator: same seed, same batches."""
    generator = torch.Generator().manual_seed(config.seed)
    sampler = (
        balanced_sampler(targets, num_classes, generator) if config.balance == "sampler" else None
    )
    n = len(targets)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator,
        num_workers=config.num_workers,
        worker_init_fn=_worker_init,
        # a last batch of one breaks BatchNorm in training mode; drop it only then
        drop_last=n > config.batch_size and n % config.batch_size == 1,
        persistent_workers=config.num_workers > 0,
    )


@torch.no_grad()
def predict_logits(
    model: nn.Module, loader: DataLoader[Any], device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Logits and targets for a whole loader, in eval mode."""
    was_training = model.training
    model.eval()
    logits: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    for x, y in loader:
        logits.append(model(x.to(device, memory_format=torch.channels_last)).float().cpu())
        targets.append(torch.as_tensor(y))
    model.train(was_training)
    if not logits:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    return torch.cat(logits).numpy(), torch.cat(targets).numpy()


def make_scheduler(optimizer: torch.optim.Optimizer, config: FitConfig) -> Any:
    """Learning-rate schedule per epoch: constant (the authors' recipe), halve on a plateau of
    the monitored metric (after patience // 3 epochs), or cosine decay over the epoch limit."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.5, patience=max(1, config.patience // 3)
        )
    warm = config.warmup_epochs
    if warm:  # linear ramp over ``warm`` epochs, then constant or cosine over the rest

        def factor(epoch: int) -> float:
            if epoch < warm:
                return (epoch + 1) / (warm + 1)
            if config.schedule != "cosine":
                return 1.0
            done = (epoch - warm) / max(1, config.epochs - warm)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


def make_ema(model: nn.Module, config: FitConfig) -> nn.Module | None:
    """An exponential moving average of the weights (and BatchNorm buffers), or None."""
    if not config.ema_decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(
        model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True
    )


def _score(monitor: str, val: dict[str, Any]) -> tuple[float, ...]:
    loss = val.get("nll", math.inf)
    if monitor == "val_loss":
        return (-loss,)
    return (val.get(monitor, -math.inf), -loss)  # ties broken by lower validation loss


@dataclass
class _Loop:
    """The training loop's parts and the state it carries from one epoch to the next."""

    loader: DataLoader[Any]
    steps: int
    weight: torch.Tensor | None
    optimizer: torch.optim.Optimizer
    scheduler: Any
    ema: nn.Module | None
    scored: nn.Module  # what is validated and kept: the EMA when there is one, else the model
    start: float = 0.0
    best_score: tuple[float, ...] | None = None
    bad_epochs: int = 0
    step_times: list[float] = field(default_factory=list)
    epoch_overhead: list[float] = field(default_factory=list)
    mixer: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None
    classes: int = 0


def fit(
    model: nn.Module,
    train_set: Dataset[Any],
    train_targets: list[int],
    val_loader: DataLoader[Any],
    classes: list[str],
    config: FitConfig,
    device: torch.device,
    run_dir: Path,
    checkpoint_meta: ModelMeta,
    reporter: Reporter,
    stop: StopControl,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> FitResult:
    """Train ``model`` in place; keep and return the best validated state.

    ``model`` should already be frozen/re-estimated as wanted; only parameters with
    ``requires_grad`` are optimised.
    """
    config.validate()
    # NHWC runs MobileNet's depthwise convolutions ~1.5x faster on CPU (oneDNN); undone below
    model.to(memory_format=torch.channels_last)
    loop = _make_loop(model, train_set, train_targets, len(classes), config, device)
    result = FitResult(status="finished", best_epoch=None, best_state=None)
    loop.start = time.monotonic()
    best_path = run_dir / "best.safetensors"

    for epoch in range(1, config.epochs + 1):
        if stop.requested:
            break
        running, seen = _train_epoch(model, loop, epoch, config, device, reporter, stop, result)
        if stop.requested and result.best_state is not None:
            break  # a partial epoch is not validated; the best validated model stands
        val, score, improved = _validate_epoch(
            loop, epoch, val_loader, classes, config, device, result, checkpoint_meta, best_path
        )
        _step_scheduler(loop.scheduler, score)
        result.epochs_run = epoch
        row = _epoch_row(loop, epoch, config, running, seen, val, improved, result, stop)
        result.history.append(row)
        _announce_epoch(reporter, row, improved)
        if on_epoch is not None:
            on_epoch(row)
        if loop.bad_epochs >= config.patience:
            result.status = "early_stopped"
            break
    if stop.requested:
        result.status, result.stop_reason = "stopped", stop.reason
    result.train_seconds = time.monotonic() - loop.start
    model.to(memory_format=torch.contiguous_format)
    return result


def _make_loop(
    model: nn.Module,
    train_set: Dataset[Any],
    train_targets: list[int],
    k: int,
    config: FitConfig,
    device: torch.device,
) -> _Loop:
    """Build the loader, loss weights, optimiser, schedule and EMA that one fit trains with."""
    loader = make_train_loader(train_set, train_targets, k, config)
    weight = class_weights(train_targets, k).to(device) if config.balance == "loss" else None
    optimizer = torch.optim.Adam(
        trainable_parameters(model), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = make_scheduler(optimizer, config)
    ema = make_ema(model, config)
    scored = ema.module if ema is not None else model
    loop = _Loop(loader, len(loader), weight, optimizer, scheduler, ema, scored)
    loop.mixer, loop.classes = make_mixer(config, k), k
    return loop


def make_mixer(config: FitConfig, k: int) -> Callable[..., Any] | None:
    """Batch mixing (torchvision's MixUp / CutMix on ``config.mix`` of the batches), or None.
    Small data sets overfit within a few epochs; mixing is the usual remedy."""
    if not config.mix:
        return None
    from torchvision.transforms import v2

    choice = v2.RandomChoice(
        [v2.MixUp(alpha=0.2, num_classes=k), v2.CutMix(alpha=1.0, num_classes=k)]
    )
    return v2.RandomApply([choice], p=config.mix)


def _targets(loop: _Loop, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch and its targets: class indices, or class probabilities when mixing is on
    (unmixed batches as one-hot, so every batch's loss has the same form)."""
    if loop.mixer is None:
        return x, y
    x, t = loop.mixer(x, y)
    return x, (t if t.is_floating_point() else F.one_hot(t, loop.classes).to(x.dtype))


def _train_epoch(
    model: nn.Module,
    loop: _Loop,
    epoch: int,
    config: FitConfig,
    device: torch.device,
    reporter: Reporter,
    stop: StopControl,
    result: FitResult,
) -> tuple[float, int]:
    """One pass over the training batches (until a stop); returns the summed loss and count."""
    model.train()
    reporter.epoch_bar(epoch, config.epochs, loop.steps)
    running, seen = 0.0, 0
    for step, (x, y) in enumerate(loop.loader, start=1):
        if stop.requested:
            break
        t0 = time.monotonic()
        x = x.to(device, non_blocking=True, memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        x, target = _targets(loop, x, y)
        loop.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(
            model(x), target, weight=loop.weight, label_smoothing=config.label_smoothing
        )
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch} step {step}")
        loss.backward()
        loop.optimizer.step()
        if loop.ema is not None:
            loop.ema.update_parameters(model)
        running += loss.item() * len(y)
        seen += len(y)
        result.images_seen += len(y)
        loop.step_times.append(time.monotonic() - t0)
        _report_step(reporter, loop, epoch, step, config, running / seen)
    reporter.close_bar()
    return running, seen


def _report_step(
    reporter: Reporter, loop: _Loop, epoch: int, step: int, config: FitConfig, loss: float
) -> None:
    """A step event with the epoch's running loss and an ETA from the recent step times."""
    steps = loop.steps
    per_step = float(np.mean(loop.step_times[-50:]))
    overhead = float(np.mean(loop.epoch_overhead)) if loop.epoch_overhead else 0
    per_epoch = per_step * steps + overhead
    reporter.step(
        force=step == steps,
        epoch=epoch,
        epochs=config.epochs,
        step=step,
        steps=steps,
        loss=loss,
        lr=loop.optimizer.param_groups[0]["lr"],
        elapsed_s=round(time.monotonic() - loop.start, 2),
        eta_s=round(per_step * (steps - step) + per_epoch * (config.epochs - epoch), 1),
    )


def _validate_epoch(
    loop: _Loop,
    epoch: int,
    val_loader: DataLoader[Any],
    classes: list[str],
    config: FitConfig,
    device: torch.device,
    result: FitResult,
    checkpoint_meta: ModelMeta,
    best_path: Path,
) -> tuple[dict[str, Any], tuple[float, ...], bool]:
    """Score the epoch on validation; on improvement keep its state and rewrite the checkpoint."""
    t_val = time.monotonic()
    logits, y_val = predict_logits(loop.scored, val_loader, device)
    val = classification_metrics(y_val, softmax_t(logits), classes) if len(y_val) else {}
    loop.epoch_overhead.append(time.monotonic() - t_val)
    score = _score(config.monitor, val)
    improved = config.keep_last or loop.best_score is None or score > loop.best_score
    if improved:
        loop.best_score, loop.bad_epochs = score, 0
        result.best_epoch, result.best_val = epoch, val
        result.best_state = copy.deepcopy(
            {k_: v.detach().cpu() for k_, v in loop.scored.state_dict().items()}
        )
        meta = dataclasses.replace(
            checkpoint_meta,
            metrics={"val": _brief(val)},
            training={**checkpoint_meta.training, "best_epoch": epoch},
        )
        save_model(best_path, loop.scored, meta)
    else:
        loop.bad_epochs += 1
    return val, score, improved


def _step_scheduler(scheduler: Any, score: tuple[float, ...]) -> None:
    """Advance the learning-rate schedule once per validated epoch (plateau: on the score)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(score[0])
    elif scheduler is not None:
        scheduler.step()


def _epoch_row(
    loop: _Loop,
    epoch: int,
    config: FitConfig,
    running: float,
    seen: int,
    val: dict[str, Any],
    improved: bool,
    result: FitResult,
    stop: StopControl,
) -> dict[str, Any]:
    """The history row (and ``epoch`` event) of one validated epoch, with ETAs."""
    per_step = float(np.mean(loop.step_times[-50:]))
    per_epoch = per_step * loop.steps + float(np.mean(loop.epoch_overhead))
    best_score, bad_epochs = loop.best_score, loop.bad_epochs
    row = {
        "epoch": epoch,
        "epochs": config.epochs,
        "train_loss": running / seen if seen else None,
        "val_loss": val.get("nll"),
        "val_accuracy": val.get("accuracy"),
        "val_macro_f1": val.get("macro_f1"),
        "improved": improved,
        "best_epoch": result.best_epoch,
        "best_score": best_score[0] if best_score else None,
        "bad_epochs": bad_epochs,
        "patience": config.patience,
        "elapsed_s": round(time.monotonic() - loop.start, 2),
        "eta_s": round(per_epoch * (config.epochs - epoch), 1),
        "eta_patience_s": round(
            per_epoch * min(config.patience - bad_epochs, config.epochs - epoch), 1
        ),
    }
    if stop.requested:
        row["partial"] = seen < loop.steps * config.batch_size
    return row


def _announce_epoch(reporter: Reporter, row: dict[str, Any], improved: bool) -> None:
    """Emit the ``epoch`` event and its one-line summary for people."""
    reporter.emit("epoch", **row)
    reporter.say(
        f"epoch {row['epoch']}: train loss {_num(row['train_loss']):.4f}  "
        f"val loss {_num(row['val_loss']):.4f}  "
        f"val acc {_num(row['val_accuracy']):.3f}  "
        f"macro-F1 {_num(row['val_macro_f1']):.3f}" + ("  *" if improved else "")
    )


def _num(x: float | None) -> float:
    return math.nan if x is None else x


def _brief(val: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "accuracy", "macro_f1", "weighted_f1", "mcc", "nll", "ece")
    return {k: val[k] for k in keys if k in val}
