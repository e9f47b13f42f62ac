"""Store methods the trainer and the models view use: register a trained model (re-checking the
promotion gate inside the activating transaction), promote, roll back, note a failed run.

The race these close: the trainer judges its new model against the model active when it ended
training; if a clinician activates another model meanwhile, the new model must not replace it
uncompared. Every activation here re-reads the active model in the same write transaction
(SQLite: the write lock is held from BEGIN; PostgreSQL: the active row is locked FOR UPDATE).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store import audit, registry
from engine.store.database import Database
from engine.store.dto import ModelInfo, PromotionResult, Registration
from engine.store.errors import NotFoundError, StoreError
from engine.store.model_registry import (
    ModelRegistry,
    copy_graph,
    copy_model_file,
    file_problem,
    parent_hash,
    record_activation,
    same_model,
)
from engine.store.tables import ModelVersion, utcnow


def _locked_active(s: Session) -> ModelVersion | None:
    return s.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)).with_for_update())


def gate_allows(gate: Mapping[str, Any] | None, active: ModelVersion | None) -> tuple[bool, str]:
    """Whether a recorded gate result lets its model replace ``active`` now, and why."""
    if active is None:
        return True, "no model is active yet"
    if not gate:
        return False, "no promotion gate result is recorded for this model; promote by force"
    judged = gate.get("active_hash")
    if judged != active.content_hash:
        against = f"{gate.get('active_version') or 'another model'}"
        return False, (
            f"it was judged against {against}, but {active.name}@{active.content_hash[:12]} is "
            "active now and was not compared; retrain or promote by force"
        )
    if not gate.get("passed"):
        return False, str(gate.get("reason") or "it did not pass the promotion gate")
    return True, str(gate.get("reason") or "it passed the promotion gate")


class Promotion:
    """Register a trained model, promote, roll back, note a failed run (``store.promotion``)."""

    def __init__(self, db: Database, models: ModelRegistry) -> None:
        self.db = db
        self.registry = models

    def register_trained(
        self,
        file: str | os.PathLike[str],
        meta: Any,
        *,
        activate: bool = False,
        gate: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        data_summary: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        status: str = "finished",
        log: str = "",
    ) -> Registration:
        """Copy a trained model file into :attr:`models_dir`, then in one transaction register
        it, activate it when ``activate`` and the ``gate`` still holds (the model it was judged
        against is still the active one), and record the training run with its result."""
        target = self.registry.model_file_target(meta)
        if not same_model(target, meta):
            copy_model_file(Path(file), target)
        problem = file_problem(target, meta.content_hash)  # the run folder's file, as copied
        if problem:
            raise StoreError(f"{file}: not registered as {meta.version}: {problem}")
        copy_graph(Path(file), target, meta.content_hash)
        with self.db.write() as s:
            now = utcnow()
            row = registry.register(
                s,
                meta.content_hash,
                name=meta.name,
                now=now,
                path=str(target),
                meta=dataclasses.asdict(meta),
                metrics={**dict(metrics or {}), **({"gate": dict(gate)} if gate else {})},
                parent_hash=parent_hash(meta),
                activate=False,
            )
            active = _locked_active(s)
            ok, reason = gate_allows(gate, active) if activate else (active is None, "")
            if activate and gate and gate.get("forced"):
                ok, reason = True, "forced by the user"
            lost = registry.class_problem(s, row, active) if ok or activate else None
            if lost:  # no gate result and no force activates a model that lost a class
                ok, reason = False, lost
            if ok:
                registry.set_active(s, row)
                registry.note_activation(row, now, _trained_note(activate, gate))
            elif not activate and not lost:
                reason = "registered without activating; Promote decides"
            base = parent_hash(meta) if _known(s, parent_hash(meta) or "") else None
            run_id = registry.start_training(s, base, params or {}, data_summary or {}, now)
            final = {**dict(metrics or {}), "promotion": {**dict(gate or {}), "final": reason}}
            registry.update_training(
                s, run_id, now, status=status, result_hash=meta.content_hash, append_log=log,
                metrics=final,
            )  # fmt: skip
            _record_training(s, self.db, meta.content_hash, run_id, status, ok, reason, gate)
            return Registration(str(target), meta.version, ok, run_id, reason)

    def promote(
        self,
        ref: str,
        *,
        gate: Mapping[str, Any] | None = None,
        force: bool = False,
        who: str = "",
    ) -> PromotionResult:
        """The clinician's Promote: activate ``ref`` if its gate result (``gate``, default the
        one recorded when it was registered) beat the model that is active NOW; ``force``
        activates regardless (recorded on its row as forced, by ``who``). Checked and applied
        in one transaction."""
        with self.db.write() as s:
            model = registry.find(s, ref)
            active = _locked_active(s)
            previous = f"{active.name}@{active.content_hash[:12]}" if active else None
            if active is not None and active.id == model.id:
                return PromotionResult(True, "already active", registry.model_info(model), previous)
            recorded = gate if gate is not None else (model.metrics or {}).get("gate")
            gate_ok, gate_reason = gate_allows(recorded, active)
            ok, reason = (True, "forced by the user") if force else (gate_ok, gate_reason)
            lost = registry.class_problem(s, model, active)
            if lost:  # not even by force: a model that lost a class cannot answer it
                ok, reason = False, lost
            if ok:
                registry.set_active(s, model)
                note = _promotion_note(who, gate_ok, gate_reason)
                registry.note_activation(model, utcnow(), note)
                record_activation(s, self.db, registry.model_info(model), note, "promote")
            return PromotionResult(ok, reason, registry.model_info(model), previous)

    def rollback_target(self, ref: str | None = None) -> ModelInfo:
        """The version a roll back would activate: ``ref``, or the active model's parent."""
        with self.db.read() as s:
            return registry.model_info(registry.find(s, _rollback_ref(s, ref)))

    def rollback(
        self, ref: str | None = None, note: registry.ActivationNote | None = None
    ) -> ModelInfo:
        """Activate ``ref``, or without one the active model's parent (the version it was
        fine-tuned from) when that version is registered; ``note`` is recorded on its row."""
        with self.db.write() as s:
            info = registry.model_info(registry.activate(s, _rollback_ref(s, ref), note, utcnow()))
            record_activation(s, self.db, info, note, "rollback")
            return info

    def record_failed_training(
        self,
        params: Mapping[str, Any],
        data_summary: Mapping[str, Any],
        error: str,
        base_hash: str | None = None,
    ) -> int | None:
        """Best effort: note a failed run (no model) so the GUI can show what happened."""
        try:
            with self.db.write() as s:
                now = utcnow()
                base = base_hash if base_hash and _known(s, base_hash) else None
                run_id = registry.start_training(s, base, params, data_summary, now)
                registry.update_training(s, run_id, now, status="failed", append_log=error)
                details = {"training_run": run_id, "status": "failed", "error": error[:500]}
                audit.record(s, "train", who=audit.acting(self.db), details=details)
                return run_id
        except StoreError:  # the failure being recorded matters more than this note
            return None


