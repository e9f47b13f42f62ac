"""Screening runs, images and predictions: what a screening job writes, one batch at a time.

Each function works inside the caller's session/transaction (the Store facade opens one per
call), so a batch of results is all-or-nothing: after a ``kill -9`` the database holds whole
batches only, and a rerun that skips :func:`done_hashes` finishes the job with no duplicates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from os import fspath
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.hashes import SHA256_HEX
from engine.i18n import gettext as _
from engine.paths import display_path, path_from_text, path_to_text
from engine.store.dto import RecordStats, RunCounts, RunInfo
from engine.store.errors import NotFoundError, StoreError
from engine.store.owner import owner_gone
from engine.store.sqlutil import chunked, insert_ignore, upsert
from engine.store.tables import (
    RUN_STATUSES,
    Image,
    ModelVersion,
    Prediction,
    Run,
    RunItem,
)


@dataclass
class _Result:
    path: str
    sha256: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    format: str | None
    probabilities: dict[str, float] | None
    top_class: str | None
    confidence: float | None
    error: str | None
    scope_score: float | None = None
    out_of_scope: bool | None = None
    quality_issues: str | None = None


def _field(result: Any, name: str) -> Any:
    if isinstance(result, Mapping):
        return result.get(name)
    return getattr(result, name, None)


def check_sha256(value: str, where: str) -> str:
    sha = str(value).strip().lower()
    if not SHA256_HEX.match(sha):
        raise StoreError(f"{where}: not a SHA-256 hex digest: {value!r}")
    return sha


def entropy(probabilities: Mapping[str, float]) -> float:
    """Shannon entropy in nats (0 = certain; ln 4 ~ 1.386 = uniform over four classes)."""
    return float(-sum(p * math.log(p) for p in probabilities.values() if p > 0))


def normalise_result(result: Any) -> _Result:
    path = _field(result, "path")
    if path is None:
        raise StoreError(f"screening result without a path: {result!r}")
    path = path_to_text(os.path.abspath(fspath(path)))  # invalid UTF-8 names kept losslessly
    sha = _field(result, "sha256")
    sha = check_sha256(sha, path) if sha else None
    error = _field(result, "error")
    probs_in = _field(result, "probabilities")
    if _field(result, "skipped") or (probs_in is not None and len(probs_in) == 0):
        probs_in = None  # a file the job skipped as already screened (or had nothing for)
    probs: dict[str, float] | None = None
    top, conf = _field(result, "top_class"), _field(result, "confidence")
    if probs_in is not None and not error:
        try:
            probs = {str(k): float(v) for k, v in dict(probs_in).items()}
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{path}: probabilities are not numbers ({exc})") from exc
        if not probs or not all(
            math.isfinite(v) and -1e-6 <= v <= 1 + 1e-6 for v in probs.values()
        ):
            raise StoreError(
                f"{path}: probabilities must be a non-empty mapping of values in [0, 1]"
            )
        if top is None or conf is None:
            top = max(probs, key=lambda k: probs[k])
            conf = probs[top]
    return _Result(
        path=path,
        sha256=sha,
        size_bytes=_field(result, "size_bytes"),
        width=_field(result, "width"),
        height=_field(result, "height"),
        format=_field(result, "format"),
        probabilities=probs,
        top_class=None if probs is None else str(top),
        confidence=None if probs is None else float(conf),
        error=display_path(str(error)) if error else None,
        **_checks(result, probs is not None),
    )


def _checks(result: Any, predicted: bool) -> dict[str, Any]:
    """The guard's and the quality check's fields, when the result has a prediction."""
    score, flag, issues = (
        _field(result, k) for k in ("scope_score", "out_of_scope", "quality_issues")
    )
    if not predicted:
        return {}
    return {
        "scope_score": None if score is None else float(score),
        "out_of_scope": None if flag is None else bool(flag),
        "quality_issues": None if issues is None else str(issues),
    }


def model_by_hash(session: Session, content_hash: str) -> ModelVersion:
    model = session.scalar(select(ModelVersion).where(ModelVersion.content_hash == content_hash))
    if model is None:
        raise NotFoundError(f"model version {content_hash[:12]}... is not in the registry")
    return model


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(_("no screening run #{run} in this database").format(run=run_id))
    return run


def upsert_images(session: Session, items: Iterable[_Result], now: datetime) -> dict[str, int]:
    """Create or refresh image rows (last seen path/size/dimensions); return sha256 -> id."""
    rows: dict[str, dict[str, Any]] = {}
    for it in items:
        if it.sha256 is None:
            continue
        rows[it.sha256] = {
            "sha256": it.sha256,
            "path": it.path,
            "size_bytes": it.size_bytes,
            "width": it.width,
            "height": it.height,
            "format": it.format,
            "first_seen_at": now,
            "last_seen_at": now,
        }
    table = Image.__table__
    upsert(
        session,
        table,  # type: ignore[arg-type]
        rows.values(),
        conflict=["sha256"],
        replace=["path", "last_seen_at"],
        keep_if_null=["size_bytes", "width", "height", "format"],
    )
    ids: dict[str, int] = {}
    for chunk in chunked(list(rows)):
        rows = session.execute(select(Image.sha256, Image.id).where(Image.sha256.in_(chunk)))
        ids.update((sha, image_id) for sha, image_id in rows)
    return ids


def folder_key(folder: str | os.PathLike[str]) -> str:
    """How a screened folder is stored: absolute, as storable text (see engine.paths)."""
    return path_to_text(os.path.abspath(folder))


def begin_run(
    session: Session,
    folder: str,
    options: Mapping[str, Any],
    model: ModelVersion,
    now: datetime,
    total: int | None,
    owner: tuple[str, int, str] | None = None,
) -> int:
    host, pid, token = owner or (None, None, None)
    run = Run(
        owner_host=host,
        owner_pid=pid,
        owner_token=token,
        heartbeat_at=now,
        folder=folder,
        options=dict(options),
        model_id=model.id,
        status="running",
        started_at=now,
        updated_at=now,
        n_total=total,
    )
    session.add(run)
    session.flush()
    return run.id


def resumable_run(
    session: Session, folder: str, model_id: int, now: datetime, *, finished: bool = False
) -> Run | None:
    """The latest interrupted run of ``folder`` with this model (with ``finished``, the latest
    run of it, finished ones included), unless another live process is screening it."""
    stmt = select(Run).where(Run.folder == folder, Run.model_id == model_id)
    if not finished:
        stmt = stmt.where(Run.status != "finished")
    run = session.scalar(stmt.order_by(Run.id.desc()).limit(1))
    if run is None:
        return None
    if run.status == "running" and not run_owner_gone(run, now):
        return None  # alive in another process or thread: never write into its run
    return run


def run_owner_gone(run: Run, now: datetime) -> bool:
    """The owner of a ``running`` run is gone (see engine.store.owner)."""
    last = max(run.updated_at, run.heartbeat_at or run.updated_at)
    return owner_gone(run.owner_host, run.owner_pid, last, now)


def reopen_run(
    run: Run,
    options: Mapping[str, Any],
    total: int | None,
    now: datetime,
    owner: tuple[str, int, str] | None = None,
) -> None:
    run.status, run.finished_at, run.error, run.updated_at = "running", None, None, now
    if owner is not None:
        run.owner_host, run.owner_pid, run.owner_token = owner
    run.heartbeat_at = now
    run.options = {**run.options, **dict(options)}
    run.n_total = total if total is not None else run.n_total


def record_results(
    session: Session, run: Run, results: Sequence[Any], now: datetime
) -> RecordStats:
    """Record one batch; predictions already stored for the run's model are kept as they are."""
    items = [normalise_result(r) for r in results]
    ids = upsert_images(session, items, now)
    model_id = run.model_id
    done: set[int] = set()
    for chunk in chunked(list(set(ids.values()))):
        done.update(
            session.scalars(
                select(Prediction.image_id).where(
                    Prediction.model_id == model_id, Prediction.image_id.in_(chunk)
                )
            )
        )
    new: dict[int, dict[str, Any]] = {}
    screened = skipped = failed = 0
    run_items: dict[str, dict[str, Any]] = {}
    for it in items:
        image_id = ids.get(it.sha256) if it.sha256 else None
        run_items[it.path] = {
            "run_id": run.id,
            "image_id": image_id,
            "path": it.path,
            "error": it.error,
        }
        if it.error or image_id is None:
            failed += 1
        elif it.probabilities is None or image_id in done or image_id in new:
            skipped += 1
        else:
            screened += 1
            new[image_id] = {
                "image_id": image_id,
                "model_id": model_id,
                "run_id": run.id,
                "probabilities": it.probabilities,
                "top_class": it.top_class,
                "confidence": it.confidence,
                "entropy": entropy(it.probabilities),
                "scope_score": it.scope_score,
                "out_of_scope": it.out_of_scope,
                "quality_issues": it.quality_issues,
                "created_at": now,
            }
    predictions: Any = Prediction.__table__
    insert_ignore(session, predictions, new.values(), ["image_id", "model_id"])
    upsert(
        session,
        RunItem.__table__,  # type: ignore[arg-type]
        run_items.values(),
        conflict=["run_id", "path"],
        replace=["image_id", "error"],
    )
    run.updated_at = now
    return RecordStats(screened=screened, skipped=skipped, failed=failed)


