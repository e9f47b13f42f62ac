"""The case store: every screening result, clinician correction and model version, in SQLite
(or any SQLAlchemy URL) through SQLAlchemy 2, migrated by Alembic, crash-safe and resumable.

Open it::

    from engine.store import Store
    store = Store.open(db)          # db: path, SQLAlchemy URL, or None ($POXSCREEN_DB, then the
                                    # user data dir); raises StoreVersionError for foreign/newer DBs

Screening job -- one transaction per call, so ``kill -9`` loses at most the batch in flight and
a rerun resumes. engine.screening.ScreeningJob already drives it through the ResultStore protocol
methods ``begin_screening``, ``screened_hashes``, ``record_screening``, ``finish_screening``;
underneath, and for any other caller::

    run_id = store.begin_run(folder, options, meta.content_hash, model_name=meta.name,
                             model_path=path, model_meta=meta_dict, total=n_files,
                             resume=True)       # reopens an interrupted run of folder + model
    done = store.done_hashes(meta.content_hash, hashes)   # already screened: skip these
    store.record_results(run_id, results)   # results: mappings/objects with path, sha256,
                                            # size_bytes, width, height, format, probabilities,
                                            # top_class, confidence, error (skipped=True or
                                            # probabilities=None: already screened)
    store.finish_run(run_id, "finished" | "cancelled" | "failed", total=n, error=msg)

GUI: ``review_queue(ReviewFilter(...), limit=100, after=page.next_cursor)``, ``count``,
``class_counts``, ``image``, ``predictions``, ``label``, ``undo``, ``history``,
``current_label``, ``runs``, ``run``, ``redo``, ``run_errors``, ``agreement``,
``referral_rule``, ``set_referral_rule``, ``stats``. Trainer: ``labelled_images``,
``clinic_photos``, ``start_training_run``, ``update_training_run``, ``register_model``,
``register_model_file``, ``activate_model``, ``models``, ``active_model``, ``active_model_path``.
Exports: ``export_csv``, ``export_imagefolder``. Patient data: ``forget`` (copy and paths
removed, hash and history kept; then the ``on_forget`` hooks run, such as
engine.thumbnails.forget_hook for thumbnails and previews), ``check`` (integrity), ``backup``.
Audit trail: ``events``, ``record_event`` (append-only; engine.store.audit), ``readings`` (who
gave which label to a disputed photo), ``role`` (engine.store.roles).

Each method belongs to one repository, reachable by concern as ``store.photos``,
``store.screening``, ``store.review``, ``store.labels``, ``store.registry``,
``store.promotion``, ``store.clinic``, ``store.care`` and ``store.audit``; see
engine.store.store.
"""

import os

from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule
from engine.store.database import IMAGE_STORE_ENV
from engine.store.db import DB_ENV, default_db_path, head_revision, resolve_db_url
from engine.store.dto import (
    AgreementCounts,
    ImageRecord,
    LabelEntry,
    LabelledImage,
    LabelOutcome,
    ModelInfo,
    PredictionRecord,
    RecordStats,
    ReviewItem,
    ReviewPage,
    RunCounts,
    RunInfo,
    StoreStats,
    TrainingRunInfo,
)
from engine.store.errors import (
    NotFoundError,
    NothingToRedoError,
    NothingToUndoError,
    StoreError,
    StoreVersionError,
)
from engine.store.export import ExportSummary
from engine.store.forget import ForgetHook, ForgetOutcome
from engine.store.queries import ReviewFilter
from engine.store.store import Store
from engine.store.tables import REFER


def open_store(db: str | os.PathLike[str] | None = None) -> Store:
    """``Store.open(db)``: the entry point ``poxscreen screen --db`` uses."""
    return Store.open(db)


__all__ = [
    "open_store",
    "AgreementCounts",
    "DEFAULT_REFERRAL_RULE",
    "NothingToRedoError",
    "ReferralRule",
    "StoreStats",
    "DB_ENV",
    "IMAGE_STORE_ENV",
    "REFER",
    "ExportSummary",
    "ForgetHook",
    "ForgetOutcome",
    "ImageRecord",
    "LabelEntry",
    "LabelOutcome",
    "LabelledImage",
    "ModelInfo",
    "NotFoundError",
    "NothingToUndoError",
    "PredictionRecord",
    "RecordStats",
    "ReviewFilter",
    "ReviewItem",
    "ReviewPage",
    "RunCounts",
    "RunInfo",
    "Store",
    "StoreError",
    "StoreVersionError",
    "TrainingRunInfo",
    "default_db_path",
    "head_revision",
    "resolve_db_url",
]
