"""The Store facade: one object the screening job, the CLI, the GUI and the trainer share.

The work is done by small repositories, one per concern, all sharing one
:class:`~engine.store.database.Database` (engine, sessions, write lock):

============== ============================ ==================================================
attribute      class                        concern
============== ============================ ==================================================
``db``         database.Database            sessions, image store, files beside the database
``photos``     photos.Photos                photos and every model's predictions
``screening``  runs.ScreeningRuns           screening runs and their results
``review``     review.ReviewQueue           the review queue, its counts, exports
``labels``     labelling.Labels             label, undo, redo, history, training examples
``registry``   model_registry.ModelRegistry model versions, activation, training runs
``promotion``  promotion.Promotion          register trained models, promote, roll back
``clinic``     clinic.Clinic                agreement, referral rule, status-bar stats
``care``       care.Care                    forget (with ``on_forget`` hooks), check, backup
``audit``      audit.Audit                  the audit trail: record an event, list events
============== ============================ ==================================================

Every public method of the facade keeps its old name and signature and forwards to one of them;
each is one transaction (writes take the SQLite write lock up front) and returns plain
dataclasses from :mod:`engine.store.dto`, so callers never hold ORM objects or sessions. An image
is referred to (``ref``) by a file path, or by its SHA-256 (a unique prefix of 6+ hex digits).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.store.audit import Audit
from engine.store.care import Care
from engine.store.clinic import Clinic
from engine.store.database import Database
from engine.store.db import open_engine
from engine.store.dto import RunInfo
from engine.store.forget import ForgetHook
from engine.store.labelling import Labels
from engine.store.model_registry import ModelRegistry
from engine.store.openers import Registration, register_opener
from engine.store.photos import Photos
from engine.store.promotion import Promotion
from engine.store.review import ReviewQueue
from engine.store.roles import role_of
from engine.store.runs import ScreeningRuns
from engine.store.visits import Visits

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound="Store")


def _forward(
    repository: str, method: Callable[Concatenate[Any, _P], _R]
) -> Callable[Concatenate[Store, _P], _R]:
    """A facade method calling the same-named method of the repository ``store.<repository>``
    (same signature and docstring, so help() and callers see no difference)."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: Store, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return getattr(getattr(self, repository), name)(*args, **kwargs)  # type: ignore[no-any-return]

    return call


