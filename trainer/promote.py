"""Promotion: the gate a new model must pass to replace the model in use, and registration.

The gate compares the new and the active model on the gate slice of the recorded split: images
that neither early stopping nor the temperature fit saw (both used validation), so the comparison
does not lean towards the new model. It decides on a classification metric (macro-F1 by default,
never NLL or ECE, which temperature scaling changes) with a minimum margin, and with fewer than
``MIN_GATE_IMAGES`` gate photos it does not decide at all: only a forced promotion activates.

Registration goes through the store (``Store.register_trained``), which copies the model file
beside the database and re-checks, inside the activating transaction, that the model the gate
compared against is still the active one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.checkpoint import ModelMeta
from engine.i18n import _, format_number, ngettext
from engine.recipe import RECIPE
from trainer.metrics import is_better

GATE_METRICS = ("macro_f1", "balanced_accuracy", "accuracy", "mcc", "weighted_f1")
DEFAULT_MIN_DELTA = RECIPE.min_delta
MIN_GATE_IMAGES = 30


@dataclass
class Decision:
    """Whether the new model may become active, and why (shown to the user)."""

    activate: bool
    reason: str
    metric: str
    new_value: float | None
    active_value: float | None
    active_version: str | None
    active_hash: str | None = None
    n: int = 0
    slice: str = "gate"
    min_delta: float = DEFAULT_MIN_DELTA
    forced: bool = False
    method: str = "gate"  # or "cross-fit" (trainer.decision)
    plain: list[str] = field(default_factory=list)  # the figures in plain words
    details: dict[str, Any] = field(default_factory=dict)  # metric -> {candidate, active}
    checks: dict[str, Any] = field(default_factory=dict)  # each check of the rule, passed or not

    def gate(self) -> dict[str, Any]:
        """The record Store.register_trained and Store.promote check (``passed`` = activate)."""
        return {**dataclasses.asdict(self), "passed": self.activate}


def decide(
    new_val: dict[str, Any],
    active_val: dict[str, Any] | None,
    active_version: str | None,
    *,
    metric: str = RECIPE.promote_metric,
    force: bool = False,
    min_delta: float = DEFAULT_MIN_DELTA,
    comparable: bool = True,
    n: int | None = None,
    active_hash: str | None = None,
) -> Decision:
    """The promotion gate. ``new_val``/``active_val``: both models' metrics on the same gate
    images (``active_val`` None when there is no active model or it could not be scored);
    ``n``: how many gate images (default: ``new_val["n"]``)."""
    if metric not in GATE_METRICS:
        raise ValueError(
            f"{metric!r} cannot decide a promotion (calibration metrics change with the "
            f"temperature); choose one of {', '.join(GATE_METRICS)}"
        )
    count = int(n if n is not None else new_val.get("n") or 0)
    new_value = new_val.get(metric)
    old_value = active_val.get(metric) if active_val else None

    def d(activate: bool, reason: str) -> Decision:
        return Decision(
            activate, reason, metric, new_value, old_value, active_version, active_hash,
            count, "gate", min_delta, force,
        )  # fmt: skip

    if force:
        return d(True, _("forced by the user"))
    if active_version is None:
        return d(True, _("no active model yet"))
    if not comparable or active_val is None:
        return d(
            False,
            _(
                "the active model could not be scored on the gate images "
                "(different classes or unreadable file); use --force-promote to switch"
            ),
        )
    if count < MIN_GATE_IMAGES:
        return d(
            False,
            ngettext(
                "only {n} gate photo (fewer than {least}): too few to tell the models apart; "
                "only a forced promotion can activate it",
                "only {n} gate photos (fewer than {least}): too few to tell the models apart; "
                "only a forced promotion can activate it",
                count,
            ).format(n=count, least=MIN_GATE_IMAGES),
        )
    better = is_better(new_val, active_val, metric, min_delta)
    return d(better, _gate_words(better, metric, new_value, old_value, min_delta, count))


def _gate_words(
    better: bool, metric: str, new_value: Any, old_value: Any, min_delta: float, count: int
) -> str:
    """The gate's comparison in plain words, figures to four places in the language's way."""
    words = (
        ngettext(
            "{metric} {new} beats the active model's {old} by more than {delta} on {n} gate photo",
            "{metric} {new} beats the active model's {old} by more than {delta} on {n} gate photos",
            count,
        )
        if better
        else ngettext(
            "{metric} {new} does not beat the active model's {old} by more than {delta} on {n} "
            "gate photo",
            "{metric} {new} does not beat the active model's {old} by more than {delta} on {n} "
            "gate photos",
            count,
        )
    )
    new_text, old_text = (
        (format_number(new_value, 4), format_number(old_value, 4))
        if isinstance(new_value, (int, float)) and isinstance(old_value, (int, float))
        else (new_value, old_value)
    )
    delta = format_number(min_delta)
    return words.format(metric=metric, new=new_text, old=old_text, delta=delta, n=count)


def register_trained(
    store: Any,
    model_file: Path,
    meta: ModelMeta,
    decision: Decision,
    *,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    metrics: dict[str, Any],
    status: str,
    log: str = "",
    activate: bool = True,
) -> dict[str, Any]:
    """Register through the store; activate only when allowed (``activate``) and the gate still
    holds inside the store's transaction. Returns the Registration as a dict (for reports)."""
    reg = store.register_trained(
        model_file,
        meta,
        activate=activate and decision.activate,
        gate=decision.gate(),
        params=params,
        data_summary=data_summary,
        metrics=metrics,
        status=status,
        log=log,
    )
    return dataclasses.asdict(reg)


def rollback(store: Any, ref: str | None = None) -> Any:
    """Activate ``ref``, or the active model's parent (see Store.rollback)."""
    return store.rollback(ref)
