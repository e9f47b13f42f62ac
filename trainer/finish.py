"""The end of a run: calibrate, evaluate, write the model file and report, then (last) register.

Order matters for kill safety: the final model file is written atomically first, the report and
figures next, and the store is touched only after both are complete.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.checkpoint import ModelMeta, load_model, save_model
from trainer.calibration import fit_temperature, softmax_t
from trainer.evaluate import Evaluation, score_samples, write_evaluation
from trainer.fit import FitResult
from trainer.metrics import classification_metrics
from trainer.plots import plot_training_curves, write_json
from trainer.prepare import Prepared
from trainer.progress import Reporter
from trainer.promote import Decision, decide

BRIEF = ("n", "accuracy", "macro_f1", "weighted_f1", "mcc", "ece", "nll")


def calibrate_and_evaluate(
    model: nn.Module, meta: ModelMeta, data: Prepared, device: torch.device, reporter: Reporter
) -> tuple[float, dict[str, Evaluation]]:
    """Fit the temperature on validation; score validation and (when present) test with it."""
    reporter.emit("stage", stage="calibrate", message="fitting temperature on validation")
    raw = score_samples(model, meta, data.samples("val"), device, temperature=1.0)
    t = fit_temperature(raw.logits, raw.targets)
    reporter.emit("stage", stage="evaluate", message="scoring validation and test images")
    val = dataclasses.replace(
        raw,
        temperature=t,
        metrics=classification_metrics(raw.targets, softmax_t(raw.logits, t), data.classes),
    )
    evals = {"val": val}
    if data.parts["test"]:
        evals["test"] = score_samples(model, meta, data.samples("test"), device, temperature=t)
    return t, evals


def score_active(
    store: Any, active_path: Path | None, data: Prepared, device: torch.device
) -> tuple[str | None, dict[str, Any] | None]:
    """The active model's version and its metrics on the same validation images.

    Metrics are None when there is no active model, its file cannot be read, or its classes
    differ (then the two cannot be compared fairly).
    """
    info = store.active_model() if store is not None else None
    if info is None:
        return None, None
    if active_path is None:
        return info.version, None
    try:
        model, meta = load_model(active_path, device=device)
    except Exception:  # an unreadable active model cannot be compared; the gate says so
        return info.version, None
    if sorted(meta.classes) != sorted(data.classes):
        return meta.version, None
    return meta.version, score_samples(model, meta, data.samples("val"), device).metrics


def brief(evals: dict[str, Evaluation]) -> dict[str, dict[str, Any]]:
    return {k: {m: ev.metrics.get(m) for m in BRIEF} for k, ev in evals.items()}


def finish(
    *,
    model: nn.Module,
    ck_meta: ModelMeta,
    data: Prepared,
    result: FitResult,
    run_dir: Path,
    device: torch.device,
    reporter: Reporter,
    store: Any,
    active_path: Path | None,
    register: bool,
    promote_metric: str,
    force_promote: bool,
    params: dict[str, Any],
    data_summary: dict[str, Any],
) -> dict[str, Any]:
    """Calibrate, evaluate, save ``model.safetensors`` + report, decide promotion, register."""
    t, evals = calibrate_and_evaluate(model, ck_meta, data, device, reporter)
    summary = brief(evals)
    active_version, active_val = score_active(store, active_path, data, device)
    decision: Decision = decide(
        evals["val"].metrics,
        active_val,
        active_version,
        metric=promote_metric,
        force=force_promote,
        comparable=active_val is not None,
    )
    status = {
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "status": result.status,
    }
    meta = dataclasses.replace(
        ck_meta,
        temperature=t,
        metrics={**summary, **status},
        training={
            **params,
            **status,
            "split_seed": data.split.seed,
            "split_counts": data.split.counts(),
            "temperature": t,
        },
    )
    reporter.emit("stage", stage="save", message="writing the model and the report")
    model_path = run_dir / "model.safetensors"
    meta = save_model(model_path, model, meta)
    report: dict[str, Any] = {
        "kind": "training",
        "status": result.status,
        "stop_reason": result.stop_reason,
        "run_dir": str(run_dir),
        "model": str(model_path),
        "version": meta.version,
        "content_hash": meta.content_hash,
        "classes": data.classes,
        "params": params,
        "data": {k: v for k, v in data_summary.items() if k != "val_sha256"},
        "history": result.history,
        "best_epoch": result.best_epoch,
        "temperature": t,
        "train_seconds": round(result.train_seconds, 1),
        "train_images_per_second": round(result.images_seen / max(result.train_seconds, 1e-9), 2),
        "skipped": [s.__dict__ for s in data.skipped],
        "splits": {},
        "active_model": {"version": active_version, "val": active_val},
        "promotion": dataclasses.asdict(decision),
        "registered": None,
    }
    if result.history:
        plot_training_curves(result.history, run_dir / "training_curves.png")
    for name, ev in evals.items():
        report["splits"][name] = write_evaluation(run_dir, ev, name)
    write_json(run_dir / "report.json", report)

    if register and store is not None:  # the last step: everything above is complete on disk
        from trainer.promote import register_trained

        reporter.emit("stage", stage="register", message="registering the model version")
        report["registered"] = register_trained(
            store,
            model_path,
            meta,
            decision,
            params=params,
            data_summary=data_summary,
            metrics={**summary, "promotion_metric": promote_metric},
            status="cancelled" if result.status == "stopped" else "finished",
            log=f"{result.status}; best epoch {result.best_epoch}; {decision.reason}\n",
        )
        write_json(run_dir / "report.json", report)
    return report
