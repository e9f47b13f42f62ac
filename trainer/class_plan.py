"""Which classes a run trains, and how many labels each has.

A fine-tune keeps every class of its parent, in the parent's order, whatever the clinic's labels
cover: a clinic that has not seen Measles yet must still get a model that can answer Measles.
The model starts from the parent's weights, classifier included, so a class without labels keeps
what the parent knew. Changing the class list is a separate, deliberate act (``--classes``); the
change is recorded in the model's metadata so the registry lets that model be activated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.modelmeta import read_meta
from trainer.data import DataError, Skipped

#: Labels a class needs before anything can be said about it. Why 5: the split holds out about a
#: fifth of a class for validation, so 5 labels is the least that leaves one photo to check the
#: class on and still trains on the other four; fewer, and the class is neither learnt from nor
#: checked, only kept as the parent knew it.
MIN_LABELS_PER_CLASS = 5


class NotEnoughLabels(DataError):
    """No class has enough labels to decide anything: the run refuses (exit status 2)."""


@dataclass
class ClassPlan:
    """The run's class list and how it relates to the parent's."""

    classes: list[str]
    parent: list[str] | None = None
    changes: list[str] = field(default_factory=list)  # "+ Scabies", "− Measles"

    @property
    def deliberate(self) -> bool:
        """True when ``--classes`` changed the parent's class list (recorded in the model)."""
        return bool(self.changes)

    def training_params(self) -> dict[str, object]:
        """What the model's metadata records about its classes (the registry reads it)."""
        if not self.deliberate:
            return {}
        return {"classes_changed_deliberately": True, "classes_changes": list(self.changes)}

    def note(self) -> str:
        """The change named for the comparison ("classes changed: + Scabies, − Measles")."""
        return f"classes changed: {', '.join(self.changes)}" if self.changes else ""


def parent_classes(init: str, active_path: Path | None) -> list[str] | None:
    """The classes of the model a run starts from, or None for a fresh start (no parent)."""
    if init in ("imagenet", "random"):
        return None
    path = active_path if init in ("auto", "active") else Path(init)
    if path is None or not path.is_file():
        return None  # start_model says why when the file was asked for
    return list(read_meta(path).classes)


def plan_classes(
    parent: Sequence[str] | None, requested: Sequence[str] | None, labels: Sequence[str]
) -> ClassPlan:
    """The parent's classes unless ``requested`` (``--classes``) changes them on purpose;
    without a parent, the classes the labels cover (``requested`` only selects among them)."""
    if parent is None:
        return ClassPlan(sorted(set(labels)))
    if not requested:
        return ClassPlan(list(parent), list(parent))
    wanted = list(dict.fromkeys(requested))
    changes = [f"+ {c}" for c in wanted if c not in parent]
    changes += [f"− {c}" for c in parent if c not in wanted]
    return ClassPlan(wanted, list(parent), changes)


def label_counts(plan: ClassPlan, labels: Sequence[str]) -> dict[str, int]:
    """Labelled photos per class of the plan, 0 for a class with none."""
    found = Counter(labels)
    return {c: found.get(c, 0) for c in plan.classes}


def count_lines(plan: ClassPlan, counts: dict[str, int]) -> list[str]:
    """Per class: how many labels it has, and how many more would let it be checked."""
    lines = []
    for c, n in counts.items():
        line = f"{c}: {n} label{'s' if n != 1 else ''}"
        if n < MIN_LABELS_PER_CLASS:
            if plan.parent is not None and c in plan.parent:
                line += " — keeps the parent's knowledge"
            line += f"; {MIN_LABELS_PER_CLASS - n} more would let it be checked"
        lines.append(line)
    return lines


def check_enough(plan: ClassPlan, counts: dict[str, int], skipped: Sequence[Skipped] = ()) -> None:
    """Refuse (exit 2) only when no class has enough labels to decide anything, saying what was
    left out and why (a store whose labelled photos were all forgotten has labels, no photos)."""
    if any(n >= MIN_LABELS_PER_CLASS for n in counts.values()):
        return
    message = (
        f"no class has enough labels to decide anything (each needs at least "
        f"{MIN_LABELS_PER_CLASS}): " + "; ".join(count_lines(plan, counts))
    )
    if skipped:
        reasons = Counter(s.reason for s in skipped).most_common(3)
        shown = "; ".join(f"{n} {reason}" for reason, n in reasons)
        message += f"; {len(skipped)} labelled photos were skipped ({shown})"
    raise NotEnoughLabels(message)