def _record_training(
    s: Session,
    db: Database,
    content_hash: str,
    run_id: int,
    status: str,
    activated: bool,
    reason: str,
    gate: Mapping[str, Any] | None,
) -> None:
    """The ``train`` event of a registered training run, and ``promote`` when it activated
    (forced or not, and why)."""
    who, obj = audit.acting(db), audit.model(content_hash)
    details = {"training_run": run_id, "status": status, "activated": activated}
    audit.record(s, "train", who=who, obj=obj, details=details)
    if activated:
        forced = bool(gate and gate.get("forced"))
        audit.record(s, "promote", who=who, obj=obj, details={"forced": forced, "reason": reason})


def _promotion_note(who: str, gate_ok: bool, gate_reason: str) -> registry.ActivationNote:
    """A promotion's activation record: forced when the gate did not allow it."""
    if gate_ok:
        return registry.ActivationNote(who or "unknown", "promote")
    concern = f"the promotion gate advised against it: {gate_reason}"
    return registry.ActivationNote(
        who or "unknown", "promote", reason="promoted anyway", forced=True, concerns=(concern,)
    )


def _trained_note(activate: bool, gate: Mapping[str, Any] | None) -> registry.ActivationNote:
    """The record of a trained model the trainer activated (forced: ``--force-promote``)."""
    forced = bool(activate and gate and gate.get("forced"))
    return _promotion_note("the trainer", not forced, "forced by --force-promote")


def _rollback_ref(s: Session, ref: str | None) -> str:
    if ref is not None:
        return ref
    active = registry.active_model(s)
    if active is None:
        raise StoreError("no active model to roll back from")
    if not active.parent_hash:
        raise StoreError(
            f"{active.name}@{active.content_hash[:12]} has no recorded parent; "
            "name a version to activate"
        )
    return active.parent_hash


def _known(s: Session, content_hash: str) -> bool:
    try:
        registry.find(s, content_hash)
    except (NotFoundError, StoreError):
        return False
    return True
