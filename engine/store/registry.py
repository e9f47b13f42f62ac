"""The model registry (which model files exist, their lineage, which one is active) and the
record of training runs.

Invariant: once any model is registered exactly one is active. The first model registered
becomes active; afterwards only :func:`activate` (or ``register(..., activate=True)``) moves the
flag, in one transaction, guarded by a partial unique index on ``models.active``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.hashes import HEX_PREFIX
from engine.store.dto import ModelInfo, TrainingRunInfo
from engine.store.errors import NotFoundError, StoreError
from engine.store.tables import TRAINING_STATUSES, ModelVersion, TrainingRun, utcnow

ACTIVATIONS = "activations"
"""Key of a model row's ``meta`` that lists who activated it, when, why, and whether against
the advice of its records (see :func:`note_activation`)."""


def model_info(model: ModelVersion) -> ModelInfo:
    return ModelInfo(
        content_hash=model.content_hash,
        name=model.name,
        path=model.path,
        meta=dict(model.meta or {}),
        metrics=dict(model.metrics or {}),
        parent_hash=model.parent_hash,
        created_at=model.created_at,
        active=model.active,
        discarded=model.discarded_at is not None,
    )


def active_model(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)))


def set_active(session: Session, model: ModelVersion) -> None:
    if model.discarded_at is not None:  # every activation path (activate, promote) passes here
        raise StoreError(
            f"{model.name}@{model.content_hash[:12]} was discarded; register its file again "
            "(`poxscreen models add FILE`) to use it"
        )
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.active.is_(True), ModelVersion.id != model.id)
        .values(active=False)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    model.active = True
    session.flush()


def register(
    session: Session,
    content_hash: str,
    *,
    name: str,
    now: datetime,
    path: str | None = None,
    meta: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    parent_hash: str | None = None,
    activate: bool | None = None,
) -> ModelVersion:
    """Add a model version, or refresh the name/path/metadata of a known one (same hash).

    ``activate``: True makes it active, False never does, None activates it only when no model
    is active yet (so the registry always has exactly one active model).
    """
    content_hash = content_hash.strip().lower()
    if not HEX_PREFIX.match(content_hash):
        raise StoreError(f"model content hash {content_hash!r} is not a hex digest")
    model = session.scalar(select(ModelVersion).where(ModelVersion.content_hash == content_hash))
    if model is None:
        model = ModelVersion(
            content_hash=content_hash,
            name=name,
            path=path,
            meta=dict(meta or {}),
            metrics=dict(metrics or {}),
            parent_hash=parent_hash,
            created_at=now,
            active=False,
        )
        session.add(model)
        session.flush()
    else:
        model.name = name
        model.path = path or model.path
        if meta:  # a refreshed file's metadata; the record of who activated it stays
            kept = (model.meta or {}).get(ACTIVATIONS)
            model.meta = {**dict(meta), **({ACTIVATIONS: kept} if kept else {})}
        if metrics:
            model.metrics = dict(metrics)
        model.parent_hash = parent_hash or model.parent_hash
        if path:  # registered again from a file: no longer discarded
            model.discarded_at = None
    if activate or (activate is None and active_model(session) is None):
        set_active(session, model)
    return model


def find(session: Session, ref: str) -> ModelVersion:
    """A model by full hash, unique hash prefix (6+ hex digits), ``name@hash12`` or unique name."""
    ref = ref.strip()
    if "@" in ref:
        ref = ref.rsplit("@", 1)[1]
    matches: list[ModelVersion] = []
    if HEX_PREFIX.match(ref.lower()):
        matches = list(
            session.scalars(
                select(ModelVersion).where(ModelVersion.content_hash.startswith(ref.lower()))
            )
        )
    if not matches:
        matches = list(session.scalars(select(ModelVersion).where(ModelVersion.name == ref)))
    if not matches:
        raise NotFoundError(f"no model matches {ref!r}; see `poxscreen models list`")
    if len(matches) > 1:
        listed = ", ".join(f"{m.name}@{m.content_hash[:12]}" for m in matches)
        raise StoreError(f"{ref!r} matches several models ({listed}); give more of the hash")
    return matches[0]


@dataclass(frozen=True)
class ActivationNote:
    """Who makes a model active, how ("activate", "roll back", "promote"), and, when it is made
    against the advice of its records (``forced``), the ``concerns`` and the ``reason`` given."""

    who: str
    how: str = "activate"
    reason: str = ""
    forced: bool = False
    concerns: tuple[str, ...] = ()


def note_activation(model: ModelVersion, now: datetime, note: ActivationNote) -> None:
    """Append one activation record to the row's meta (in the activating transaction)."""
    record = {
        "at": now.isoformat(timespec="seconds"),
        "who": note.who,
        "how": note.how,
        "reason": note.reason,
        "forced": bool(note.forced),
        "concerns": list(note.concerns),
    }
    meta = dict(model.meta or {})
    meta[ACTIVATIONS] = [*list(meta.get(ACTIVATIONS) or []), record]
    model.meta = meta  # a new dict: the JSON column is written


