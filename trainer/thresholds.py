"""Choosing the default referral thresholds on held-out predictions, not by hand.

The referral rule (``engine.referral.ReferralRule``) refers a photo when the top-class
probability is below ``min_confidence`` or P(Mpox) is above ``mpox_above``. A clinician reads
an unreferred photo as "the model is sure, and it is not Mpox", so the thresholds are chosen to
keep that promise on photos the model never trained on (out-of-fold validation predictions):

- an Mpox photo must be referred: Mpox referral sensitivity >= ``min_mpox_sensitivity``;
- what is not referred must be right: accuracy of unreferred photos >= ``min_unreferred_accuracy``;
- among the rules that keep both, the one that refers the fewest photos (ties: the higher
  ``mpox_above``, then the lower ``min_confidence``);
- when no rule keeps both, the one that comes closest (the highest of the two figures' minimum),
  marked ``criteria_met: False``: a default must exist, and the card says it fell short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CONFIDENCE_GRID = tuple(round(0.40 + 0.05 * i, 2) for i in range(12))  # 0.40 .. 0.95
MPOX_GRID = tuple(round(0.05 + 0.05 * i, 2) for i in range(12))  # 0.05 .. 0.60


@dataclass(frozen=True)
class RuleFigures:
    """How one referral rule does on a set of labelled predictions."""

    min_confidence: float
    mpox_above: float
    referred: float  # share of photos referred
    mpox_sensitivity: float  # share of Mpox photos referred
    mpox_specificity: float  # share of other photos not referred
    unreferred_accuracy: float  # accuracy of the photos not referred (nan if none)


def rule_figures(
    y_true: np.ndarray, probs: np.ndarray, mpox: int, min_confidence: float, mpox_above: float
) -> RuleFigures:
    """The figures of one rule (same test as ``ReferralRule.flags``)."""
    y_true = np.asarray(y_true)
    probs = np.asarray(probs, dtype=np.float64)
    referred = (probs.max(1) < min_confidence) | (probs[:, mpox] > mpox_above)
    is_mpox = y_true == mpox
    kept = ~referred
    return RuleFigures(
        min_confidence=min_confidence,
        mpox_above=mpox_above,
        referred=float(referred.mean()),
        mpox_sensitivity=float(referred[is_mpox].mean()) if is_mpox.any() else float("nan"),
        mpox_specificity=float(kept[~is_mpox].mean()) if (~is_mpox).any() else float("nan"),
        unreferred_accuracy=(
            float((probs[kept].argmax(1) == y_true[kept]).mean()) if kept.any() else float("nan")
        ),
    )


def choose_rule(
    y_true: Sequence[int],
    probs: np.ndarray,
    classes: Sequence[str],
    mpox_class: str = "Monkeypox",
    min_mpox_sensitivity: float = 0.95,
    min_unreferred_accuracy: float = 0.95,
) -> dict[str, Any]:
    """The rule with the fewest referrals that keeps both promises (or the closest), and every
    rule's figures."""
    mpox = list(classes).index(mpox_class)
    y = np.asarray(y_true)
    table = [rule_figures(y, probs, mpox, c, t) for c in CONFIDENCE_GRID for t in MPOX_GRID]
    ok = [
        r
        for r in table
        if r.mpox_sensitivity >= min_mpox_sensitivity
        and not r.unreferred_accuracy < min_unreferred_accuracy
    ]
    if ok:
        best = min(ok, key=lambda r: (r.referred, -r.mpox_above, r.min_confidence))
    else:
        best = max(
            table,
            key=lambda r: (
                np.nan_to_num(min(r.mpox_sensitivity, r.unreferred_accuracy)),
                -r.referred,
                r.mpox_above,
                -r.min_confidence,
            ),
        )
    return {
        "n": int(len(y)),
        "criteria": {
            "min_mpox_sensitivity": min_mpox_sensitivity,
            "min_unreferred_accuracy": min_unreferred_accuracy,
            "then": "fewest referrals",
        },
        "chosen": asdict(best),
        "criteria_met": bool(ok),
        "table": [asdict(r) for r in table],
    }
