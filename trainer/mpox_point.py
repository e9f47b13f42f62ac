"""Keep the Mpox sensitivity of the model in use: the candidate's Mpox logit is raised just enough.

Why: under a new camera the parent tends to answer Mpox too often (in 6 of 8 dev clinic runs it
named Mpox on 17 to 21 of 40 photos holding 14 to 17). A fine-tune on the clinic's labels corrects
that, and with it usually drops one Mpox photo it used to catch; the rule then refuses it, since
a screening tool must not lose Mpox sensitivity. A screening test fixes its sensitivity and
improves what it can elsewhere: here one number, an offset on the candidate's Mpox logit, is
the smallest that makes its out-of-fold answers catch as many of the clinic's Mpox photos as the
model in use did. The same offset goes into the final model's classifier bias (the ONNX graph's
structure is unchanged). The rest of the rule then judges the candidate *with* it: answering
Mpox more often costs it wherever that is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from trainer.decision import mpox_index

__all__ = ["MAX_OFFSET", "mpox_offset", "raise_mpox", "shift_mpox"]

#: The largest offset (in logits) ever applied: beyond it the Mpox check is left to refuse.
MAX_OFFSET = 2.0
EPS = 1e-3  # past the tie, so the photo is caught whatever the rounding


def mpox_offset(
    targets: Sequence[int],
    candidate_logits: np.ndarray,
    active_logits: np.ndarray,
    classes: Sequence[str],
) -> float:
    """The smallest offset (0 if none is needed, at most ``MAX_OFFSET``) on the candidate's
    Mpox logit with which it catches as many of the labelled Mpox photos as the model in use."""
    k = mpox_index(classes)
    y = np.asarray(targets, dtype=int)
    if k is None or not (y == k).any():
        return 0.0
    mpox = y == k
    need = int((np.asarray(active_logits).argmax(1) == y)[mpox].sum())
    cand = np.asarray(candidate_logits, dtype=np.float64)
    if int((cand.argmax(1) == y)[mpox].sum()) >= need or need == 0:
        return 0.0
    rest = np.delete(cand, k, axis=1).max(1)
    gaps = np.sort(np.maximum(rest - cand[:, k], 0.0)[mpox])  # the offset that catches each
    offset = float(gaps[need - 1]) + EPS
    return offset if offset <= MAX_OFFSET else 0.0


def shift_mpox(logits: np.ndarray, classes: Sequence[str], offset: float) -> np.ndarray:
    """``logits`` with ``offset`` added to the Mpox column (a copy)."""
    out = np.array(logits, dtype=np.float64, copy=True)
    k = mpox_index(classes)
    if k is not None and offset:
        out[:, k] += offset
    return out


@torch.no_grad()
def raise_mpox(model: nn.Module, classes: Sequence[str], offset: float) -> None:
    """Add ``offset`` to the bias of the model's last classifier layer for Mpox, in place."""
    k = mpox_index(classes)
    if k is None or not offset:
        return
    last = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)][-1]
    last.bias[k] += offset
