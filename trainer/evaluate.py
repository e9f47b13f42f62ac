"""Scoring a model on labelled photos: metrics, calibration, and the report with its figures.

Photos are preprocessed with ``engine.preprocess.make_transform(meta)``, exactly as the app
screens; probabilities use the model's stored temperature (calibrated figures) and are also
reported at T = 1 (raw).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.checkpoint import ModelMeta, load_model
from engine.device import select_device
from engine.images import ImageLoadError, load_image
from engine.preprocess import make_transform
from engine.recipe import RECIPE
from trainer.calibration import softmax_t
from trainer.data import DataError, Sample, Skipped, merge_samples, scan_image_folder
from trainer.metrics import classification_metrics, expected_calibration_error
from trainer.plots import write_figures, write_json
from trainer.splits import SPLIT_NAMES, Split


@dataclass
class Evaluation:
    """Logits and targets of one evaluated set, with metrics at the model's temperature."""

    samples: list[Sample]
    logits: np.ndarray
    targets: np.ndarray
    temperature: float
    metrics: dict[str, Any]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def probs(self) -> np.ndarray:
        return softmax_t(self.logits, self.temperature)


@torch.no_grad()
def score_samples(
    model: nn.Module,
    meta: ModelMeta,
    samples: Sequence[Sample],
    device: torch.device,
    batch_size: int = RECIPE.batch_size,
    temperature: float | None = None,
) -> Evaluation:
    """Evaluate ``model`` on ``samples`` (labels must be among ``meta.classes``)."""
    index = {c: i for i, c in enumerate(meta.classes)}
    transform = make_transform(meta)
    model.eval()
    logits: list[torch.Tensor] = []
    kept: list[Sample] = []
    skipped: list[Skipped] = []
    batch: list[torch.Tensor] = []
    pending: list[Sample] = []

    def flush() -> None:
        if batch:
            logits.append(model(torch.stack(batch).to(device)).float().cpu())
            kept.extend(pending)
            batch.clear()
            pending.clear()

    for s in samples:
        if s.label not in index:
            raise DataError(
                f"{s.path}: class {s.label!r} is not one the model knows "
                f"({', '.join(meta.classes)})"
            )
        try:
            batch.append(transform(load_image(s.path, target_size=int(meta.input_size))))
        except ImageLoadError as exc:
            skipped.append(Skipped(str(s.path), exc.reason))
            continue
        pending.append(s)
        if len(batch) >= batch_size:
            flush()
    flush()
    z = torch.cat(logits).numpy() if logits else np.zeros((0, len(meta.classes)))
    y = np.array([index[s.label] for s in kept], dtype=np.int64)
    t = float(meta.temperature if temperature is None else temperature)
    metrics = classification_metrics(y, softmax_t(z, t), meta.classes)
    return Evaluation(kept, z, y, t, metrics, skipped)


def calibration_summary(ev: Evaluation) -> dict[str, Any]:
    """ECE and NLL before (T = 1) and after temperature scaling."""
    if len(ev.targets) == 0:
        return {}
    raw = softmax_t(ev.logits, 1.0)
    raw_metrics = classification_metrics(ev.targets, raw, ev.metrics["classes"])
    return {
        "temperature": ev.temperature,
        "ece_uncalibrated": expected_calibration_error(raw, ev.targets),
        "ece_calibrated": ev.metrics.get("ece"),
        "nll_uncalibrated": raw_metrics.get("nll"),
        "nll_calibrated": ev.metrics.get("nll"),
    }


def write_evaluation(out_dir: Path, ev: Evaluation, name: str) -> dict[str, Any]:
    """Figures for one evaluated set (``<name>_*.png``) and its JSON section."""
    figures: list[str] = []
    if len(ev.targets):
        paths = write_figures(
            out_dir, ev.targets, ev.probs, ev.metrics["classes"], ev.metrics, prefix=f"{name}_"
        )
        figures = [p.name for p in paths]
    return {
        "metrics": ev.metrics,
        "calibration": calibration_summary(ev),
        "figures": figures,
        "skipped": [s.__dict__ for s in ev.skipped],
        "images": [
            {
                "sha256": s.sha256,
                "path": str(s.path),
                "label": s.label,
                "predicted": ev.metrics["classes"][int(i)],
                "probabilities": [round(float(v), 6) for v in row],
            }
            for s, i, row in zip(ev.samples, ev.logits.argmax(1), ev.probs, strict=True)
        ]
        if len(ev.targets)
        else [],
    }


def evaluate_folder(
    model_path: str | Path,
    data_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    split_file: str | Path | None = None,
    subset: str | None = None,
    device: str = "auto",
    batch_size: int = RECIPE.batch_size,
) -> dict[str, Any]:
    """Score a model file on labelled folders (optionally one part of a recorded split) and
    write ``report.json`` plus confusion-matrix, ROC, PR and reliability PNGs into ``out_dir``."""
    out = Path(out_dir)
    model, meta = load_model(model_path)
    choice = select_device(device)
    model.to(choice.device)
    samples, skipped = _scan_folders(data_dirs)
    split_info: dict[str, Any] | None = None
    if split_file is not None:
        samples, split_info = _select_recorded(samples, split_file, subset)
    if not samples:
        raise DataError("no labelled images to evaluate")
    ev = score_samples(model, meta, samples, choice.device, batch_size)
    section = write_evaluation(out, ev, "eval")
    report = {
        "kind": "evaluation",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "path": str(model_path),
            "version": meta.version,
            "name": meta.name,
            "content_hash": meta.content_hash,
            "classes": meta.classes,
            "temperature": meta.temperature,
        },
        "data": [str(d) for d in data_dirs],
        "split": split_info,
        "device": str(choice),
        **section,
        "skipped": section["skipped"] + [s.__dict__ for s in skipped],
    }
    write_json(out / "report.json", report)
    return report


def _scan_folders(data_dirs: Sequence[str | Path]) -> tuple[list[Sample], list[Skipped]]:
    """Labelled samples of all folders, merged by content, with everything that was skipped."""
    found: list[list[Sample]] = []
    skipped: list[Skipped] = []
    for d in data_dirs:
        s, bad = scan_image_folder(d)
        found.append(s)
        skipped += bad
    samples, conflicts = merge_samples(*found)
    skipped += conflicts
    return samples, skipped


def _select_recorded(
    samples: list[Sample], split_file: str | Path, subset: str | None
) -> tuple[list[Sample], dict[str, Any]]:
    """Keep the samples of one part of a recorded split, so a test set stays the test set."""
    split = Split.load(split_file)
    subset = subset or "test"
    if subset not in SPLIT_NAMES:
        raise DataError(f"subset must be one of {SPLIT_NAMES}, got {subset!r}")
    wanted = set(split.members(subset))
    samples = [s for s in samples if s.sha256 in wanted]
    missing = len(wanted) - len(samples)
    split_info = {
        "file": str(split_file),
        "subset": subset,
        "recorded": len(wanted),
        "found": len(samples),
        "missing": missing,
    }
    if missing:
        print(
            f"warning: {missing} images of the recorded {subset} split were not found "
            "in the data folders",
            file=sys.stderr,
        )
    return samples, split_info
