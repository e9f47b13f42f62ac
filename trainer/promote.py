"""Promotion: register a trained model version, activate it only if it beats the active model.

Both models are scored on the same recorded validation images in the same run, so the gate
compares like with like. Registration is the last thing a training run does, after its model
file is complete on disk; it copies the file beside the database first (atomically) and then
writes the model row, its activation and the training-run record in one transaction, so a kill
at any point registers either everything or nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path
from engine.checkpoint import ModelMeta
from engine.onnx_predictor import graph_path
from trainer.metrics import is_better
from trainer.sources import store_models_dir


@dataclass
class Decision:
    """Whether the new model becomes active, and why (shown to the user)."""

    activate: bool
    reason: str
    metric: str
    new_value: float | None
    active_value: float | None
    active_version: str | None


def decide(
    new_val: dict[str, Any],
    active_val: dict[str, Any] | None,
    active_version: str | None,
    *,
    metric: str = "macro_f1",
    force: bool = False,
    min_delta: float = 0.0,
    comparable: bool = True,
) -> Decision:
    """The promotion gate. ``active_val`` is the active model's metrics on the same validation
    images (None when there is no active model or it could not be scored)."""
    new_value = new_val.get(metric)
    old_value = active_val.get(metric) if active_val else None

    def d(activate: bool, reason: str) -> Decision:
        return Decision(activate, reason, metric, new_value, old_value, active_version)

    if force:
        return d(True, "forced by the user")
    if active_version is None:
        return d(True, "no active model yet")
    if not comparable or active_val is None:
        return d(
            False,
            "the active model could not be scored on these validation images "
            "(different classes or unreadable file); use --force-promote to switch",
        )
    if is_better(new_val, active_val, metric, min_delta):
        return d(True, f"{metric} {new_value:.4f} beats the active model's {old_value:.4f}")
    return d(False, f"{metric} {new_value} does not beat the active model's {old_value}")


def _copy_atomic(src: Path, dst: Path) -> Path:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def register_trained(
    store: Any,
    model_file: Path,
    meta: ModelMeta,
    decision: Decision,
    *,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    metrics: dict[str, Any],
    status: str,
    log: str = "",
    baseline: tuple[ModelMeta | None, Path | None] | None = None,
) -> dict[str, Any]:
    """Copy ``model_file`` beside the database, then in one transaction: register the version
    (active or not, per ``decision``) and record the training run with its result.

    ``baseline``: the model in use when the store had none registered (the shipped default);
    it is registered first (and so becomes active, as it was in use), keeping lineage and
    rollback whole."""
    from engine.store import registry
    from engine.store.models import utcnow

    target = store_models_dir(store) / f"{meta.name}-{meta.content_hash[:12]}.safetensors"
    if not target.exists():
        _copy_atomic(model_file, target)
    graph = graph_path(model_file, meta.content_hash)  # exported beside the run's model file
    if graph.is_file() and not graph_path(target, meta.content_hash).exists():
        _copy_atomic(graph, graph_path(target, meta.content_hash))
    meta_dict = dataclasses.asdict(meta)
    with store.write() as s:
        now = utcnow()
        base_meta, base_path = baseline or (None, None)
        if (
            base_meta is not None
            and base_meta.content_hash
            and not _known(s, base_meta.content_hash)
        ):
            registry.register(
                s,
                base_meta.content_hash,
                name=base_meta.name,
                now=now,
                path=str(base_path) if base_path else None,
                meta=dataclasses.asdict(base_meta),
                metrics=base_meta.metrics,
                parent_hash=base_meta.parent,
                activate=None,
            )
        row = registry.register(
            s,
            meta.content_hash,
            name=meta.name,
            now=now,
            path=str(target),
            meta=meta_dict,
            metrics=metrics,
            parent_hash=meta.parent,
            activate=decision.activate,
        )
        base = meta.parent if meta.parent and _known(s, meta.parent) else None
        run_id = registry.start_training(s, base, params, data_summary, now)
        registry.update_training(
            s,
            run_id,
            now,
            status=status,
            result_hash=meta.content_hash,
            append_log=log,
            metrics={**metrics, "promotion": dataclasses.asdict(decision)},
        )
        active = row.active
    return {
        "path": str(target),
        "version": meta.version,
        "activated": active,
        "training_run": run_id,
    }


def _known(session: Any, content_hash: str) -> bool:
    from engine.store import registry
    from engine.store.errors import StoreError

    try:
        registry.find(session, content_hash)
    except StoreError:
        return False
    return True


def record_failed_run(
    store: Any,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    error: str,
    base_hash: str | None = None,
) -> int | None:
    """Best effort: note a failed run (no model) so the GUI can show what happened."""
    from engine.store import registry
    from engine.store.models import utcnow

    try:
        with store.write() as s:
            now = utcnow()
            base = base_hash if base_hash and _known(s, base_hash) else None
            run_id = registry.start_training(s, base, params, data_summary, now)
            registry.update_training(s, run_id, now, status="failed", append_log=error)
            return run_id
    except Exception:  # the failure being recorded matters more than this note
        return None


def rollback(store: Any, ref: str | None = None) -> Any:
    """Activate ``ref`` (hash, prefix, name@hash, unique name), or, without one, the parent of
    the active model (the version it was fine-tuned from), when that version is registered."""
    if ref is None:
        active = store.active_model()
        if active is None:
            raise ValueError("no active model to roll back from")
        if not active.parent_hash:
            raise ValueError(f"{active.version} has no recorded parent; name a version to activate")
        ref = active.parent_hash
    return store.activate_model(ref)
