"""The referral thresholds are chosen by the stated promises, on held-out predictions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.referral import ReferralRule
from trainer.thresholds import choose_rule, rule_figures

CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]


def _probs(rows: list[tuple[int, float]]) -> np.ndarray:
    """One row per (top class, its probability); the rest shared equally."""
    out = np.zeros((len(rows), 4))
    for i, (k, p) in enumerate(rows):
        out[i] = (1 - p) / 3
        out[i, k] = p
    return out


def test_figures_match_the_rule_the_app_applies() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=200)
    y = rng.integers(0, 4, size=200)
    fig = rule_figures(y, probs, 2, 0.6, 0.25)
    rule = ReferralRule(min_confidence=0.6, mpox_above=0.25)
    flags = np.array([rule.flags(dict(zip(CLASSES, p, strict=True))) for p in probs])
    assert fig.referred == pytest.approx(flags.mean())
    assert fig.mpox_sensitivity == pytest.approx(flags[y == 2].mean())
    assert fig.mpox_specificity == pytest.approx((~flags[y != 2]).mean())
    kept = ~flags
    assert fig.unreferred_accuracy == pytest.approx((probs[kept].argmax(1) == y[kept]).mean())


def test_chosen_rule_keeps_both_promises_with_fewest_referrals() -> None:
    # confident correct photos of every class, unsure wrong ones, and two Mpox photos that
    # look like Chickenpox (confidence 0.88, P(Mpox) 0.12): only mpox_above <= 0.10 refers them
    probs = np.vstack(
        [
            _probs([(k, 0.89) for k in (0, 1, 3) for _ in range(30)]),
            _probs([(2, 0.9)] * 25),
            [[0.88, 0.0, 0.12, 0.0]] * 2,
            _probs([(1, 0.55)] * 6),  # unsure and wrong: true class Normal
        ]
    )
    y = [k for k in (0, 1, 3) for _ in range(30)] + [2] * 27 + [3] * 6
    result = choose_rule(y, probs, CLASSES)
    chosen = result["chosen"]
    assert result["criteria_met"] is True
    assert chosen["mpox_sensitivity"] >= 0.95
    assert chosen["unreferred_accuracy"] >= 0.95
    assert chosen["mpox_above"] == 0.1
    assert chosen["referred"] == pytest.approx(33 / 123)
    # no rule that keeps both promises refers fewer photos
    assert all(
        r["referred"] >= chosen["referred"]
        for r in result["table"]
        if r["mpox_sensitivity"] >= 0.95 and r["unreferred_accuracy"] >= 0.95
    )


def test_closest_rule_when_the_promises_cannot_be_kept() -> None:
    # half the Mpox photos called Chickenpox with certainty: no rule refers them
    probs = np.vstack([_probs([(0, 0.99)] * 10), _probs([(2, 0.9)] * 10), _probs([(3, 0.6)] * 5)])
    y = [2] * 20 + [3] * 5
    result = choose_rule(y, probs, CLASSES)
    assert result["criteria_met"] is False
    chosen = result["chosen"]
    assert chosen["mpox_sensitivity"] == pytest.approx(0.5)  # only the 10 seen as Mpox
    best = max(min(r["mpox_sensitivity"], r["unreferred_accuracy"]) for r in result["table"])
    assert min(chosen["mpox_sensitivity"], chosen["unreferred_accuracy"]) == best
