"""A screening job: folder walk -> predictor -> CSV and case store, with progress and cancel.

The CLI and the GUI drive this one job. The CSV is written to a temporary file and renamed at
the end (also after a cancel), so the output file is never half-written.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from engine import csv_columns, csvsafe
from engine.atomic import WriteFailed, atomic_open, write_failed
from engine.forget_list import ForgetList
from engine.images import sort_paths, walk_image_files
from engine.pipeline import BatchPredictor, Prediction
from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule, needs_photo_check
from engine.visits import Misfit, by_layout

log = logging.getLogger(__name__)


class ResultStore(Protocol):
    """What a screening needs from the case store (see ``engine.store``)."""

    def begin_screening(
        self, folder: str, options: dict[str, Any], meta: Any, *, continue_finished: bool = False
    ) -> int: ...
    def screened_hashes(self, model_hash: str) -> set[str]: ...
    def record_screening(self, run_id: int, meta: Any, results: Sequence[Prediction]) -> None: ...
    def finish_screening(
        self, run_id: int, status: str, counts: dict[str, int], error: str | None = None
    ) -> Any: ...
    def stored_predictions(
        self, model_hash: str, hashes: Sequence[str]
    ) -> dict[str, tuple[dict[str, float], str, float]]: ...


@dataclass
class Progress:
    """Where a screening is. While ``phase`` is "walking" the folder is still being listed:
    ``total`` counts the images found so far and grows. ``rate`` is images per second of the
    screening phase; ``eta_s`` is None until there is a rate."""

    done: int
    total: int
    errors: int
    skipped: int
    current: str | None = None
    elapsed_s: float = 0.0
    rate: float = 0.0
    eta_s: float | None = None
    phase: str = "screening"


@dataclass
class ScreeningSummary:
    """What a screening did, for the caller's message and exit status."""

    total: int = 0
    predicted: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    run_id: int | None = None
    csv_path: Path | None = None
    started_at: str = ""
    finished_at: str = ""
    csv_kept: bool = False  # a failed screening left the rows screened so far in csv_path
    forgotten: int = 0  # photos skipped because they were forgotten (counted in ``skipped``)
    misfits: list[Misfit] = field(default_factory=list)  # folders that do not fit the layout
    with_visit: int = 0  # photos given a patient and visit (layout or manifest)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "total": self.total,
            "predicted": self.predicted,
            "skipped": self.skipped,
            "errors": len(self.errors),
        }


def csv_header(classes: Sequence[str]) -> list[str]:
    """The screening CSV's column names (engine.csv_columns, shared with the cases export)."""
    return csv_columns.header(classes)


def refers(rule: ReferralRule, p: Prediction) -> bool:
    """The referral flag: the rule on the probabilities, or "check photo" (out of scope or a
    quality issue), so a flagged picture never drops silently out of triage."""
    return rule.flags(p.probabilities) or needs_photo_check(p.out_of_scope, p.quality_issues)


def csv_row(
    p: Prediction,
    classes: Sequence[str],
    trained: bool,
    rule: ReferralRule = DEFAULT_REFERRAL_RULE,
    source: str | None = None,
    visit: tuple[str, str] | None = None,
) -> list[str]:
    """One prediction as a screening CSV row (a skipped one was screened in an earlier run);
    ``visit``: the photo's (patient, visit)."""
    record = csv_columns.CsvRecord(
        path=p.path,
        sha256=p.sha256,
        top_class=p.top_class,
        confidence=p.confidence,
        probabilities=p.probabilities,
        model_version=p.model_version,
        model_trained=trained,
        error=p.error,
        source=source or ("case store (screened earlier)" if p.skipped else ""),
        referral=refers(rule, p) if p.probabilities else None,
        out_of_scope=p.out_of_scope,
        scope_score=p.scope_score,
        quality_issues=p.quality_issues,
        patient=visit[0] if visit else None,
        visit=visit[1] if visit else None,
    )
    return csv_columns.row(record, classes)