def activate(
    session: Session, ref: str, note: ActivationNote | None = None, now: datetime | None = None
) -> ModelVersion:
    """Make ``ref`` active (refused when it lost a class); ``note`` records who, how and why."""
    model = find(session, ref)
    problem = class_problem(session, model, active_model(session))
    if problem:
        raise StoreError(problem)
    was_active = model.active
    set_active(session, model)
    if note is not None and not was_active:
        note_activation(model, now or utcnow(), note)
    return model


def _classes(model: ModelVersion) -> list[str]:
    return list((model.meta or {}).get("classes") or [])


def class_problem(session: Session, model: ModelVersion, active: ModelVersion | None) -> str | None:
    """Why ``model`` may never be activated, or None: it lacks (or adds) a class that the model
    in use or its parent has, and its class list was not changed deliberately (``--classes``,
    recorded as ``classes_changed_deliberately`` in its training metadata). A model that has lost
    a class cannot answer it at all, so no gate result or force lets it in. Going back to the
    active model's own parent (a roll-back) is always allowed."""
    if (model.meta or {}).get("training", {}).get("classes_changed_deliberately"):
        return None
    if active is not None and active.id != model.id and active.parent_hash == model.content_hash:
        return None
    parent = find_known(session, model.parent_hash) if model.parent_hash else None
    mine = _classes(model)
    if not mine:  # no class list recorded (a bare registration): nothing to compare
        return None
    for other, who in ((active, "the model in use"), (parent, "its parent")):
        if other is None or other.id == model.id or not _classes(other):
            continue  # nothing recorded to compare with
        lost = [c for c in _classes(other) if c not in mine]
        added = [c for c in mine if c not in _classes(other)]
        if lost:
            return (
                f"model {model.name}@{model.content_hash[:12]} lacks {', '.join(lost)}, which "
                f"{who} knows; a model that has lost a class is never activated"
            )
        if added:
            return (
                f"model {model.name}@{model.content_hash[:12]} adds {', '.join(added)}, which "
                f"{who} does not have, and its classes were not changed deliberately "
                "(train with --classes); not activated"
            )
    return None


def find_known(session: Session, content_hash: str) -> ModelVersion | None:
    """The registered model with exactly this content hash, or None."""
    return session.scalar(select(ModelVersion).where(ModelVersion.content_hash == content_hash))


def discard(session: Session, ref: str, now: datetime) -> ModelVersion:
    """Mark a version discarded (the row stays for the history). The active model and a
    version another kept version was fine-tuned from (its roll-back target) are refused."""
    model = find(session, ref)
    version = f"{model.name}@{model.content_hash[:12]}"
    if model.active:
        raise StoreError(f"{version} is the active model; roll back or activate another first")
    children = session.scalars(
        select(ModelVersion).where(
            ModelVersion.parent_hash == model.content_hash, ModelVersion.discarded_at.is_(None)
        )
    ).all()
    if children:
        named = ", ".join(f"{c.name}@{c.content_hash[:12]}" for c in children)
        raise StoreError(f"{version} is what {named} rolls back to; discard that first")
    if model.discarded_at is None:
        model.discarded_at = now
    return model


def list_models(session: Session, include_discarded: bool = False) -> list[ModelInfo]:
    query = select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id)
    if not include_discarded:
        query = query.where(ModelVersion.discarded_at.is_(None))
    return [model_info(m) for m in session.scalars(query)]


# --- training runs -------------------------------------------------------------------------


def start_training(
    session: Session,
    base_hash: str | None,
    params: Mapping[str, Any],
    data_summary: Mapping[str, Any],
    now: datetime,
) -> int:
    base = find(session, base_hash) if base_hash else None
    run = TrainingRun(
        base_model_id=base.id if base else None,
        params=dict(params),
        data_summary=dict(data_summary),
        status="running",
        metrics={},
        log="",
        started_at=now,
    )
    session.add(run)
    session.flush()
    return run.id


def update_training(
    session: Session,
    run_id: int,
    now: datetime,
    *,
    status: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    append_log: str | None = None,
    result_hash: str | None = None,
) -> None:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFoundError(f"no training run #{run_id} in this database")
    if status is not None:
        if status not in TRAINING_STATUSES:
            raise StoreError(f"training run #{run_id}: unknown status {status!r}")
        run.status = status
        run.finished_at = None if status == "running" else now
    if metrics is not None:
        run.metrics = {**(run.metrics or {}), **dict(metrics)}
    if append_log:
        run.log = (run.log or "") + append_log
    if result_hash is not None:
        run.result_model_id = find(session, result_hash).id


def training_info(session: Session, run_id: int) -> TrainingRunInfo:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFoundError(f"no training run #{run_id} in this database")

    def _hash(model_id: int | None) -> str | None:
        model = session.get(ModelVersion, model_id) if model_id is not None else None
        return model.content_hash if model else None

    return TrainingRunInfo(
        id=run.id,
        base_model=_hash(run.base_model_id),
        result_model=_hash(run.result_model_id),
        params=dict(run.params),
        data_summary=dict(run.data_summary),
        status=run.status,
        metrics=dict(run.metrics),
        log=run.log,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )
