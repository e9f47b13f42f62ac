"""What a clinician should know before a model screens (Qt-free, run on a worker thread).

Two questions: which safety checks a model file carries (the out-of-scope guard, a calibration
temperature, the ONNX screening graph), and whether activating a version needs a reason (it
scored lower than the model in use, was never evaluated, or lacks a check). The answers are
sentences shown as they are, in plain words; the rules live in engine.activation, which the
command line shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.activation import (
    ActivationReview,
    Mark,
    ModelChecks,
    activation_concerns,
    activation_history,
    checks_of,
    missing_checks,
    review_activation,
    score_concerns,
)
from engine.store import Store

__all__ = [
    "ActivationReview",
    "Mark",
    "ModelChecks",
    "activation_concerns",
    "activation_history",
    "check_lines",
    "checks_of",
    "comparison_checks",
    "missing_checks",
    "missing_lines",
    "review_activation",
    "score_concerns",
]


def comparison_checks(store: Store, new_model: Path) -> dict[str, Any]:
    """The checks of the comparison's new model and of the model in use, and what the new one
    lacks (the model in use now: the one a promotion would replace)."""
    active = store.active_model()
    new, old = checks_of(new_model), checks_of(active.path if active is not None else None)
    return {"new": new, "active": old, "missing": missing_lines(new, old)}


def check_lines(checks: ModelChecks) -> list[str]:
    """One line per check, in the user's language."""
    return checks.lines()


def missing_lines(new: ModelChecks, active: ModelChecks) -> list[str]:
    """What the new model lacks that the model in use has, in the user's language."""
    return missing_checks(new, active, "new")
