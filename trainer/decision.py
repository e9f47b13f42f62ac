"""The clinic fine-tune's promotion rule, on paired per-photo outcomes (declared before reading).

Every labelled photo the model in use did not train on has two answers: the model in use's, and
an out-of-fold candidate's (trainer.crossfit). The candidate replaces the model in use when
1. it learnt something: its out-of-fold accuracy beats guessing the commonest class
   (one-sided binomial test at ``chance_p``): labels that cannot be learnt decide nothing;
2. it is probably better: in at least ``level`` of bootstrap resamples of the photos its
   per-photo outcome sums higher than the model in use's. The outcome (``DecisionRule.outcome``)
   is by default minus the Brier score of each model's probabilities, each at its own best
   temperature, and then the candidate must also be right on at least as many photos; or
   right/wrong. Why the Brier score: right/wrong counts only the few photos on which the two
   models disagree (2 to 6 of 40 on the dev clinics), so a real gain of 5 points could not be
   told from chance; the probabilities say something on every photo;
3. it catches at least as many Mpox photos as the model in use;
4. it keeps what the model knew: it loses at most ``reference_drop`` macro-F1 on the shipped
   reference set.
Otherwise the model in use stays, and the reason says which check failed, in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from engine.i18n import _, format_number, format_percent, ngettext
from engine.recipe import DECISION, DecisionRule
from trainer.calibration import fit_temperature, softmax_t
from trainer.metrics import classification_metrics
from trainer.promote import Decision

__all__ = ["ReferenceCheck", "decide_on_clinic_photos", "mpox_index", "scored"]

MPOX_NAMES = ("monkeypox", "mpox")
DETAIL_METRICS = ("accuracy", "macro_f1", "balanced_accuracy", "mcc", "ece", "nll")


@dataclass
class ReferenceCheck:
    """Both models' macro-F1 on the shipped reference set (None: the set could not be read)."""

    candidate: float | None
    active: float | None
    n: int = 0
    problem: str | None = None
    applicable: bool = True  # False: the set holds none of the model's classes (not a failure)


def mpox_index(classes: Sequence[str]) -> int | None:
    """The index of the Mpox class, whatever the model calls it."""
    for i, name in enumerate(classes):
        if name.lower() in MPOX_NAMES:
            return i
    return None


def per_photo_outcome(y: np.ndarray, logits: np.ndarray, outcome: str) -> np.ndarray:
    """What each photo says of a model, higher better: 1/0 for right/wrong ("accuracy"), or
    minus the Brier score of its probabilities at the model's own best temperature ("brier"),
    so that neither model is judged on how well its confidence was tuned elsewhere."""
    if outcome == "accuracy":
        return (logits.argmax(1) == y).astype(np.float64)
    if outcome != "brier":
        raise ValueError(f"unknown outcome {outcome!r}: 'brier' or 'accuracy'")
    p = softmax_t(logits, fit_temperature(logits, y))
    return -((p - np.eye(p.shape[1])[y]) ** 2).sum(1)


def bootstrap_win_share(cand: np.ndarray, active: np.ndarray, n_boot: int, seed: int) -> float:
    """Share of bootstrap resamples of the photos in which the candidate's per-photo outcomes
    (right/wrong, or any score where higher is better) sum higher than the model in use's."""
    diff = cand.astype(np.float64) - active.astype(np.float64)
    if len(diff) == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    return float((diff[idx].sum(1) > 0).mean())


