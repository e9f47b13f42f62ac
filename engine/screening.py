"""A screening job: folder walk -> predictor -> CSV and case store, with progress and cancel.

The CLI and the GUI drive this one job. The CSV is written to a temporary file and renamed at
the end (also after a cancel), so the output file is never half-written.
"""

from __future__ import annotations

import csv
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from engine.images import sort_paths, walk_image_files
from engine.pipeline import BatchPredictor, Prediction
from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule


class ResultStore(Protocol):
    """What a screening needs from the case store (see ``engine.store``)."""

    def begin_screening(self, folder: str, options: dict[str, Any], meta: Any) -> int: ...
    def screened_hashes(self, model_hash: str) -> set[str]: ...
    def record_screening(self, run_id: int, meta: Any, results: Sequence[Prediction]) -> None: ...
    def finish_screening(self, run_id: int, status: str, counts: dict[str, int]) -> None: ...
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
    total: int = 0
    predicted: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    run_id: int | None = None
    csv_path: Path | None = None
    started_at: str = ""
    finished_at: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return {
            "total": self.total,
            "predicted": self.predicted,
            "skipped": self.skipped,
            "errors": len(self.errors),
        }


def csv_header(classes: Sequence[str]) -> list[str]:
    return [
        "path",
        "sha256",
        "predicted_class",
        "confidence",
        *[f"prob_{c}" for c in classes],
        "model_version",
        "model_trained",
        "error",
        "source",
        "referral",
    ]


def csv_row(
    p: Prediction, classes: Sequence[str], trained: bool, rule: ReferralRule = DEFAULT_REFERRAL_RULE
) -> list[str]:
    def fmt(v: float | None) -> str:
        return "" if v is None else f"{v:.6f}"

    return [
        str(p.path),
        p.sha256 or "",
        p.top_class or "",
        fmt(p.confidence),
        *[fmt(p.probabilities.get(c)) for c in classes],
        p.model_version,
        str(trained).lower(),
        p.error or "",
        "case store (screened earlier)" if p.skipped else "",
        "" if not p.probabilities else str(rule.flags(p.probabilities)).lower(),
    ]


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
    ) -> None:
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

    def _walk(self, t0: float) -> list[Path]:
        """List the folder, reporting progress as images are found; stops on cancel."""
        found: list[Path] = []
        last = 0.0
        for path in walk_image_files(self.folder, self.recursive, cancel=self.cancel):
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
        self._t0 = t0 = time.monotonic()
        summary = ScreeningSummary(started_at=_now(), csv_path=self.csv_path)
        paths = self.paths if self.paths is not None else self._walk(t0)
        walk_cancelled = self.cancel.is_set() and self.paths is None
        summary.total = len(paths)
        meta = self.predictor.meta
        done: set[str] = set()
        if self.store is not None and not walk_cancelled:
            done = self.store.screened_hashes(meta.content_hash)
            summary.run_id = self.store.begin_screening(
                str(self.folder),
                {
                    "recursive": self.recursive,
                    "device": str(self.predictor.device),
                    "batch_size": self.predictor.batch_size,
                },
                meta,
            )
        writer = _AtomicCsv(self.csv_path, csv_header(meta.classes)) if self.csv_path else None
        rule = self._referral_rule()
        status = "failed"
        self._t_screen = time.monotonic()
        try:
            processed = 0
            self._report(summary, 0, None)
            for batch in self.predictor.predict_paths(
                [] if walk_cancelled else paths,
                skip=done.__contains__ if done else None,
                cancel=self.cancel,
            ):
                _tally(summary, batch)
                if self.store is not None:
                    self.store.record_screening(summary.run_id, meta, batch)  # type: ignore[arg-type]
                self._fill_skipped(batch)  # resumed images carry their stored result everywhere
                if writer is not None:
                    writer.write(
                        [
                            csv_row(p, meta.classes, meta.trained, rule)
                            for p in batch
                            if not p.skipped or p.top_class
                        ]
                    )
                if self.on_results is not None:
                    self.on_results(batch)
                processed += len(batch)
                self._report(summary, processed, str(batch[-1].path) if batch else None)
            summary.cancelled = walk_cancelled or (
                self.cancel.is_set() and processed < summary.total
            )
            status = "cancelled" if summary.cancelled else "finished"
            if writer is not None:
                writer.commit()
        finally:
            if writer is not None:
                writer.discard()
            summary.finished_at = _now()
            if self.store is not None and summary.run_id is not None:
                self.store.finish_screening(summary.run_id, status, summary.counts)
        return summary

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


def _tally(summary: ScreeningSummary, batch: list[Prediction]) -> None:
    for p in batch:
        if p.skipped:
            summary.skipped += 1
        elif p.error:
            summary.errors.append((str(p.path), p.error))
        else:
            summary.predicted += 1


class _AtomicCsv:
    """CSV rows go to a temp file beside the target; ``commit`` renames it into place."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(header)

    def write(self, rows: list[list[str]]) -> None:
        self.writer.writerows(rows)
        self.fh.flush()

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
