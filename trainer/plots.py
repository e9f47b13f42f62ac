"""Report figures as PNG (matplotlib, Agg backend: no display needed) and the JSON report."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from engine.atomic import atomic_open, atomic_write_text  # noqa: E402
from trainer.metrics import curves  # noqa: E402


def _save(fig: Any, path: Path) -> Path:
    """Written atomically, with no metadata text chunks (report pictures carry none)."""
    fig.tight_layout()
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=110, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def plot_training_curves(history: Sequence[dict[str, Any]], path: Path) -> Path:
    """Loss (train, val) and validation accuracy / macro-F1 per epoch."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [h["epoch"] for h in history]
    for key, label in (("train_loss", "train loss"), ("val_loss", "validation loss")):
        ax1.plot(epochs, [h.get(key, math.nan) for h in history], marker=".", label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend()
    for key, label in (("val_accuracy", "val accuracy"), ("val_macro_f1", "val macro-F1")):
        ax2.plot(epochs, [h.get(key, math.nan) for h in history], marker=".", label=label)
    best = [h["epoch"] for h in history if h.get("improved")]
    if best:
        ax2.axvline(best[-1], color="grey", linestyle=":", label=f"best (epoch {best[-1]})")
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("epoch")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def plot_confusion_matrix(cm: Sequence[Sequence[int]], classes: Sequence[str], path: Path) -> Path:
    """Counts, with rows = true class, columns = predicted class, and row-normalised shading."""
    m = np.asarray(cm, dtype=float)
    rows = m.sum(1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.3 * len(classes) + 2.5, 1.1 * len(classes) + 2))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=30, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            ax.text(
                j,
                i,
                f"{int(m[i, j])}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
            )
    return _save(fig, path)


def plot_roc_pr(
    y_true: Sequence[int],
    probs: np.ndarray,
    classes: Sequence[str],
    roc_path: Path,
    pr_path: Path,
    metrics: dict[str, Any] | None = None,
) -> None:
    """Per-class one-vs-rest ROC and precision-recall curves."""
    c = curves(y_true, probs, classes)
    per_class = (metrics or {}).get("per_class", {})
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, xy in c["roc"].items():
        auc = per_class.get(name, {}).get("roc_auc")
        ax.plot(xy["fpr"], xy["tpr"], label=f"{name}" + (f" (AUC {auc:.3f})" if auc else ""))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    _save(fig, roc_path)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, xy in c["pr"].items():
        ap = per_class.get(name, {}).get("average_precision")
        ax.plot(xy["recall"], xy["precision"], label=f"{name}" + (f" (AP {ap:.3f})" if ap else ""))
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    _save(fig, pr_path)


def plot_reliability(
    y_true: Sequence[int], probs: np.ndarray, path: Path, n_bins: int = 10
) -> Path:
    """Top-class confidence vs accuracy per bin (a calibration picture)."""
    p = np.asarray(probs)
    y = np.asarray(y_true)
    conf, correct = p.max(1), (p.argmax(1) == y)
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    acc = [correct[idx == b].mean() if (idx == b).any() else np.nan for b in range(n_bins)]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.bar(edges[:-1], acc, width=1 / n_bins, align="edge", edgecolor="black", alpha=0.7)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    return _save(fig, path)


def write_figures(
    out_dir: Path,
    y_true: Sequence[int],
    probs: np.ndarray,
    classes: Sequence[str],
    metrics: dict[str, Any],
    prefix: str = "",
) -> list[Path]:
    """Confusion matrix, ROC, PR and reliability PNGs for one evaluated split."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_confusion_matrix(
            metrics["confusion_matrix"], classes, out_dir / f"{prefix}confusion_matrix.png"
        )
    ]
    roc, pr = out_dir / f"{prefix}roc.png", out_dir / f"{prefix}pr.png"
    plot_roc_pr(y_true, probs, classes, roc, pr, metrics)
    paths += [roc, pr, plot_reliability(y_true, probs, out_dir / f"{prefix}reliability.png")]
    return paths


def write_json(path: Path, data: Any) -> Path:
    """Atomic JSON write (temp file + rename)."""
    return atomic_write_text(path, json.dumps(data, indent=1, default=str) + "\n")
