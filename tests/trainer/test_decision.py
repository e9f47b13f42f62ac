"""The clinic fine-tune's promotion rule on paired per-photo outcomes, and its folds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.recipe import DECISION
from trainer.crossfit import assign_folds
from trainer.decision import (
    ReferenceCheck,
    bootstrap_win_share,
    decide_on_clinic_photos,
    per_photo_outcome,
)

CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
REF_OK = ReferenceCheck(candidate=0.94, active=0.95, n=87)


def _logits(y: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Logits that pick the true class where ``right``, the next class elsewhere."""
    out = np.zeros((len(y), len(CLASSES)))
    pred = np.where(right, y, (y + 1) % len(CLASSES))
    out[np.arange(len(y)), pred] = 3.0
    return out


def _labels(n: int = 40) -> np.ndarray:
    return np.arange(n) % len(CLASSES)


def _decide(cand_right: np.ndarray, act_right: np.ndarray, ref: ReferenceCheck = REF_OK, **kw):
    y = _labels(len(cand_right))
    return decide_on_clinic_photos(
        y, _logits(y, cand_right), _logits(y, act_right), CLASSES, ref,
        active_version="shipped@1", **kw,
    )  # fmt: skip


def test_a_clearly_better_candidate_is_promoted_with_plain_words_and_details() -> None:
    act = np.ones(40, bool)
    act[:8] = False  # the model in use is wrong on 8 of 40
    cand = np.ones(40, bool)
    cand[:2] = False  # the candidate on 2
    d = _decide(cand, act, excluded=3, folds=5)
    assert d.activate and d.method == "cross-fit" and d.slice == "cross-fit"
    assert "better on the clinic's own photos" in d.reason
    assert d.plain[0].startswith("right on 38 of 40 of the clinic's labelled photos instead of 32")
    assert "wrong on 6 fewer photos" in d.plain[0]
    assert any(line.startswith("caught ") and "Mpox photos instead of" in line for line in d.plain)
    assert any(
        "3 labelled photos the model in use was trained on were left out" in line
        for line in d.plain
    )
    assert {"mcc", "ece", "nll", "accuracy", "macro_f1"} <= set(d.details)
    assert d.details["accuracy"] == {"candidate": 0.95, "active": 0.8}
    assert d.checks["folds"] == 5 and d.checks["better"]["win_share"] >= 0.99


def test_no_clear_gain_keeps_the_model_in_use() -> None:
    act = np.ones(40, bool)
    act[:4] = False
    cand = np.ones(40, bool)
    cand[4:8] = False  # as often right, on other photos
    d = _decide(cand, act)
    assert not d.activate
    assert d.reason.startswith("kept the model in use: not clearly better")
    assert "wrong on as many photos" in d.plain[0]


def test_labels_no_model_can_learn_are_refused_whatever_the_comparison() -> None:
    rng = np.random.default_rng(0)
    y = _labels(40)
    cand = rng.random(40) < 0.25  # chance level against shuffled labels
    act = rng.random(40) < 0.15
    d = decide_on_clinic_photos(
        y, _logits(y, cand), _logits(y, act), CLASSES, REF_OK, active_version="v"
    )
    assert not d.activate and "could not be learnt" in d.reason


def test_fewer_mpox_photos_caught_is_refused_even_when_better_overall() -> None:
    y = _labels(40)
    mpox = y == CLASSES.index("Monkeypox")
    act = ~mpox | (np.cumsum(mpox) > 2)  # misses 2 Mpox photos, right on every other... but:
    act[y == 0] = False  # wrong on all 10 Chickenpox photos
    cand = np.ones(40, bool)
    cand[np.flatnonzero(mpox)[:4]] = False  # misses 4 Mpox photos
    d = _decide(cand, act)
    assert not d.activate and "catch fewer Mpox photos (6 of 10 instead of 8)" in d.reason


def test_a_loss_on_the_reference_set_is_refused() -> None:
    act = np.ones(40, bool)
    act[:8] = False
    cand = np.ones(40, bool)
    d = _decide(cand, act, ReferenceCheck(candidate=0.90, active=0.95, n=87))
    assert not d.activate and "loses too much on the reference set" in d.reason
    d = _decide(cand, act, ReferenceCheck(candidate=0.935, active=0.95, n=87))
    assert d.activate  # within the 0.02 allowed


def test_an_unreadable_reference_set_refuses_and_says_why() -> None:
    cand, act = np.ones(40, bool), np.zeros(40, bool)
    d = _decide(cand, act, ReferenceCheck(None, None, problem="manifest.json is missing"))
    assert not d.activate and "manifest.json is missing" in d.reason
    d = _decide(cand, act, ReferenceCheck(None, None, problem="no photo", applicable=False))
    assert d.activate and any("not applicable" in line for line in d.plain)


