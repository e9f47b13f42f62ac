"""The review queue the GUI pages through, its counts, and the exports of what was reviewed.
The SQL is in engine.store.queries and engine.store.export; this adds the transactions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.store import audit, export, queries
from engine.store.database import Database
from engine.store.dto import ReviewPage
from engine.store.queries import ReviewFilter


class ReviewQueue:
    """Queue, counts and exports of the case store (``store.review``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def review_queue(
        self,
        flt: ReviewFilter | None = None,
        *,
        limit: int = 100,
        after: tuple[Any, ...] | None = None,
        offset: int = 0,
    ) -> ReviewPage:
        """A page of images with the chosen model's predictions; see queries.ReviewFilter."""
        flt = flt or ReviewFilter()
        with self.db.read() as s:
            return queries.review_queue(
                s,
                flt,
                queries.queue_scope(s, flt),
                limit=limit,
                after=after,
                offset=offset,
                rule=queries.rule_for(s, flt),
            )

    def count(self, flt: ReviewFilter | None = None) -> int:
        """How many images the filter lets through (the queue's total)."""
        flt = flt or ReviewFilter()
        with self.db.read() as s:
            return queries.count(s, flt, queries.queue_scope(s, flt), queries.rule_for(s, flt))

    def class_counts(self, flt: ReviewFilter | None = None) -> dict[str, int]:
        """Images per top class among those the filter lets through."""
        flt = flt or ReviewFilter()
        with self.db.read() as s:
            model_id, rule = queries.queue_scope(s, flt), queries.rule_for(s, flt)
            return queries.class_counts(s, flt, model_id, rule)

    def export_csv(self, out_file: str | os.PathLike[str], *, run_id: int | None = None) -> int:
        """Write a run's files (or all images) with predictions and labels; return row count."""
        with self.db.read() as s:
            model_id = queries.queue_model(s, ReviewFilter(run_id=run_id))
            rows = export.export_csv(s, Path(out_file), model_id=model_id, run_id=run_id)
        self._exported({"format": "csv", "run": run_id, "rows": rows})
        return rows

    def export_imagefolder(
        self,
        out_dir: str | os.PathLike[str],
        *,
        run_id: int | None = None,
        include_refer: bool = False,
    ) -> export.ExportSummary:
        """Copy labelled images into ``out_dir/<label>/<sha256>.<ext>``."""
        with self.db.read() as s:
            summary = export.export_imagefolder(
                s, Path(out_dir), self.db.images, run_id=run_id, include_refer=include_refer
            )
        self._exported({"format": "folders", "run": run_id, "images": summary.written})
        return summary

    def _exported(self, details: dict[str, object]) -> None:
        """The ``export`` audit event (what and how much; never a file name)."""
        with self.db.write() as s:
            audit.record(s, "export", who=audit.acting(self.db), details=details)
