"""A run's final model: calibrate, evaluate, write the model file and report, then register.

Order matters for kill safety: the final model file is written atomically first, the report and
figures next, and the store is touched only after both are complete.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.checkpoint import ModelMeta, load_model, save_model
from engine.guard import ScopeGuard
from engine.onnx_export import try_export
from trainer.calibration import fit_temperature, softmax_t
from trainer.evaluate import Evaluation, score_samples, write_evaluation
from trainer.fit import FitResult
from trainer.guard import GuardError, guard_for_model
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
    for name in ("gate", "test"):  # scored with the fitted temperature, never tuned on
        if data.parts.get(name):
            evals[name] = score_samples(model, meta, data.samples(name), device, temperature=t)
    return t, evals


@dataclass
class Baseline:
    """The model in use when the run ends: what the new model must beat."""

    version: str | None = None
    metrics: dict[str, Any] | None = None  # on the same gate images; None: not comparable
    content_hash: str | None = None
    path: Path | None = None
    meta: ModelMeta | None = None
    registered: bool = True


def fit_run_guard(
    model: nn.Module, meta: ModelMeta, data: Prepared, device: torch.device, reporter: Reporter
) -> tuple[ScopeGuard | None, ModelMeta]:
    """The out-of-scope guard from this run's training photos, threshold from its validation
    photos; without enough of them the model says "guard unavailable" and why."""
    reporter.emit("stage", stage="guard", message="fitting the out-of-scope guard")
    try:
        guard, info = guard_for_model(
            model, meta, data.samples("train"), data.samples("val"), device
        )
    except GuardError as exc:
        reporter.say(f"out-of-scope guard unavailable: {exc}")
        return None, dataclasses.replace(meta, guard={"unavailable": str(exc)})
    return guard, dataclasses.replace(meta, guard=info)


def score_current(
    store: Any, current: tuple[Path | None, bool], data: Prepared, device: torch.device
) -> Baseline:
    """Score the model in use (the store's active model, else the shipped default) on the gate
    images. Metrics stay None when its file cannot be read or its classes differ (the two
    cannot then be compared fairly)."""
    path, registered = current
    info = store.active_model() if store is not None else None
    base = Baseline(
        version=info.version if info else None,
        path=path,
        registered=registered,
        content_hash=info.content_hash if info else None,
    )
    if path is None:
        return base
    try:
        model, meta = load_model(path, device=device)
    except Exception:  # an unreadable model cannot be compared; the gate says so
        return base
    base.version, base.meta, base.content_hash = meta.version, meta, meta.content_hash
    if sorted(meta.classes) == sorted(data.classes):
        gate = data.samples("gate")
        base.metrics = score_samples(model, meta, gate, device).metrics if gate else {"n": 0}
    return base


def brief(evals: dict[str, Evaluation]) -> dict[str, dict[str, Any]]:
    """The headline metrics of each evaluated split (progress events, report)."""
    return {k: {m: ev.metrics.get(m) for m in BRIEF} for k, ev in evals.items()}


def deliver(
    *,
    model: nn.Module,
    ck_meta: ModelMeta,
    data: Prepared,
    result: FitResult,
    run_dir: Path,
    device: torch.device,
    reporter: Reporter,
    store: Any,
    current: tuple[Path | None, bool],
    register: bool,
    promote_metric: str,
    force_promote: bool,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    min_delta: float = 0.01,
    activate: bool = True,
) -> dict[str, Any]:
    """Calibrate, evaluate, save ``model.safetensors`` + report, decide promotion, register."""
    t, evals = calibrate_and_evaluate(model, ck_meta, data, device, reporter)
    summary = brief(evals)
    baseline = score_current(store, current, data, device)
    decision = _decide(evals, baseline, promote_metric, force_promote, min_delta)
    _name_class_change(decision, ck_meta)
    meta = _final_meta(ck_meta, t, summary, result, params, data)
    guard, meta = fit_run_guard(model, meta, data, device, reporter)
    reporter.emit("stage", stage="save", message="writing the model and the report")
    model_path = run_dir / "model.safetensors"
    meta = save_model(model_path, model, meta, guard=guard)
    reporter.emit("stage", stage="export", message="exporting the screening graph (ONNX)")
    graph, graph_note = try_export(  # from the store's graph templates: seconds, not a trace
        model_path, model=model, meta=meta, template_dirs=_template_dirs(store)
    )
    report = _report(
        run_dir, model_path, meta, data, result, t, params, data_summary, baseline, decision, graph
    )
    if graph_note:
        reporter.emit("stage", stage="export", message=graph_note)
    if result.history:
        plot_training_curves(result.history, run_dir / "training_curves.png")
    for name, ev in evals.items():
        report["splits"][name] = write_evaluation(run_dir, ev, name)
    write_json(run_dir / "report.json", report)

    if register and store is not None:  # the last step: everything above is complete on disk
        report["registered"] = _register(
            store,
            model_path,
            meta,
            decision,
            result,
            reporter,
            params=params,
            data_summary=data_summary,
            metrics={**summary, "promotion_metric": promote_metric},
            activate=activate,
        )
        write_json(run_dir / "report.json", report)
    return report


def _template_dirs(store: Any) -> list[Path]:
    """The store's models folder: where its models' graph templates are kept and found."""
    return [] if store is None else [Path(store.models_dir)]


def _name_class_change(decision: Decision, ck_meta: ModelMeta) -> None:
    """A deliberate ``--classes`` change is named wherever the decision is shown."""
    changes = (ck_meta.training or {}).get("classes_changes")
    if changes:
        decision.reason = f"classes changed: {', '.join(changes)}; {decision.reason}"


def _decide(
    evals: dict[str, Evaluation],
    baseline: Baseline,
    promote_metric: str,
    force_promote: bool,
    min_delta: float,
) -> Decision:
    """Compare the new model with the one in use on the gate images: promote it or not."""
    return decide(
        evals["gate"].metrics if "gate" in evals else {"n": 0},
        baseline.metrics,
        baseline.version,
        metric=promote_metric,
        force=force_promote,
        min_delta=min_delta,
        comparable=baseline.metrics is not None,
        active_hash=baseline.content_hash,
    )


def _final_meta(
    ck_meta: ModelMeta,
    t: float,
    summary: dict[str, dict[str, Any]],
    result: FitResult,
    params: dict[str, Any],
    data: Prepared,
) -> ModelMeta:
    """The model file's metadata: the fitted temperature, the metrics and how it was trained."""
    status = {
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "status": result.status,
    }
    return dataclasses.replace(
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


def _report(
    run_dir: Path,
    model_path: Path,
    meta: ModelMeta,
    data: Prepared,
    result: FitResult,
    t: float,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    baseline: Baseline,
    decision: Decision,
    graph: Path | None,
) -> dict[str, Any]:
    """The run's ``report.json`` before its splits are written in and the model registered."""
    return {
        "kind": "training",
        "status": result.status,
        "stop_reason": result.stop_reason,
        "run_dir": str(run_dir),
        "model": str(model_path),
        "version": meta.version,
        "content_hash": meta.content_hash,
        "classes": data.classes,
        "params": params,
        "data": {k: v for k, v in data_summary.items() if not k.endswith("_sha256")},
        "history": result.history,
        "best_epoch": result.best_epoch,
        "temperature": t,
        "train_seconds": round(result.train_seconds, 1),
        "train_images_per_second": round(result.images_seen / max(result.train_seconds, 1e-9), 2),
        "skipped": [s.__dict__ for s in data.skipped],
        "splits": {},
        "model_in_use": {
            "version": baseline.version,
            "gate": baseline.metrics,
            "registered": baseline.registered,
        },
        "promotion": dataclasses.asdict(decision),
        "registered": None,
        "graph": str(graph) if graph else None,
    }


def _register(
    store: Any,
    model_path: Path,
    meta: ModelMeta,
    decision: Decision,
    result: FitResult,
    reporter: Reporter,
    *,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    metrics: dict[str, Any],
    activate: bool,
) -> dict[str, Any]:
    """Register the written model version in the store (activating it if promoted)."""
    from trainer.promote import register_trained

    reporter.emit("stage", stage="register", message="registering the model version")
    return register_trained(
        store,
        model_path,
        meta,
        decision,
        params=params,
        data_summary=data_summary,
        metrics=metrics,
        status="cancelled" if result.status == "stopped" else "finished",
        log=f"{result.status}; best epoch {result.best_epoch}; {decision.reason}\n",
        activate=activate,
    )
