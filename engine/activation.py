"""Whether a model may screen without a second thought, and the record when it does anyway.

Activating or rolling back to a version its records advise against (it scored lower than the
model in use, was never evaluated or compared, or lacks a check such as the out-of-scope guard)
needs a reason; the activation is then recorded as forced, with who, when and why, on the
model's row (``meta["activations"]``). While such a model is active it carries a mark (forced,
untrained, no guard) that the desktop shows in its status bar. The desktop and the command line
ask the same questions here. Reads model files' headers and guard tensors only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.guard import read_guard_tensors
from engine.i18n import N_, format_number
from engine.i18n import gettext as _
from engine.modelmeta import graph_path, read_meta
from engine.store import ModelInfo, Store, StoreError
from engine.store.registry import ACTIVATIONS, ActivationNote

METRIC_NAMES = {
    "macro_f1": N_("macro-F1"),
    "accuracy": N_("accuracy"),
    "balanced_accuracy": N_("balanced accuracy"),
}
NO_GUARD = N_("it has no out-of-scope guard: it cannot flag photos that are not skin")
#: What a model lacks, said of "the new model" (a comparison) or of "this model" (activation).
_LACKS = {
    "new": {
        "unreadable": N_("the new model's file could not be read"),
        "guard": N_("the new model has no out-of-scope guard: it cannot flag non-skin pictures"),
        "calibration": N_(
            "the new model is not calibrated: its percentages may read more certain than it is"
        ),
        "graph": N_("the new model has no ONNX screening graph: screening will be slower"),
    },
    "this": {
        "unreadable": N_("this model's file could not be read"),
        "guard": N_("this model has no out-of-scope guard: it cannot flag non-skin pictures"),
        "calibration": N_(
            "this model is not calibrated: its percentages may read more certain than it is"
        ),
        "graph": N_("this model has no ONNX screening graph: screening will be slower"),
    },
}


class ReasonNeeded(StoreError):
    """The records advise against the model and no reason was given (``concerns`` say why)."""

    def __init__(self, message: str, concerns: list[str]) -> None:
        super().__init__(message)
        self.concerns = concerns


@dataclass(frozen=True)
class ModelChecks:
    """The checks one model file carries (None: the file could not be read)."""

    guard: bool | None
    temperature: float | None
    graph: bool

    @property
    def calibrated(self) -> bool:
        return self.temperature is not None and abs(self.temperature - 1.0) > 1e-6

    def lines(self) -> list[str]:
        """One line per check, for the comparison's list, in the user's language."""
        if self.guard is None:
            return [_("the model file could not be read")]
        yes, no = _("yes"), _("no")
        temp = (
            _("yes (temperature {t})").format(t=format_number(self.temperature or 0.0, 2))
            if self.calibrated
            else no
        )
        graph = yes if self.graph else _("no (screens on PyTorch, slower)")
        return [
            _("out-of-scope guard: {answer}").format(answer=yes if self.guard else no),
            _("calibrated: {answer}").format(answer=temp),
            _("ONNX screening graph: {answer}").format(answer=graph),
        ]


@dataclass(frozen=True)
class Mark:
    """Why the model in use deserves a permanent mark: a short word and the full reason."""

    word: str  # "forced", "untrained", "no guard"
    why: str


@dataclass
class ActivationReview:
    """What activating ``target`` means: the records' concerns and the marks it would carry."""

    target: ModelInfo
    concerns: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    @property
    def needs_reason(self) -> bool:
        return bool(self.concerns)


def checks_of(path: str | Path | None) -> ModelChecks:
    """Read the checks from a model file's header and its guard tensors (no torch)."""
    if not path or not Path(path).is_file():
        return ModelChecks(None, None, False)
    try:
        meta = read_meta(path)
        guard = bool(read_guard_tensors(path))
    except Exception:  # ModelFileError, OSError, ValueError or safetensors' own error
        return ModelChecks(None, None, False)
    return ModelChecks(
        guard, float(meta.temperature), graph_path(path, meta.content_hash).is_file()
    )


def missing_checks(new: ModelChecks, active: ModelChecks, subject: str = "new") -> list[str]:
    """Plain sentences, in the user's language, for each check the model in use has and ``new``
    lacks; ``subject`` "new" speaks of "the new model", "this" of "this model"."""
    says = _LACKS[subject]
    if new.guard is None or active.guard is None:
        return [] if active.guard is None else [_(says["unreadable"])]
    found = []
    if active.guard and not new.guard:
        found.append(_(says["guard"]))
    if active.calibrated and not new.calibrated:
        found.append(_(says["calibration"]))
    if active.graph and not new.graph:
        found.append(_(says["graph"]))
    return found