def chance_p_value(correct: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(p-value, commonest-class share): is out-of-fold accuracy above guessing?"""
    share = float(np.bincount(targets).max() / len(targets))
    return float(binomtest(int(correct.sum()), len(correct), share, "greater").pvalue), share


def scored(y: np.ndarray, logits: np.ndarray, classes: Sequence[str]) -> dict:
    """Every classification figure of ``logits``, each model at its own best temperature."""
    t = fit_temperature(logits, y)  # each model at its own best temperature: fair NLL and ECE
    return classification_metrics(y, softmax_t(logits, t), classes)


def _fewer(n: int) -> str:
    """How many photos fewer (or more) the candidate gets wrong, in words."""
    if n > 0:
        return ngettext("wrong on {n} fewer photo", "wrong on {n} fewer photos", n).format(n=n)
    if n < 0:
        return ngettext("wrong on {n} more photo", "wrong on {n} more photos", -n).format(n=-n)
    return _("wrong on as many photos")


def _plain(
    y: np.ndarray, cand: np.ndarray, active: np.ndarray, mpox: int | None, excluded: int
) -> list[str]:
    n, right, before = len(y), int(cand.sum()), int(active.sum())
    lines = [
        ngettext(
            "right on {right} of {n} of the clinic's labelled photo instead of {before} ({diff})",
            "right on {right} of {n} of the clinic's labelled photos instead of {before} ({diff})",
            n,
        ).format(right=right, n=n, before=before, diff=_fewer(right - before))
    ]
    if mpox is not None and (y == mpox).any():
        m = y == mpox
        total = int(m.sum())
        lines.append(
            ngettext(
                "caught {caught} of {n} Mpox photo instead of {before}",
                "caught {caught} of {n} Mpox photos instead of {before}",
                total,
            ).format(caught=int(cand[m].sum()), n=total, before=int(active[m].sum()))
        )
    if excluded:
        lines.append(
            ngettext(
                "{n} labelled photo the model in use was trained on was left out of this "
                "comparison",
                "{n} labelled photos the model in use was trained on were left out of this "
                "comparison",
                excluded,
            ).format(n=excluded)
        )
    return lines


def decide_on_clinic_photos(
    targets: Sequence[int],
    candidate_logits: np.ndarray,
    active_logits: np.ndarray,
    classes: Sequence[str],
    reference: ReferenceCheck,
    *,
    active_version: str | None,
    active_hash: str | None = None,
    excluded: int = 0,
    folds: int = 0,
    rule: DecisionRule = DECISION,
    force: bool = False,
    mpox_offset: float = 0.0,
) -> Decision:
    """Apply the rule (module docstring) to out-of-fold ``candidate_logits`` and the model in
    use's ``active_logits`` on the same photos; the Decision carries plain words and figures.
    ``mpox_offset``: what was added to the candidate's Mpox logit (trainer.mpox_point), said."""
    y = np.asarray(targets, dtype=int)
    cand_ok = candidate_logits.argmax(1) == y
    act_ok = active_logits.argmax(1) == y
    mpox = mpox_index(classes)
    cm, am = scored(y, candidate_logits, classes), scored(y, active_logits, classes)
    checks = {
        "learnt": _learnt_check(y, cand_ok, rule),
        "better": _better_check(y, candidate_logits, active_logits, rule),
        "mpox": {**_mpox_check(y, cand_ok, act_ok, mpox), "offset": mpox_offset},
        "reference": _reference_check(reference, rule),
    }
    failed = [k for k in ("learnt", "better", "mpox", "reference") if not checks[k]["passed"]]
    reason = _reason(failed, checks, len(y), rule, reference)
    if force:
        reason = _("forced by the user ({reason})").format(reason=reason)
    elif active_version is None:
        reason, failed = _("no active model yet"), []
    decision = Decision(
        activate=force or not failed, reason=reason, metric="accuracy",
        new_value=cm.get("accuracy"), active_value=am.get("accuracy"),
        active_version=active_version, active_hash=active_hash, n=len(y), slice="cross-fit",
        min_delta=0.0, forced=force,
    )  # fmt: skip
    decision.method = "cross-fit"
    decision.plain = (
        _plain(y, cand_ok, act_ok, mpox, excluded)
        + _offset_line(mpox_offset)
        + _reference_line(reference, rule)
    )
    decision.details = {
        m: {"candidate": cm.get(m), "active": am.get(m)} for m in DETAIL_METRICS if m in cm
    }
    decision.checks = {**checks, "folds": folds, "excluded": excluded}
    return decision


def _learnt_check(y: np.ndarray, cand_ok: np.ndarray, rule: DecisionRule) -> dict:
    p_chance, share = chance_p_value(cand_ok, y) if len(y) else (1.0, 1.0)
    return {"p_value": p_chance, "commonest_share": share, "passed": p_chance < rule.chance_p}


def _better_check(y: np.ndarray, cand: np.ndarray, active: np.ndarray, rule: DecisionRule) -> dict:
    right, before = int((cand.argmax(1) == y).sum()), int((active.argmax(1) == y).sum())
    win = bootstrap_win_share(
        per_photo_outcome(y, cand, rule.outcome), per_photo_outcome(y, active, rule.outcome),
        rule.bootstrap, rule.seed,
    )  # fmt: skip
    as_often = rule.outcome == "accuracy" or right >= before
    return {"win_share": win, "level": rule.level, "outcome": rule.outcome, "right": right,
            "right_before": before, "passed": win >= rule.level and as_often}  # fmt: skip


def _mpox_check(y: np.ndarray, cand: np.ndarray, act: np.ndarray, mpox: int | None) -> dict:
    if mpox is None or not (y == mpox).any():
        return {"candidate": None, "active": None, "n": 0, "passed": True}
    m = y == mpox
    c, a = int(cand[m].sum()), int(act[m].sum())
    return {"candidate": c, "active": a, "n": int(m.sum()), "passed": c >= a}


def _reference_check(ref: ReferenceCheck, rule: DecisionRule) -> dict:
    if not ref.applicable:
        return {"candidate": None, "active": None, "passed": True, "problem": ref.problem}
    if ref.candidate is None or ref.active is None:
        return {"candidate": None, "active": None, "passed": False, "problem": ref.problem}
    return {
        "candidate": ref.candidate,
        "active": ref.active,
        "n": ref.n,
        "allowed_drop": rule.reference_drop,
        "passed": ref.candidate >= ref.active - rule.reference_drop,
    }


def _offset_line(offset: float) -> list[str]:
    if offset <= 0:
        return []
    return [
        _(
            "its Mpox threshold was lowered (Mpox logit +{offset}) so that it catches as many Mpox "
            "photos as the model in use"
        ).format(offset=format_number(offset, 2))
    ]


def _reference_line(ref: ReferenceCheck, rule: DecisionRule) -> list[str]:
    if not ref.applicable:
        return [_("reference set not applicable: {why}").format(why=ref.problem)]
    if ref.candidate is None or ref.active is None:
        why = ref.problem or _("unavailable")
        return [_("reference set not checked: {why}").format(why=why)]
    return [
        ngettext(
            "macro-F1 {cand} on the {n} reference photo instead of {active} "
            "(may lose at most {drop})",
            "macro-F1 {cand} on the {n} reference photos instead of {active} "
            "(may lose at most {drop})",
            ref.n,
        ).format(
            cand=format_number(ref.candidate, 3),
            n=ref.n,
            active=format_number(ref.active, 3),
            drop=format_number(rule.reference_drop, 2),
        )
    ]


def _how(rule: DecisionRule) -> str:
    """What "better" meant, for the reason's brackets."""
    if rule.outcome == "accuracy":
        return _("right more often")
    return _("its probabilities closer to the right answers")


def _reason(
    failed: list[str], checks: dict, n: int, rule: DecisionRule, ref: ReferenceCheck
) -> str:
    share = format_percent(checks["better"]["win_share"])
    if not failed:
        text = ngettext(
            "better on the clinic's own photos ({how} in {share} of resamples of {n} photo; "
            "the rule asks {level}), no Mpox photo lost, and the {reference}",
            "better on the clinic's own photos ({how} in {share} of resamples of {n} photos; "
            "the rule asks {level}), no Mpox photo lost, and the {reference}",
            n,
        )
        held = _("reference set held") if ref.applicable else _("no reference photo of its classes")
        return text.format(
            how=_how(rule), share=share, n=n, level=format_percent(rule.level), reference=held
        )
    return _("kept the model in use: {why}").format(
        why="; ".join(_why(k, checks, n, share, rule, ref) for k in failed)
    )


def _why(
    check: str, checks: dict, n: int, share: str, rule: DecisionRule, ref: ReferenceCheck
) -> str:
    """Why one check of the rule failed, in plain words."""
    if check == "learnt":
        return _(
            "the labels could not be learnt: models that did not see a photo were no better "
            "than guessing the commonest class (check the labels)"
        )
    better = checks["better"]
    if (
        check == "better"
        and better["right"] < better["right_before"]
        and rule.outcome != "accuracy"
    ):
        return _("right on fewer of the clinic's own photos ({right} instead of {before})").format(
            right=better["right"], before=better["right_before"]
        )
    if check == "better":
        return ngettext(
            "not clearly better on the clinic's own photos ({how} in only {share} of resamples "
            "of {n} photo; the rule asks {level}); label more photos",
            "not clearly better on the clinic's own photos ({how} in only {share} of resamples "
            "of {n} photos; the rule asks {level}); label more photos",
            n,
        ).format(how=_how(rule), share=share, n=n, level=format_percent(rule.level))
    if check == "mpox":
        m = checks["mpox"]
        return _("it would catch fewer Mpox photos ({caught} of {n} instead of {before})").format(
            caught=m["candidate"], n=m["n"], before=m["active"]
        )
    if ref.candidate is not None and ref.active is not None:
        return _(
            "it loses too much on the reference set (macro-F1 {cand} instead of {active})"
        ).format(cand=format_number(ref.candidate, 3), active=format_number(ref.active, 3))
    why = ref.problem or _("unavailable")
    return _("the reference set could not be checked ({why})").format(why=why)
