"""The fine-tuning recipe's defaults and choices, defined once.

The trainer's ``FitConfig``/``TrainOptions`` and its CLI take their defaults from here, and so
does the desktop's fine-tune dialog (through its services): the desktop never imports the trainer,
which runs in a child process, yet both must offer the same recipe. Plain values, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BALANCING", "BN_MODES", "MONITORS", "RECIPE", "SCHEDULES", "Recipe"]

MONITORS = ("macro_f1", "accuracy", "val_loss")
BALANCING = ("sampler", "loss", "none")
SCHEDULES = ("constant", "plateau", "cosine")
BN_MODES = ("auto", "preserve", "recalibrate", "none")


@dataclass(frozen=True)
class Recipe:
    """The authors' recipe (Adam 1e-4, batch 32, cross-entropy, <= 100 epochs, early stopping),
    with the share of the backbone kept frozen and the label shares held out for checks."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    patience: int = 10
    monitor: str = "macro_f1"
    balance: str = "sampler"
    schedule: str = "constant"
    seed: int = 0
    freeze: float = 0.45
    bn: str = "auto"
    val_fraction: float = 0.15
    gate_fraction: float = 0.15
    test_fraction: float = 0.0  # a training run holds no test part out unless asked
    split_test_fraction: float = 0.15  # ``trainer split`` does, by default
    min_delta: float = 0.01  # the margin a new model must beat the active one by on the gate
    promote_metric: str = "macro_f1"
    hash_threshold: int = 10  # pHash Hamming distance (of 64 bits) that makes near-duplicates


#: The defaults every entry point offers.
RECIPE = Recipe()