def _score(metrics: dict[str, Any], split: str, metric: str) -> float | None:
    value = (metrics.get(split) or {}).get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def score_concerns(candidate: ModelInfo, active: ModelInfo) -> list[str]:
    """Why the recorded scores advise against ``candidate`` (empty: they do not)."""
    gate = candidate.metrics.get("gate") or {}
    new, old = gate.get("new_value"), gate.get("active_value")
    metric = str(gate.get("metric") or "")
    name = _(METRIC_NAMES[metric]) if metric in METRIC_NAMES else (metric or _("score"))
    if gate and gate.get("active_hash") == active.content_hash and None not in (new, old):
        if gate.get("passed") and new >= old:
            return []
        return [
            _(
                "this model scored {new} on its {n} check photos; the model in use scored "
                "{old} on the same photos ({metric})"
            ).format(
                new=format_number(new, 3),
                n=gate.get("n", "?"),
                old=format_number(old, 3),
                metric=name,
            )
        ]
    concerns = []
    if gate:
        concerns.append(
            _("this model was checked against {other}, not against the model in use").format(
                other=gate.get("active_version") or _("another model")
            )
        )
    new_val, old_val = (
        _score(candidate.metrics, "val", "macro_f1"),
        _score(active.metrics, "val", "macro_f1"),
    )
    if new_val is not None and old_val is not None and new_val < old_val:
        concerns.append(
            _(
                "this model scored {new} on its validation photos; the model in use scored "
                "{old} on its own (macro-F1, not the same photos)"
            ).format(new=format_number(new_val, 3), old=format_number(old_val, 3))
        )
    if not gate and new_val is None:
        concerns.append(
            _("this model has no recorded evaluation: nobody has measured how well it screens")
        )
    return concerns


def untrained(info: ModelInfo) -> bool:
    """No training and no evaluation is recorded for it (an ImageNet start, a bare import)."""
    return not info.meta.get("trained") or not (info.metrics or info.meta.get("training"))


def model_marks(info: ModelInfo, checks: ModelChecks, forced: bool | None = None) -> list[Mark]:
    """The marks ``info`` carries while in use; ``forced`` None: as its last activation says."""
    last = (info.meta.get(ACTIVATIONS) or [{}])[-1]
    marks = []
    if forced or (forced is None and last.get("forced")):
        why = _("it was made active against the advice of its records")
        if forced is None:
            why = _("it was made active against the advice of its records by {who} on {at}").format(
                who=last.get("who"), at=str(last.get("at", ""))[:16]
            )
            if last.get("reason"):
                why += ": \u201c{reason}\u201d".format(reason=last.get("reason"))
        marks.append(Mark(_("forced"), why))
    if untrained(info):
        marks.append(Mark(_("untrained"), _("no training or evaluation is recorded for it")))
    if checks.guard is False:
        marks.append(Mark(_("no guard"), _(NO_GUARD)))
    return marks


def activation_concerns(store: Store, content_hash: str) -> list[str]:
    """Why activating ``content_hash`` needs a reason (empty: go ahead)."""
    active = store.active_model()
    candidate = next((m for m in store.models() if m.content_hash == content_hash), None)
    if active is None or candidate is None or active.content_hash == content_hash:
        return []
    return _concerns(candidate, active)


def _concerns(candidate: ModelInfo, active: ModelInfo) -> list[str]:
    new, old = checks_of(candidate.path), checks_of(active.path)
    concerns = score_concerns(candidate, active)
    concerns += missing_checks(new, old, "this")
    if new.guard is False and not old.guard:  # not said above: the model in use lacks it too
        concerns.append(_("this model: {why}").format(why=_(NO_GUARD)))
    return concerns


def review_activation(
    store: Store, ref: str | None = None, *, rollback: bool = False
) -> ActivationReview:
    """What activating ``ref`` (or, rolling back without one, the active model's parent) means."""
    if not rollback and not ref:
        raise StoreError("name the model to activate (see `poxscreen models list`)")
    target = store.rollback_target(ref)  # the named version, or the parent when rolling back
    active = store.active_model()
    if active is None or active.content_hash == target.content_hash:
        return ActivationReview(target)
    concerns = _concerns(target, active)
    marks = model_marks(target, checks_of(target.path), forced=bool(concerns))
    return ActivationReview(target, concerns, marks)


def activate_checked(
    store: Store, ref: str | None, *, who: str, reason: str = "", rollback: bool = False
) -> ModelInfo:
    """Activate ``ref`` (roll back: default the active model's parent), recording who and why.
    A model the records advise against needs a ``reason`` (ReasonNeeded says why otherwise);
    it is then recorded as forced and marked while in use."""
    review = review_activation(store, ref, rollback=rollback)
    reason = reason.strip()
    if review.needs_reason and not reason:
        listed = "; ".join(review.concerns)
        raise ReasonNeeded(
            _(
                "{version}: {concerns}. Give a reason (--reason TEXT) to use it anyway; it is "
                "recorded, and the model is marked while in use"
            ).format(version=review.target.version, concerns=listed),
            review.concerns,
        )
    how = "roll back" if rollback else "activate"
    note = ActivationNote(who, how, reason, review.needs_reason, tuple(review.concerns))
    if rollback:
        return store.rollback(review.target.content_hash, note)
    return store.activate_model(review.target.content_hash, note)


def active_marks(store: Store) -> list[Mark]:
    """The marks of the store's active model (empty when none is registered)."""
    info = store.active_model()
    return [] if info is None else model_marks(info, checks_of(info.path))


def activation_history(info: ModelInfo) -> list[dict[str, Any]]:
    """The model's activation records, oldest first (who, when, how, reason, forced)."""
    return [dict(r) for r in info.meta.get(ACTIVATIONS) or [] if isinstance(r, dict)]