def count_run(session: Session, run: Run) -> RunCounts:
    """Counts recomputed from the tables (exact even after a crash or a resumed run)."""
    seen, failed = session.execute(
        select(func.count(), func.count(RunItem.error)).where(RunItem.run_id == run.id)
    ).one()
    screened = session.scalar(select(func.count()).where(Prediction.run_id == run.id)) or 0
    skipped = (
        session.scalar(
            select(func.count())
            .select_from(RunItem)
            .join(
                Prediction,
                and_(Prediction.image_id == RunItem.image_id, Prediction.model_id == run.model_id),
            )
            .where(
                RunItem.run_id == run.id,
                RunItem.error.is_(None),
                or_(Prediction.run_id.is_(None), Prediction.run_id != run.id),
            )
        )
        or 0
    )
    return RunCounts(seen=seen, screened=screened, skipped=skipped, failed=failed)


def finish_run(
    session: Session, run: Run, status: str, now: datetime, total: int | None, error: str | None
) -> None:
    if status not in RUN_STATUSES or status == "running":
        raise StoreError(f"run #{run.id}: cannot finish with status {status!r}")
    counts = count_run(session, run)
    run.status = status
    run.finished_at = now
    run.updated_at = now
    run.n_total = total if total is not None else run.n_total
    run.n_screened, run.n_skipped, run.n_failed = counts.screened, counts.skipped, counts.failed
    run.error = error


