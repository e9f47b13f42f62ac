"""Fine-tuning as the desktop starts it: what will be trained on, the recipe, the child process.

Qt-free. Training goes through ``engine.training.TrainingProcess`` (the trainer as a detached
child process: progress in the run folder, a STOP file to stop cleanly, re-attach after a
restart); what will be trained on is counted here from the store and class folders. The GUI
never imports ``trainer``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.i18n import N_, _, format_percent, ngettext
from engine.images import iter_image_files
from engine.recipe import BALANCING, MONITORS, RECIPE, SCHEDULES, Recipe
from engine.store import Store
from engine.training import STOP_FILE, TrainingProcess, TrainingResult, list_training_runs
from engine.vocabulary import long_name

__all__ = [
    "BALANCING",
    "MONITORS",
    "RECIPE",
    "SCHEDULES",
    "Recipe",
    "TrainingPlan",
    "TrainingProcess",
    "TrainingResult",
    "attach",
    "class_count_text",
    "latest_run",
    "model_file",
    "request_stop",
    "start_training",
    "training_args",
    "training_plan",
]

MIN_PER_CLASS = 10
"""Fewer labelled examples than this in a class leaves its validation share at one or two
images: the comparison with the active model would mean little."""

MIN_LABELS_TO_CHECK = 5
"""The trainer's own floor (trainer.class_plan.MIN_LABELS_PER_CLASS, which its ``classes``
progress event repeats as ``min_labels``): fewer labels, and a class is neither learnt from nor
checked, only kept as the parent knew it. The GUI never imports the trainer; a test keeps the
two equal."""


# --- what will be trained on -----------------------------------------------------------------


@dataclass
class TrainingPlan:
    """What a fine-tuning run would use, shown before anything starts."""

    store_counts: dict[str, int] = field(default_factory=dict)
    folder_counts: dict[str, int] = field(default_factory=dict)
    excluded_refer: int = 0
    unreadable: int = 0
    disputed: int = 0  # clinicians disagree: left out until settled
    warnings: list[str] = field(default_factory=list)
    split_text: str = ""
    split_file: Path | None = None
    model_classes: list[str] = field(default_factory=list)  # a fine-tune keeps every one
    lab_confirmed: int = 0  # labelled photos of visits with a lab result (positive, negative)

    def class_counts(self) -> dict[str, int]:
        """Labels per class of the model in use (0 where none), then any other labelled class."""
        totals = self.totals
        return {c: totals.get(c, 0) for c in self.model_classes} | totals

    @property
    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter(self.store_counts)
        total.update(self.folder_counts)
        return dict(sorted(total.items()))

    @property
    def can_start(self) -> bool:
        return len([c for c, n in self.totals.items() if n > 0]) >= 2


def split_path(store: Store) -> Path:
    """The split recorded for training from the store (trainer.sources.store_split_path)."""
    return Path(store.splits_dir) / "store-split.json"


def count_class_folders(folders: Sequence[Path]) -> dict[str, int]:
    """Images per class in ImageFolder-style folders (``DIR/<class>/...``)."""
    counts: Counter[str] = Counter()
    for folder in folders:
        for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
            counts[sub.name] += len(iter_image_files(sub, recursive=True))
    return dict(counts)


def training_plan(
    store: Store, folders: Sequence[Path] = (), use_store: bool = True
) -> TrainingPlan:
    """Counts per class (store labels, class folders), exclusions, warnings and the split."""
    plan = TrainingPlan()
    if use_store:
        items = store.labelled_images(include_refer=True)
        plan.disputed = sum(1 for i in items if i.disputed)
        items = [i for i in items if not i.disputed]
        plan.excluded_refer = sum(1 for i in items if i.label == "refer")
        plan.unreadable = sum(1 for i in items if i.label != "refer" and i.file is None)
        plan.store_counts = dict(
            sorted(Counter(i.label for i in items if i.label != "refer" and i.file).items())
        )
        confirmed = store.visits.lab_confirmed_hashes()
        plan.lab_confirmed = sum(
            1 for i in items if i.label != "refer" and i.file and i.sha256 in confirmed
        )
    plan.folder_counts = count_class_folders(folders) if folders else {}
    for name, n in plan.totals.items():
        if n < MIN_PER_CLASS:
            plan.warnings.append(
                ngettext(
                    "{name}: only {n} example; at least {min} are needed for a meaningful "
                    "validation split",
                    "{name}: only {n} examples; at least {min} are needed for a meaningful "
                    "validation split",
                    n,
                ).format(name=long_name(name), n=n, min=MIN_PER_CLASS)
            )
    if not plan.can_start:
        plan.warnings.insert(0, _("Training needs labelled images of at least two classes."))
    if plan.disputed:
        plan.warnings.append(
            ngettext(
                "{n} disputed photo left out: clinicians gave it different labels; a third "
                "clinician's label settles it (Show: Disputed)",
                "{n} disputed photos left out: clinicians gave them different labels; a third "
                "clinician's label settles each (Show: Disputed)",
                plan.disputed,
            ).format(n=plan.disputed)
        )
    if plan.unreadable:
        plan.warnings.append(
            ngettext(
                "{n} labelled image has no readable copy and will be skipped",
                "{n} labelled images have no readable copy and will be skipped",
                plan.unreadable,
            ).format(n=plan.unreadable)
        )
    active = store.active_model()
    plan.model_classes = list((active.meta.get("classes") or []) if active else [])
    plan.split_file = split_path(store) if use_store else None
    plan.split_text = _split_text(plan.split_file)
    if use_store and not folders:  # the trainer cross-fits (unless the gate is chosen)
        plan.split_text = _(CROSS_FIT_TEXT)
    return plan


#: What the split line says when every store label both decides and trains (trainer.crossfit).
CROSS_FIT_TEXT = N_(
    "none held out: every label trains the new model, and each is checked by one of 5 fold "
    "models that did not see it (near-duplicates kept together); photos of the reference set "
    "check that nothing the model knew is lost. Choosing 'a held-out gate' under Advanced "
    "holds out a recorded split instead."
)


def class_count_text(counts: dict[str, int], min_labels: int = MIN_LABELS_TO_CHECK) -> str:
    """ "Mpox 12 · Measles 0 (5 more would let it be checked) · ...": labels per class, and how
    many more would let a class short of the trainer's floor be learnt from and checked."""
    parts = []
    for name, n in counts.items():
        part = f"{long_name(name)} {n}"
        if n < min_labels:
            part += " " + _("({n} more would let it be checked)").format(n=min_labels - n)
        parts.append(part)
    return " \u00b7 ".join(parts)


