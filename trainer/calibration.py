"""Temperature scaling: one scalar T so that softmax(logits / T) means what it says.

Fitted on the validation split by minimising negative log-likelihood with LBFGS over log T (so T
stays positive). It never changes which class wins, only how confident the model claims to be;
the value travels in ``ModelMeta.temperature``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

#: A small validation set that the model separates perfectly drives the NLL-optimal T towards 0
#: (claimed certainty); the floor keeps one lucky split from making every answer read "100%".
MIN_T, MAX_T = 0.25, 20.0


def fit_temperature(
    logits: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, max_iter: int = 100
) -> float:
    """The temperature minimising NLL of ``labels`` under ``softmax(logits / T)``.

    Returns 1.0 when there is nothing to fit (no samples). Clamped to [MIN_T, MAX_T].
    """
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if z.numel() == 0 or len(y) == 0:
        return 1.0
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    if not math.isfinite(t):
        return 1.0
    return float(min(max(t, MIN_T), MAX_T))


def softmax_t(logits: np.ndarray | torch.Tensor, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits at ``temperature``, as float64 numpy."""
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    return torch.softmax(z / temperature, dim=1).numpy()