def run_info(session: Session, run: Run) -> RunInfo:
    model = session.get(ModelVersion, run.model_id)
    assert model is not None  # enforced by the foreign key
    if run.status == "running":
        counts = count_run(session, run)
    else:
        seen = session.scalar(select(func.count()).where(RunItem.run_id == run.id)) or 0
        counts = RunCounts(seen, run.n_screened, run.n_skipped, run.n_failed)
    return RunInfo(
        id=run.id,
        folder=path_from_text(run.folder),
        options=dict(run.options),
        model_version=model.content_hash,
        model_name=model.name,
        status=run.status,
        started_at=run.started_at,
        updated_at=run.updated_at,
        finished_at=run.finished_at,
        total=run.n_total,
        counts=counts,
        error=run.error,
        owner_host=run.owner_host,
        owner_pid=run.owner_pid,
        heartbeat_at=run.heartbeat_at,
    )


def done_hashes(session: Session, model_id: int, hashes: Iterable[str] | None) -> set[str]:
    """Hashes (of those given, or all) that already have a prediction from this model."""
    if hashes is None:
        stmt = select(Image.sha256).join(Prediction, Prediction.image_id == Image.id)
        return set(session.scalars(stmt.where(Prediction.model_id == model_id)))
    # Driven by the sha256 index, then the (image_id, model_id) unique index: ~1 ms per 256.
    has_prediction = exists().where(
        Prediction.image_id == Image.id, Prediction.model_id == model_id
    )
    wanted = sorted({h.lower() for h in hashes})
    out: set[str] = set()
    for chunk in chunked(wanted):
        out.update(
            session.scalars(select(Image.sha256).where(Image.sha256.in_(chunk), has_prediction))
        )
    return out


def stored_predictions(
    session: Session, model_id: int, hashes: Iterable[str]
) -> dict[str, tuple[dict[str, Any], str, float]]:
    """sha256 -> (probabilities, top class, confidence) of this model's earlier predictions."""
    wanted = sorted({h.lower() for h in hashes})
    out: dict[str, tuple[dict[str, Any], str, float]] = {}
    for chunk in chunked(wanted):
        stmt = (
            select(
                Image.sha256, Prediction.probabilities, Prediction.top_class, Prediction.confidence
            )
            .join(Prediction, Prediction.image_id == Image.id)
            .where(Prediction.model_id == model_id, Image.sha256.in_(chunk))
        )
        for sha, probs, top, conf in session.execute(stmt):
            out[sha] = (dict(probs), top, conf)
    return out


def stored_checks(
    session: Session, model_id: int, hashes: Iterable[str]
) -> dict[str, tuple[float | None, bool | None, str | None]]:
    """sha256 -> (scope_score, out_of_scope, quality_issues) of this model's earlier predictions."""
    wanted = sorted({h.lower() for h in hashes})
    out: dict[str, tuple[float | None, bool | None, str | None]] = {}
    for chunk in chunked(wanted):
        stmt = (
            select(
                Image.sha256,
                Prediction.scope_score,
                Prediction.out_of_scope,
                Prediction.quality_issues,
            )
            .join(Prediction, Prediction.image_id == Image.id)
            .where(Prediction.model_id == model_id, Image.sha256.in_(chunk))
        )
        for sha, score, flag, issues in session.execute(stmt):
            out[sha] = (score, flag, issues)
    return out