def _split_text(path: Path | None) -> str:
    if path is None or not path.is_file():
        return _(
            "A new split: {share} of each class held out for validation, near-duplicate photos "
            "kept together, seed {seed}; it is recorded so later runs are judged on the same "
            "images."
        ).format(share=format_percent(RECIPE.val_fraction), seed=RECIPE.seed)
    try:
        counts = json.loads(path.read_text(encoding="utf-8")).get("counts", {})
        n_val = sum(counts.get("val", {}).values())
    except (OSError, ValueError, AttributeError):
        return _("The recorded split {path} cannot be read; training will report why.").format(
            path=path
        )
    return _(
        "The recorded split ({n} validation images) is reused; new images are added to it "
        "with the same rule, so the new and active models are judged on the same images."
    ).format(n=n_val)


# --- training in a child process (engine.training) ------------------------------------------------


def start_training(
    args: list[str], db: str, run_dir: Path | None, store: Store | None = None
) -> TrainingProcess:
    """The trainer in a detached child process; its model is registered, not activated. Its
    audit events name the clinician acting on ``store`` (the app's)."""
    who = store.audit.who() if store is not None else None
    return TrainingProcess.start(args, db=db, run_dir=run_dir, who=who)


def attach(run_dir: Path) -> TrainingProcess:
    """The run in ``run_dir`` again (still running, or finished while the app was closed)."""
    return TrainingProcess.attach(run_dir)


def request_stop(proc: TrainingProcess) -> None:
    """Ask for a clean stop without waiting (the app may be closing): the STOP file makes the
    trainer finish its step and keep the best model; ``proc.stop()`` escalates, but blocks."""
    (proc.run_dir / STOP_FILE).touch()


def model_file(result: TrainingResult | None) -> Path | None:
    """The new model's file, when the run produced one."""
    return Path(result.model_path) if result is not None and result.model_path else None


def latest_run(root: Path | None = None) -> Path | None:
    """The newest training run folder (to re-attach to after a restart)."""
    runs = list_training_runs(root)
    return runs[0].run_dir if runs else None


def training_args(
    settings: dict[str, Any], folders: Sequence[Path], use_store: bool, lab_only: bool = False
) -> list[str]:
    """The trainer's command-line arguments for the dialog's settings; ``lab_only``: the
    store's photos of lab-confirmed visits only."""
    args: list[str] = ["--from-store"] if use_store else []
    if use_store and lab_only:
        args.append("--lab-confirmed-only")
    for folder in folders:
        args += ["--data", str(folder)]
    flags = {
        "epochs": "--epochs", "freeze": "--freeze", "lr": "--lr", "batch_size": "--batch-size",
        "device": "--device", "patience": "--patience", "weight_decay": "--weight-decay",
        "val_fraction": "--val-fraction", "seed": "--seed", "schedule": "--schedule",
        "monitor": "--monitor",
        "balance": "--balance", "input_size": "--input-size", "threads": "--threads",
        "name": "--name", "init": "--init", "decision": "--decision",
    }  # fmt: skip
    for key, flag in flags.items():
        value = settings.get(key)
        if value not in (None, ""):
            args += [flag, str(value)]
    if settings.get("augment") is False:
        args.append("--no-augment")
    return args