class ScreeningJob:
    """Screen ``folder`` (or explicit ``paths``) once; call :meth:`run` from any thread."""

    def __init__(
        self,
        predictor: BatchPredictor,
        folder: str | os.PathLike[str],
        *,
        recursive: bool = False,
        paths: Sequence[Path] | None = None,
        csv_path: str | os.PathLike[str] | None = None,
        store: ResultStore | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_results: Callable[[list[Prediction]], None] | None = None,
        cancel: threading.Event | None = None,
        referral: ReferralRule | None = None,
        readd_forgotten: bool = False,
        run_options: Mapping[str, Any] | None = None,
        continue_finished: bool = False,
        layout: str | None = None,
        visits: Mapping[Path, tuple[str, str]] | None = None,
    ) -> None:
        """``run_options``: more facts kept with the run (e.g. ``rescreen_of``);
        ``continue_finished``: a finished run of the folder with this model is continued;
        ``layout``: read patient and visit from the folders (engine.visits.by_layout; implies
        ``recursive``); ``visits``: each photo's (patient, visit), e.g. from a manifest."""
        self.layout = layout
        self.visits = {Path(p).resolve(): ids for p, ids in (visits or {}).items()}
        recursive = recursive or layout is not None
        self.run_options = dict(run_options or {})
        self.continue_finished = continue_finished
        self.predictor = predictor
        self.folder = Path(folder)
        self.recursive = recursive
        self.paths = list(paths) if paths is not None else None
        self.csv_path = Path(csv_path) if csv_path else None
        self.store = store
        self.on_progress = on_progress
        self.on_results = on_results
        self.cancel = cancel or threading.Event()
        self._t0 = self._t_screen = 0.0
        self.referral = referral
        self.readd_forgotten = readd_forgotten
        self.forget_list = ForgetList(None)
        self.left_out: list[tuple[Path, str]] = []  # links not followed, unreadable folders

    def _walk(self, t0: float) -> list[Path]:
        """List the folder, reporting progress as images are found; stops on cancel."""
        found: list[Path] = []
        last = 0.0
        self.left_out = []
        walk = walk_image_files(
            self.folder, self.recursive, cancel=self.cancel, on_skip=self._left_out
        )
        for path in walk:
            if self.cancel.is_set():
                break
            found.append(path)
            now = time.monotonic()
            if self.on_progress is not None and (len(found) == 1 or now - last >= 0.1):
                last = now
                self.on_progress(
                    Progress(0, len(found), 0, 0, str(path), now - t0, 0.0, None, "walking")
                )
        return sort_paths(found)

    def _left_out(self, path: Path, reason: str) -> None:
        self.left_out.append((path, reason))

    def _left_out_batch(self) -> list[Prediction]:
        """What the walk left out, as failed results: listed in the summary's errors, the CSV
        and the run, like any file that could not be screened."""
        version = self.predictor.version
        return [
            Prediction(path=path, model_version=version, error=reason)
            for path, reason in sorted(self.left_out, key=lambda item: str(item[0]).casefold())
        ]

    def _report(self, summary: ScreeningSummary, done: int, current: str | None) -> None:
        if self.on_progress is None:
            return
        now, t0, t_screen = time.monotonic(), self._t0, self._t_screen
        rate = done / (now - t_screen) if done and now > t_screen else 0.0
        eta = (summary.total - done) / rate if rate > 0 else None
        self.on_progress(
            Progress(
                done,
                summary.total,
                len(summary.errors),
                summary.skipped,
                current,
                now - t0,
                rate,
                eta,
                "screening",
            )
        )

    def run(self) -> ScreeningSummary:
        """Screen everything; the run's status is set only once the CSV is safely written.

        A store or output failure part-way raises :class:`ScreeningFailed` after closing the
        run as failed and keeping the CSV of what was screened (see ``csv_kept``).
        """
        self._t0 = t0 = time.monotonic()
        self._before: Any = None  # the run's counts when this job began (see _close_run)
        summary = ScreeningSummary(started_at=_now(), csv_path=self.csv_path)
        paths = self.paths if self.paths is not None else self._walk(t0)
        walk_cancelled = self.cancel.is_set() and self.paths is None
        if walk_cancelled:
            self.left_out = []
        summary.total = len(paths) + len(self.left_out)
        if self.layout is not None:
            found = by_layout(self.folder, list(paths), self.layout)
            self.visits.update({p.resolve(): ids for p, ids in found.visits.items()})
            summary.misfits = found.misfits
        meta = self.predictor.meta
        # Open the output first: a folder or unwritable --out fails before any run is begun.
        writer = _AtomicCsv(self.csv_path, csv_header(meta.classes)) if self.csv_path else None
        done: set[str] = set()
        try:
            if self.store is not None and not walk_cancelled:
                done = self.store.screened_hashes(meta.content_hash)
                self.forget_list = ForgetList(self.store, readd=self.readd_forgotten)
                summary.run_id = self._begin_run(meta)
                self._before = _run_counts(self.store, summary.run_id)
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        status, error = "failed", None
        self._t_screen = time.monotonic()
        try:
            self._screen([] if walk_cancelled else paths, done, writer, summary)
            summary.cancelled = walk_cancelled or summary.cancelled
            if writer is not None:
                writer.commit()
            status = "cancelled" if summary.cancelled else "finished"
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            if writer is not None and not isinstance(exc, WriteFailed):
                summary.csv_kept = writer.keep_partial()
            raise ScreeningFailed(error, summary) from exc
        finally:
            if writer is not None:
                writer.discard()
            summary.finished_at = _now()
            summary.forgotten = self.forget_list.count
            self._close_run(summary, status, error)
        return summary

    def _screen(
        self,
        paths: Sequence[Path],
        done: set[str],
        writer: _AtomicCsv | None,
        summary: ScreeningSummary,
    ) -> None:
        meta = self.predictor.meta
        rule = self._referral_rule()
        processed = 0
        self._report(summary, 0, None)
        forgot = self.forget_list
        left_out = self._left_out_batch()
        batches = self.predictor.predict_paths(paths, skip=forgot.skip(done), cancel=self.cancel)
        for batch in itertools.chain([left_out] if left_out else [], batches):
            _tally(summary, batch)
            kept = forgot.split(batch)  # forgotten photos: listed in the CSV, never stored
            self._fill_skipped(kept)  # resumed images carry their stored result everywhere
            if writer is not None:  # before the store: a store failure keeps this batch's rows
                writer.write(
                    [
                        csv_row(
                            p, meta.classes, meta.trained, rule, forgot.reason(p), self._visit(p)
                        )
                        for p in batch
                        if not p.skipped or p.top_class or forgot.reason(p)
                    ]
                )
            if self.store is not None:
                self.store.record_screening(summary.run_id, meta, kept)  # type: ignore[arg-type]
                summary.with_visit += self._record_visits(kept)
            if self.on_results is not None:
                self.on_results(kept)
            processed += len(batch)
            self._report(summary, processed, str(batch[-1].path) if batch else None)
        summary.cancelled = self.cancel.is_set() and processed < len(paths) + len(left_out)

    def _visit(self, p: Prediction) -> tuple[str, str] | None:
        """The photo's (patient, visit) from the layout or manifest, if it has one."""
        if not self.visits:
            return None
        return self.visits.get(Path(p.path).resolve())

    def _record_visits(self, batch: list[Prediction]) -> int:
        """Give the batch's stored photos their patient and visit."""
        found = {p.sha256: ids for p in batch if p.sha256 and (ids := self._visit(p))}
        assign = getattr(getattr(self.store, "visits", None), "assign_hashes", None)
        if not found or assign is None:
            return 0
        assign(found)
        return len(found)

    def _begin_run(self, meta: Any) -> int:
        assert self.store is not None
        options = {
            "recursive": self.recursive,
            "device": str(self.predictor.device),
            "batch_size": self.predictor.batch_size,
            **self.run_options,
        }
        if self.continue_finished:
            return self.store.begin_screening(
                str(self.folder), options, meta, continue_finished=True
            )
        return self.store.begin_screening(str(self.folder), options, meta)

    def _close_run(self, summary: ScreeningSummary, status: str, error: str | None) -> None:
        """Record how the run ended; while another error propagates, a second one (the store
        is still locked or full) must not hide it, and the run stays resumable."""
        if self.store is None or summary.run_id is None:
            return
        try:
            if error is None:
                info = self.store.finish_screening(summary.run_id, status, summary.counts)
            else:
                info = self.store.finish_screening(
                    summary.run_id, status, summary.counts, error=error
                )
            _lost_to_another_run(summary, self._before, getattr(info, "counts", None))
        except Exception:
            if error is None:
                raise
            log.warning("run #%s could not be closed as failed", summary.run_id, exc_info=True)

    def _referral_rule(self) -> ReferralRule:
        """The rule given, else the case store's (so CLI and GUI agree), else the default."""
        if self.referral is not None:
            return self.referral
        read = getattr(self.store, "referral_rule", None)
        return read() if callable(read) else DEFAULT_REFERRAL_RULE

    def _fill_skipped(self, batch: list[Prediction]) -> None:
        """Give already-screened images their stored result, so a resumed CSV is complete."""
        skipped = [p for p in batch if p.skipped and p.sha256]
        if not skipped or self.store is None:
            return
        stored = self.store.stored_predictions(
            self.predictor.meta.content_hash,
            [p.sha256 for p in skipped],  # type: ignore[misc]
        )
        for p in skipped:
            hit = stored.get(p.sha256 or "")
            if hit is not None:
                p.probabilities, p.top_class, p.confidence = hit
        checks = getattr(self.store, "stored_checks", None)  # a store without the guard columns
        if checks is None:
            return
        found = checks(self.predictor.meta.content_hash, [p.sha256 for p in skipped])
        for p in skipped:
            if (hit := found.get(p.sha256 or "")) is not None:
                p.scope_score, p.out_of_scope, p.quality_issues = hit


