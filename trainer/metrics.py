"""Classification metrics (scikit-learn) and calibration error, as plain JSON-ready dicts.

Per-class figures matter more than accuracy here: classes are imbalanced and a model can look
accurate while missing the rare class entirely.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    log_loss,
    matthews_corrcoef,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

#: Metrics a model comparison may use, and whether higher is better.
COMPARABLE = {
    "macro_f1": True,
    "accuracy": True,
    "weighted_f1": True,
    "mcc": True,
    "balanced_accuracy": True,
    "nll": False,
    "ece": False,
}


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the top-class confidence: sum over equal-width confidence bins of
    (bin share) * |accuracy in bin - mean confidence in bin|. Bins are (lo, hi], first [0, hi]."""
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return float("nan")
    conf = probs.max(1)
    correct = (probs.argmax(1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def _clean(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def classification_metrics(
    y_true: Sequence[int], probs: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, P/R/F1 (per class, macro, weighted), MCC, confusion matrix, per-class ROC-AUC and
    average precision (one-vs-rest; None for a class absent from ``y_true``), NLL and ECE.
    Macro/weighted figures and balanced accuracy: over the classes present in ``y_true`` only."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    k = len(classes)
    if p.ndim != 2 or p.shape != (len(y), k):
        raise ValueError(f"probs shape {p.shape} does not match {len(y)} labels x {k} classes")
    pred = p.argmax(1)
    labels = list(range(k))
    out: dict[str, Any] = {"n": int(len(y)), "classes": list(classes)}
    if len(y) == 0:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        prec, rec, f1, support = precision_recall_fscore_support(
            y, pred, labels=labels, zero_division=0
        )
        out["accuracy"] = float(accuracy_score(y, pred))
        for avg in ("macro", "weighted"):
            ap, ar, af, _ = precision_recall_fscore_support(
                y,
                pred,
                labels=[c for c in labels if support[c] > 0] or labels,
                average=avg,
                zero_division=0,
            )
            out[f"{avg}_precision"], out[f"{avg}_recall"], out[f"{avg}_f1"] = (
                float(ap),
                float(ar),
                float(af),
            )
        out["balanced_accuracy"] = float(np.mean([rec[c] for c in labels if support[c] > 0]))
        out["mcc"] = float(matthews_corrcoef(y, pred))
        out["confusion_matrix"] = confusion_matrix(y, pred, labels=labels).tolist()
        per_class: dict[str, dict[str, Any]] = {}
        for c, name in enumerate(classes):
            pos = y == c
            both = 0 < pos.sum() < len(y)
            per_class[name] = {
                "precision": float(prec[c]),
                "recall": float(rec[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
                "roc_auc": _clean(roc_auc_score(pos, p[:, c])) if both else None,
                "average_precision": (
                    _clean(average_precision_score(pos, p[:, c])) if pos.any() else None
                ),
            }
        out["per_class"] = per_class
        aucs = [v["roc_auc"] for v in per_class.values() if v["roc_auc"] is not None]
        out["macro_roc_auc"] = float(np.mean(aucs)) if aucs else None
        out["nll"] = float(log_loss(y, np.clip(p, 1e-12, 1.0), labels=labels))
        out["ece"] = expected_calibration_error(p, y)
    return out


def curves(
    y_true: Sequence[int], probs: np.ndarray, classes: Sequence[str]
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """One-vs-rest ROC and precision-recall curves per class (classes absent from y skipped)."""
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    roc: dict[str, dict[str, list[float]]] = {}
    pr: dict[str, dict[str, list[float]]] = {}
    for c, name in enumerate(classes):
        pos = y == c
        if not pos.any():
            continue
        if not pos.all():
            fpr, tpr, _ = roc_curve(pos, p[:, c])
            roc[name] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
        precision, recall, _ = precision_recall_curve(pos, p[:, c])
        pr[name] = {"precision": precision.tolist(), "recall": recall.tolist()}
    return {"roc": roc, "pr": pr}


def is_better(
    new: dict[str, Any], old: dict[str, Any], metric: str = "macro_f1", min_delta: float = 0.0
) -> bool:
    """Whether ``new`` beats ``old`` on ``metric`` by more than ``min_delta`` (strictly)."""
    if metric not in COMPARABLE:
        raise ValueError(f"unknown comparison metric {metric!r}; choose from {sorted(COMPARABLE)}")
    a, b = new.get(metric), old.get(metric)
    if a is None:
        return False
    if b is None:
        return True
    return a > b + min_delta if COMPARABLE[metric] else a < b - min_delta
