"""The candidate's Mpox logit is raised just enough to keep the Mpox sensitivity of the model in
use, the final model carries the same offset, and the decision says so."""

from __future__ import annotations

import numpy as np
import torch

from trainer.decision import ReferenceCheck, decide_on_clinic_photos
from trainer.initial_model import imagenet_model
from trainer.mpox_point import EPS, MAX_OFFSET, mpox_offset, raise_mpox, shift_mpox

CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
MPOX = CLASSES.index("Monkeypox")


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eight labelled photos, four of them Mpox: the model in use catches all four; the
    candidate misses two of them, by gaps of 0.3 and 0.8 logits, and is right elsewhere."""
    y = np.array([MPOX, MPOX, MPOX, MPOX, 0, 1, 3, 0])
    active = np.zeros((8, 4))
    active[np.arange(8), np.where(np.arange(8) < 4, MPOX, (y + 1) % 4)] = 2.0
    cand = np.zeros((8, 4))
    cand[np.arange(8), y] = 2.0
    cand[0] = [2.3, 0, 2.0, 0]  # Chickenpox 0.3 above Mpox
    cand[1] = [0, 0, 1.2, 2.0]  # Normal 0.8 above Mpox
    return y, cand, active


def test_the_offset_is_the_smallest_that_catches_as_many_mpox_photos_as_the_model_in_use() -> None:
    y, cand, active = _case()
    offset = mpox_offset(y, cand, active, CLASSES)
    assert abs(offset - (0.8 + EPS)) < 1e-9
    caught = lambda z: int((z.argmax(1) == y)[y == MPOX].sum())  # noqa: E731
    assert caught(shift_mpox(cand, CLASSES, offset)) == 4
    assert caught(shift_mpox(cand, CLASSES, offset - 2 * EPS)) == 3  # any less loses one
    assert caught(cand) == 2  # the input is not changed


def test_no_offset_when_none_is_needed_possible_or_meaningful() -> None:
    y, cand, active = _case()
    assert mpox_offset(y, active, active, CLASSES) == 0.0  # it already catches them all
    far = cand.copy()
    far[1] = [0, 0, 1.2, 1.2 + MAX_OFFSET + 0.5]  # beyond the cap: the Mpox check must refuse
    assert mpox_offset(y, far, active, CLASSES) == 0.0
    assert mpox_offset(y, cand, active, ["a", "b", "c", "d"]) == 0.0  # no Mpox class
    no_mpox = y != MPOX
    assert mpox_offset(y[no_mpox], cand[no_mpox], active[no_mpox], CLASSES) == 0.0


def test_the_final_model_carries_the_offset_on_its_mpox_logit_only() -> None:
    model, _ = imagenet_model(CLASSES, seed=0)
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        raise_mpox(model, CLASSES, 0.75)
        after = model(x)
    delta = (after - before).numpy()
    assert np.allclose(delta[:, MPOX], 0.75, atol=1e-5)
    assert np.allclose(np.delete(delta, MPOX, axis=1), 0.0, atol=1e-6)


def test_the_decision_judges_the_shifted_candidate_and_says_what_was_lowered() -> None:
    y = np.arange(40) % 4
    active = np.zeros((40, 4))
    wrong = np.arange(40) < 8  # the model in use is wrong on 8 photos, none of them Mpox
    wrong &= y != MPOX
    active[np.arange(40), np.where(wrong, (y + 1) % 4, y)] = 3.0
    cand = np.zeros((40, 4))
    cand[np.arange(40), y] = 3.0
    first_mpox = np.flatnonzero(y == MPOX)[0]
    cand[first_mpox] = [3.5, 0, 3.0, 0]  # one Mpox photo lost, 0.5 below Chickenpox
    ref = ReferenceCheck(candidate=0.95, active=0.95, n=87)
    plain = decide_on_clinic_photos(y, cand, active, CLASSES, ref, active_version="v")
    assert not plain.activate and "catch fewer Mpox photos" in plain.reason
    offset = mpox_offset(y, cand, active, CLASSES)
    shifted = decide_on_clinic_photos(
        y, shift_mpox(cand, CLASSES, offset), active, CLASSES, ref, active_version="v",
        mpox_offset=offset,
    )  # fmt: skip
    assert shifted.activate, shifted.reason
    assert shifted.checks["mpox"]["offset"] == offset
    assert any("Mpox threshold was lowered (Mpox logit +0.50)" in line for line in shifted.plain)