def _run_counts(store: Any, run_id: int) -> Any:
    """The run's counts from its own rows (a resumed run has some already), if the store says."""
    run = getattr(store, "run", None)
    return getattr(run(run_id), "counts", None) if callable(run) else None


def _lost_to_another_run(summary: ScreeningSummary, before: Any, after: Any) -> None:
    """Agree with the run's own rows (what ``runs`` shows): a photo this job predicted while a
    screening running at the same time recorded it first is that run's, so here it was
    skipped. ``before``/``after``: the run's counts when the job began and ended."""
    if before is None or after is None:
        return
    lost = summary.predicted - (after.screened - before.screened)
    if lost > 0:
        summary.predicted -= lost
        summary.skipped += lost


def _tally(summary: ScreeningSummary, batch: list[Prediction]) -> None:
    for p in batch:
        if p.skipped:
            summary.skipped += 1
        elif p.error:
            summary.errors.append((str(p.path), p.error))
        else:
            summary.predicted += 1


class ScreeningFailed(Exception):
    """A screening stopped by a store or output error; ``summary`` says what was done and
    whether ``summary.csv_kept`` holds the rows screened so far. The message names the file
    (database or CSV) and the cause."""

    def __init__(self, message: str, summary: ScreeningSummary) -> None:
        super().__init__(message)
        self.summary = summary


class _AtomicCsv:
    """CSV rows go to a temp file beside the target (engine.atomic); ``commit`` renames it
    into place. Write failures raise WriteFailed naming the CSV and the cause."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._cm = atomic_open(path, "w", newline="", encoding="utf-8")
        self.fh = self._cm.__enter__()
        self.writer = csvsafe.writer(self.fh)
        self._closed = False
        self.write([header])

    def write(self, rows: list[list[str]]) -> None:
        try:
            self.writer.writerows(rows)
            self.fh.flush()
        except OSError as exc:
            raise write_failed(self.path, exc) from exc

    def commit(self) -> None:
        if not self._closed:
            self._closed = True
            self._cm.__exit__(None, None, None)

    def keep_partial(self) -> bool:
        """Rename what was written so far into place (a screening that stopped part-way)."""
        try:
            self.commit()
        except OSError:
            log.warning("%s: could not keep the partial results", self.path, exc_info=True)
            return False
        return True

    def discard(self) -> None:
        if not self._closed:
            self._closed = True
            err = RuntimeError("screening output discarded")
            self._cm.__exit__(RuntimeError, err, None)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