def _as_dict(meta: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(meta) and not isinstance(meta, type):
        return dataclasses.asdict(meta)
    return dict(meta) if isinstance(meta, Mapping) else {}


class Store:
    """The case store. Open with :meth:`Store.open`; close (or use ``with``) when done."""

    def __init__(self, engine: Engine, image_root: str | os.PathLike[str] | None = None) -> None:
        self.db = Database(engine, image_root)
        self.engine = engine
        self.location = self.db.location
        self.images = self.db.images
        self.housekeeping = self.db.housekeeping
        self.photos = Photos(self.db)
        self.screening = ScreeningRuns(self.db)
        self.review = ReviewQueue(self.db)
        self.labels = Labels(self.db, self.photos)
        self.registry = ModelRegistry(self.db)
        self.promotion = Promotion(self.db, self.registry)
        self.clinic = Clinic(self.db)
        self.care = Care(self.db)
        self.visits = Visits(self.db, self.photos)  # patients, visits, decisions, lab results
        self.audit = Audit(self.db)
        self.registration: Registration | None = None  # set by open(): see engine.store.openers

    @classmethod
    def open(
        cls: type[_S],
        db: str | os.PathLike[str] | None = None,
        *,
        image_root: str | os.PathLike[str] | None = None,
        upgrade: bool = True,
        create: bool = True,
        read_only: bool = False,
        kind: str | None = None,
    ) -> _S:
        """Open (creating or migrating as needed) the database named by ``db`` / $POXSCREEN_DB.

        ``create=False`` refuses to create a missing SQLite file; ``read_only`` opens an SQLite
        file without writing to it. An SQLite store records this process as one of its openers
        (``kind``: what it is, e.g. "a screening"), so ``restore`` refuses while it is open."""
        registration = register_opener(db, kind)
        try:
            store = cls(
                open_engine(db, upgrade=upgrade, create=create, read_only=read_only), image_root
            )
        except BaseException:
            if registration is not None:
                registration.close()
            raise
        store.registration = registration
        return store

    def close(self) -> None:
        """Stop this object's run heartbeats, release the database connections and this
        process's opener marker."""
        self.screening.stop_heartbeats()
        self.db.close()
        if self.registration is not None:
            self.registration.close()
            self.registration = None

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self) -> AbstractContextManager[Session]:
        """A session in one write transaction (see Database.write)."""
        return self.db.write()

    def read(self) -> AbstractContextManager[Session]:
        """A session in one read transaction (a consistent snapshot)."""
        return self.db.read()

    def role(self) -> str | None:
        """ "admin", "clinician", or None (a shared store whose roles were never set up): see
        engine.store.roles. A SQLite store's one user holds both roles."""
        return role_of(self.engine)

    @property
    def models_dir(self) -> Path:
        """Where registered model files live (see ModelRegistry.models_dir)."""
        return self.registry.models_dir

    @property
    def splits_dir(self) -> Path:
        """Where the recorded training splits of this store live (beside the database)."""
        return self.db.beside_db("splits", "splits")

    @property
    def on_forget(self) -> list[ForgetHook]:
        """Hooks called after each :meth:`forget` with the photo's SHA-256 and the outcome:
        the layer that made thumbnails or previews appends one that deletes them."""
        return self.care.on_forget

    # --- screening runs -------------------------------------------------------------------
    begin_run = _forward("screening", ScreeningRuns.begin_run)
    record_results = _forward("screening", ScreeningRuns.record_results)
    finish_run = _forward("screening", ScreeningRuns.finish_run)
    find_resumable_run = _forward("screening", ScreeningRuns.find_resumable_run)
    done_hashes = _forward("screening", ScreeningRuns.done_hashes)
    stored_predictions = _forward("screening", ScreeningRuns.stored_predictions)
    stored_checks = _forward("screening", ScreeningRuns.stored_checks)
    run = _forward("screening", ScreeningRuns.run)
    runs = _forward("screening", ScreeningRuns.runs)
    run_errors = _forward("screening", ScreeningRuns.run_errors)

    # --- photos and predictions -----------------------------------------------------------
    add_image = _forward("photos", Photos.add_image)
    image = _forward("photos", Photos.image)
    predictions = _forward("photos", Photos.predictions)

    # --- review queue and exports ---------------------------------------------------------
    review_queue = _forward("review", ReviewQueue.review_queue)
    count = _forward("review", ReviewQueue.count)
    class_counts = _forward("review", ReviewQueue.class_counts)
    export_csv = _forward("review", ReviewQueue.export_csv)
    export_imagefolder = _forward("review", ReviewQueue.export_imagefolder)

    # --- labels ---------------------------------------------------------------------------
    label_classes = _forward("labels", Labels.label_classes)
    label = _forward("labels", Labels.label)
    undo = _forward("labels", Labels.undo)
    redo = _forward("labels", Labels.redo)
    history = _forward("labels", Labels.history)
    current_label = _forward("labels", Labels.current_label)
    labelled_images = _forward("labels", Labels.labelled_images)
    clinic_photos = _forward("labels", Labels.clinic_photos)
    readings = _forward("labels", Labels.readings)

    # --- model registry and training runs -------------------------------------------------
    register_model = _forward("registry", ModelRegistry.register_model)
    register_model_file = _forward("registry", ModelRegistry.register_model_file)
    model_file_target = _forward("registry", ModelRegistry.model_file_target)
    add_model_file = _forward("registry", ModelRegistry.add_model_file)
    models = _forward("registry", ModelRegistry.models)
    active_model = _forward("registry", ModelRegistry.active_model)
    active_model_path = _forward("registry", ModelRegistry.active_model_path)
    activate_model = _forward("registry", ModelRegistry.activate_model)
    discard_model = _forward("registry", ModelRegistry.discard_model)
    check_model_files = _forward("registry", ModelRegistry.check_model_files)
    start_training_run = _forward("registry", ModelRegistry.start_training_run)
    update_training_run = _forward("registry", ModelRegistry.update_training_run)
    training_run = _forward("registry", ModelRegistry.training_run)

    # --- promotion ------------------------------------------------------------------------
    register_trained = _forward("promotion", Promotion.register_trained)
    promote = _forward("promotion", Promotion.promote)
    rollback = _forward("promotion", Promotion.rollback)
    rollback_target = _forward("promotion", Promotion.rollback_target)
    record_failed_training = _forward("promotion", Promotion.record_failed_training)

    # --- the clinic's overview ------------------------------------------------------------
    agreement = _forward("clinic", Clinic.agreement)
    referral_rule = _forward("clinic", Clinic.referral_rule)
    set_referral_rule = _forward("clinic", Clinic.set_referral_rule)
    stats = _forward("clinic", Clinic.stats)

    # --- patient data and the database's health --------------------------------------------
    forget = _forward("care", Care.forget)
    check = _forward("care", Care.check)
    backup = _forward("care", Care.backup)
    forgotten_hashes = _forward("care", Care.forgotten_hashes)
    readd_forgotten = _forward("care", Care.readd_forgotten)
    forget_again = _forward("care", Care.forget_again)
    missing_copies = _forward("care", Care.missing_copies)

    # --- the audit trail (append-only) ---------------------------------------------------------
    record_event = _forward("audit", Audit.record)
    events = _forward("audit", Audit.events)

    # --- engine.screening.ResultStore protocol (composed from the methods above) ----------

    def begin_screening(
        self, folder: str, options: dict[str, Any], meta: Any, *, continue_finished: bool = False
    ) -> int:
        """Start (or resume an interrupted) run for ``meta`` (an engine.checkpoint.ModelMeta);
        ``continue_finished``: continue a finished run of the folder with this model too."""
        return self.begin_run(
            folder,
            options,
            meta.content_hash,
            model_name=meta.name,
            model_meta=_as_dict(meta),
            resume=True,
            continue_finished=continue_finished,
        )

    def screened_hashes(self, model_hash: str) -> set[str]:
        """Every image hash this model has screened (the job skips them)."""
        return self.done_hashes(model_hash)

    def record_screening(self, run_id: int, meta: Any, results: Sequence[Any]) -> None:
        """One batch of the job's results, checked against the run's model."""
        self.record_results(run_id, results, model_version=meta.content_hash)

    def finish_screening(
        self, run_id: int, status: str, counts: Mapping[str, int], error: str | None = None
    ) -> RunInfo:
        """Close the job's run; its counts come from the run's own rows (what ``runs`` says)."""
        return self.finish_run(run_id, status, total=counts.get("total"), error=error)