def test_force_activates_and_keeps_the_rule_s_reason() -> None:
    d = _decide(np.zeros(40, bool), np.ones(40, bool), force=True)
    assert d.activate and d.forced and d.reason.startswith("forced by the user (kept the model")


def test_the_bootstrap_share_is_symmetric_and_seeded() -> None:
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1], bool)
    b = np.array([1, 0, 1, 1, 0, 1, 0, 0], bool)
    assert bootstrap_win_share(a, b, 2000, 0) == bootstrap_win_share(a, b, 2000, 0)
    assert bootstrap_win_share(a, a, 500, 0) == 0.0  # a tie is never a win
    assert bootstrap_win_share(a, b, 2000, 0) > 0.5 > bootstrap_win_share(b, a, 2000, 0)


def test_folds_keep_near_duplicate_groups_whole_and_stratify() -> None:
    y = np.repeat(np.arange(4), 10)
    groups = np.arange(40) // 2  # pairs of near-duplicates
    folds = assign_folds(y, groups, DECISION.folds, seed=0)
    assert set(folds) == set(range(5))
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1
    for f in range(5):
        assert len(set(y[folds == f])) >= 2  # every fold sees several classes


def test_folds_shrink_to_the_groups_there_are_and_refuse_one() -> None:
    folds = assign_folds([0, 1, 0, 1], [0, 0, 1, 1], 5)
    assert sorted(set(folds)) == [0, 1]
    with pytest.raises(ValueError, match="only 1 distinct photo"):
        assign_folds([0, 1, 0], [7, 7, 7], 5)


def _graded(y: np.ndarray, right: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Logits that pick the true class by ``margin`` where ``right``, the next class elsewhere."""
    out = np.zeros((len(y), len(CLASSES)))
    pred = np.where(right, y, (y + 1) % len(CLASSES))
    out[np.arange(len(y)), pred] = margin
    return out


def test_the_brier_outcome_counts_every_photo_not_only_those_the_models_disagree_on() -> None:
    y = _labels(40)
    right = np.ones(40, bool)
    right[:6] = False  # both models wrong on the same 6 photos, right on the same 34
    rng = np.random.default_rng(1)
    sure = np.where(right, 4.0, 0.5) + rng.normal(0, 0.2, 40)  # confident where right only
    unsure = 1.5 + rng.normal(0, 0.2, 40)  # as confident wrong as right
    cand, act = _graded(y, right, sure), _graded(y, right, unsure)
    by_brier = decide_on_clinic_photos(y, cand, act, CLASSES, REF_OK, active_version="v")
    assert by_brier.activate and by_brier.checks["better"]["outcome"] == "brier"
    assert "its probabilities closer to the right answers" in by_brier.reason
    assert "wrong on as many photos" in by_brier.plain[0]
    rule = dataclasses.replace(DECISION, outcome="accuracy")
    by_count = decide_on_clinic_photos(y, cand, act, CLASSES, REF_OK, active_version="v", rule=rule)
    assert not by_count.activate and "right more often in only 0%" in by_count.reason


def test_the_brier_outcome_still_refuses_a_candidate_right_on_fewer_photos() -> None:
    y = _labels(40)
    act_right = np.ones(40, bool)
    act_right[:4] = False
    cand_right = np.ones(40, bool)
    cand_right[:5] = False  # one more wrong, though far surer where it is right
    cand = _graded(y, cand_right, np.where(cand_right, 6.0, 0.2))
    act = _graded(y, act_right, np.full(40, 1.0))
    d = decide_on_clinic_photos(y, cand, act, CLASSES, REF_OK, active_version="v")
    assert d.checks["better"]["win_share"] >= DECISION.level  # better probabilities ...
    assert not d.activate  # ... but not right as often
    assert "right on fewer of the clinic's own photos (35 instead of 36)" in d.reason


def test_the_brier_outcome_does_not_depend_on_how_confidence_was_tuned() -> None:
    y = _labels(40)
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 1, (40, 4))
    logits[np.arange(40), y] += 1.0
    a = per_photo_outcome(y, logits, "brier")
    assert np.allclose(a, per_photo_outcome(y, 3.0 * logits, "brier"), atol=1e-4)
    assert (a <= 0).all() and (a >= -2).all()
    with pytest.raises(ValueError, match="unknown outcome"):
        per_photo_outcome(y, logits, "auc")
