"""The fine-tuning recipe's defaults and choices, defined once.

The trainer's ``FitConfig``/``TrainOptions`` and its CLI take their defaults from here, and so
does the desktop's fine-tune dialog (through its services): the desktop never imports the trainer,
which runs in a child process, yet both must offer the same recipe. Plain values, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ADAPT",
    "BALANCING",
    "BN_MODES",
    "DECISION",
    "MONITORS",
    "OUTCOMES",
    "RECIPE",
    "SCHEDULES",
    "AdaptRecipe",
    "DecisionRule",
    "Recipe",
]

MONITORS = ("macro_f1", "accuracy", "val_loss")
BALANCING = ("sampler", "loss", "none")
SCHEDULES = ("constant", "plateau", "cosine")
BN_MODES = ("auto", "preserve", "recalibrate", "none")
OUTCOMES = ("brier", "accuracy")


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


@dataclass(frozen=True)
class AdaptRecipe:
    """How a clinic fine-tune re-fits the head on cached backbone features (trainer.adapt).

    ``views``: one plain view plus augmented ones per photo, each through the backbone once.
    ``distill``: the share of the loss that pulls towards the parent's softened outputs (at
    ``distill_temperature``), which keeps classes the clinic has not labelled; ``mask_absent``
    leaves those classes out of the cross-entropy, which would otherwise teach "never this class"
    on every labelled photo. An epoch passes every view of every photo once. Chosen on
    ``bench/dev2_adaptation.py`` (docs/adaptation_dev.md): photos the parent never saw."""

    views: int = 6
    train_blocks: int = 0  # the backbone's last blocks trained with the head (0: head only)
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    distill: float = 0.7
    distill_temperature: float = 2.0
    augmentation: str = "phone"
    seed: int = 0
    l2sp: float = 0.0  # weight of the squared distance of the trained weights from the parent's
    unlabelled_distill: float = 0.0  # weight of the KL to the parent on unlabelled clinic photos
    bn_share: float = 0.1  # share of the clinic's own statistics in the backbone's BatchNorms
    # whose photos those statistics come from: "clinic" (the store's most recent photos,
    # labelled or only screened) or "labelled" (the labelled photos only)
    bn_pool: str = "clinic"
    bn_from: int = 0  # the first backbone block whose BatchNorms move (0: every one)
    mask_absent: bool = True  # cross-entropy only over the classes the labels hold
    balance: bool = True  # cross-entropy weighted by inverse class frequency (False: each photo 1)


@dataclass(frozen=True)
class DecisionRule:
    """When a clinic fine-tune replaces the model in use (trainer.decision), declared before any
    figure is read.

    ``folds``: k of the cross-fitting on the clinic's labels. ``outcome``: what is compared per
    photo: "brier" (the Brier score of each model's probabilities, at the model's own best
    temperature, and the candidate must be right on at least as many photos) or "accuracy"
    (right or wrong). ``level``: the share of bootstrap resamples of the paired per-photo
    outcomes in which the candidate must do better than the model in use. ``reference_drop``:
    the most macro-F1 the candidate may lose on the shipped reference set. ``chance_p``: the
    candidate's out-of-fold accuracy must beat guessing the commonest class at this one-sided
    p-value (labels that cannot be learnt decide nothing).
    ``crossfit_max``: above this many labels a plain held-out gate (>= 100 photos) decides.
    ``keep_mpox``: raise the candidate's Mpox logit just enough that, out of fold, it catches as
    many of the clinic's Mpox photos as the model in use (trainer.mpox_point), then judge it."""

    folds: int = 5
    outcome: str = "brier"
    level: float = 0.80
    bootstrap: int = 2000
    reference_drop: float = 0.02
    chance_p: float = 0.01  # real dev runs: p <= 0.0009; shuffled controls: p >= 0.56
    crossfit_max: int = 700
    keep_mpox: bool = True
    seed: int = 0


#: The defaults a clinic fine-tune uses unless told otherwise.
ADAPT = AdaptRecipe()
DECISION = DecisionRule()
