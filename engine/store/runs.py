"""Screening runs through the store: begin (or resume) a run, record its results batch by batch,
keep it visibly alive while this process screens it, and finish it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.paths import path_from_text
from engine.store import records, registry
from engine.store.database import Database
from engine.store.dto import RecordStats, RunInfo
from engine.store.errors import NotFoundError, StoreError
from engine.store.owner import Heartbeat, new_owner
from engine.store.tables import ModelVersion, Run, RunItem, utcnow


class RunTakenOver(StoreError):
    """Another process took over a run this process was screening (it looked dead: paused with
    SIGSTOP, a suspended laptop, a frozen network share). Nothing more is written to the run."""

    def __init__(self, run_id: int, host: str | None, pid: int | None, last: datetime) -> None:
        self.run_id = run_id
        who = f"{pid}@{host}" if pid is not None else "another process"
        super().__init__(
            f"this screening was taken over by {who} while this process was paused; stopped, "
            f"nothing written after {last:%Y-%m-%d %H:%M:%S} UTC (run #{run_id})"
        )


@dataclass
class _Owned:
    """A run this object screens: its owner token and when this process last wrote to it."""

    token: str
    last_write: datetime


class ScreeningRuns:
    """Screening runs and their results (``store.screening``); one transaction per call, so
    ``kill -9`` loses at most the batch in flight and a rerun resumes."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._heartbeats: dict[int, Heartbeat] = {}  # runs this object screens
        self._owned: dict[int, _Owned] = {}

    def begin_run(
        self,
        folder: str | os.PathLike[str],
        options: Mapping[str, Any],
        model_version: str,
        *,
        model_name: str | None = None,
        model_path: str | os.PathLike[str] | None = None,
        model_meta: Mapping[str, Any] | None = None,
        total: int | None = None,
        resume: bool = False,
        continue_finished: bool = False,
    ) -> int:
        """Start a screening run with the model whose content hash is ``model_version``.

        An unknown model is registered on the way (name/path/meta as given). With ``resume``,
        an interrupted run of the same folder and model (see find_resumable_run) is reopened
        and its id returned instead, so a rerun after a crash continues the same run. With
        ``continue_finished`` too, a finished run of them is continued as well: screening a
        folder again with the same model adds to its earlier run (the desktop's way)."""
        with self.db.write() as s:
            model = s.scalar(
                select(ModelVersion).where(ModelVersion.content_hash == model_version.lower())
            )
            if model is None:
                model = registry.register(
                    s,
                    model_version,
                    name=model_name or "model",
                    now=utcnow(),
                    path=os.fspath(model_path) if model_path else None,
                    meta=model_meta,
                )
            owner = new_owner()
            run_id = None
            if resume:
                key, now = records.folder_key(folder), utcnow()
                run = records.resumable_run(s, key, model.id, now, finished=continue_finished)
                if run is not None:
                    records.reopen_run(run, options, total, utcnow(), owner)
                    run_id = run.id
            if run_id is None:
                key = records.folder_key(folder)
                run_id = records.begin_run(s, key, options, model, utcnow(), total, owner)
        self._owned[run_id] = _Owned(owner[2], utcnow())
        self._start_heartbeat(run_id, owner[2])
        return run_id

    def _claim(self, s: Session, run_id: int) -> Run:
        """The run, after checking in the write's own transaction that this process still owns
        it: the row update holds the row, so a takeover cannot slip in before the commit."""
        owned = self._owned.get(run_id)
        if owned is None:  # a run this object did not begin: no owner to check
            return records.get_run(s, run_id)
        still_ours = s.execute(
            update(Run)
            .where(Run.id == run_id, Run.owner_token == owned.token)
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        run = records.get_run(s, run_id)
        if not still_ours:
            s.refresh(run)
            self._lost(run_id)
            raise RunTakenOver(run_id, run.owner_host, run.owner_pid, owned.last_write)
        return run

    def _lost(self, run_id: int) -> None:
        beat = self._heartbeats.pop(run_id, None)
        if beat is not None:
            beat.stop()

    def _start_heartbeat(self, run_id: int, token: str) -> None:
        """Keep the run visibly alive while this process owns it (engine.store.owner)."""

        def beat() -> None:
            with self.db.write() as s:
                s.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.owner_token == token, Run.status == "running")
                    .values(heartbeat_at=utcnow())
                )

        old = self._heartbeats.pop(run_id, None)
        if old is not None:
            old.stop()
        self._heartbeats[run_id] = Heartbeat(beat).start()

    def stop_heartbeats(self) -> None:
        """Stop every heartbeat this object runs (the store is closing)."""
        for beat in self._heartbeats.values():
            beat.stop()
        self._heartbeats.clear()

    def record_results(
        self, run_id: int, results: Sequence[Any], *, model_version: str | None = None
    ) -> RecordStats:
        """Record a batch of screening results (mappings or objects with the fields
        path, sha256, size_bytes, width, height, format, probabilities, top_class, confidence,
        error) in one transaction. A result with probabilities=None and no error marks a file the
        job skipped as already screened; one with an error (or no sha256) a file that failed."""
        with self.db.write() as s:
            run = self._claim(s, run_id)
            if model_version is not None:
                model = s.get(ModelVersion, run.model_id)
                if model is None or model.content_hash != model_version.lower():
                    used = model.content_hash[:12] if model else "?"
                    raise StoreError(
                        f"run #{run_id} screens with model {used}..., not "
                        f"{model_version[:12]}...; start a new run for another model"
                    )
            stats = records.record_results(s, run, results, utcnow())
        if run_id in self._owned:
            self._owned[run_id].last_write = utcnow()
        return stats

    def finish_run(
        self, run_id: int, status: str, *, total: int | None = None, error: str | None = None
    ) -> RunInfo:
        """Close a run as finished, cancelled or failed; counts are recomputed from the tables.
        A run another process has taken over is left to it, as it is."""
        self._lost(run_id)
        owned = self._owned.pop(run_id, None)
        with self.db.write() as s:
            run = records.get_run(s, run_id)
            if owned is not None and run.owner_token != owned.token:
                return records.run_info(s, run)
            records.finish_run(s, run, status, utcnow(), total, error)
            return records.run_info(s, run)

    def find_resumable_run(self, folder: str | os.PathLike[str], model_version: str) -> int | None:
        """The latest interrupted run of this folder with this model (cancelled, failed, or
        ``running`` whose owner is gone: see engine.store.owner), or None."""
        with self.db.read() as s:
            model = s.scalar(
                select(ModelVersion).where(ModelVersion.content_hash == model_version.lower())
            )
            if model is None:
                return None
            run = records.resumable_run(s, records.folder_key(folder), model.id, utcnow())
            return run.id if run else None

    def done_hashes(self, model_version: str, hashes: Iterable[str] | None = None) -> set[str]:
        """Image hashes (among ``hashes``, or all) already screened by this model: skip them."""
        with self.db.read() as s:
            try:
                model = registry.find(s, model_version)
            except NotFoundError:
                return set()
            return records.done_hashes(s, model.id, hashes)

    def stored_predictions(
        self, model_version: str, hashes: Iterable[str]
    ) -> dict[str, tuple[dict[str, Any], str, float]]:
        """Earlier results of this model for ``hashes``: a resumed screening still reports them."""
        with self.db.read() as s:
            try:
                model = registry.find(s, model_version)
            except NotFoundError:
                return {}
            return records.stored_predictions(s, model.id, hashes)

    def stored_checks(
        self, model_version: str, hashes: Iterable[str]
    ) -> dict[str, tuple[float | None, bool | None, str | None]]:
        """Earlier guard and quality results of this model: (scope_score, out_of_scope,
        quality_issues) per SHA-256, so a resumed screening's CSV still carries them."""
        with self.db.read() as s:
            try:
                model = registry.find(s, model_version)
            except NotFoundError:
                return {}
            return records.stored_checks(s, model.id, hashes)

    def run(self, run_id: int) -> RunInfo:
        """One run with its counts; NotFoundError for an unknown id."""
        with self.db.read() as s:
            return records.run_info(s, records.get_run(s, run_id))

    def runs(self, limit: int = 100) -> list[RunInfo]:
        """The most recent runs first."""
        with self.db.read() as s:
            rows = s.scalars(select(Run).order_by(Run.id.desc()).limit(limit)).all()
            return [records.run_info(s, r) for r in rows]

    def run_errors(self, run_id: int) -> list[tuple[str, str]]:
        """The files a screening run could not read, with the reason, sorted by path."""
        with self.db.read() as s:
            records.get_run(s, run_id)  # NotFoundError for an unknown run
            rows = s.execute(
                select(RunItem.path, RunItem.error)
                .where(RunItem.run_id == run_id, RunItem.error.is_not(None))
                .order_by(RunItem.path)
            )
            return [(path_from_text(path), error) for path, error in rows]
