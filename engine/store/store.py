"""The Store facade: one object the screening job, the CLI, the GUI and the trainer share.

Every public method is one transaction (writes take the SQLite write lock up front) and returns
plain dataclasses from :mod:`engine.store.dto`, so callers never hold ORM objects or sessions.
An image is referred to (``ref``) by a file path, or by its SHA-256 (a unique prefix of 6+ hex
digits is enough).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.paths import path_from_text
from engine.store import forget, labels, records, registry
from engine.store._clinic import ClinicMethods
from engine.store._models import ModelMethods
from engine.store.dto import (
    ImageRecord,
    LabelEntry,
    LabelledImage,
    LabelOutcome,
    PredictionRecord,
    RecordStats,
    RunInfo,
)
from engine.store.errors import NotFoundError, StoreError
from engine.store.forget import ForgetOutcome
from engine.store.models import REFER, Image, ModelVersion, Prediction, Run, RunItem, utcnow
from engine.store.owner import Heartbeat, new_owner

_HEXREF = re.compile(r"^[0-9a-fA-F]{6,64}$")


def _image_record(img: Image) -> ImageRecord:
    return ImageRecord(
        id=img.id,
        sha256=img.sha256,
        path=path_from_text(img.path) if img.path else None,
        size_bytes=img.size_bytes,
        width=img.width,
        height=img.height,
        format=img.format,
        stored_path=img.stored_path,
        current_label=img.current_label,
        first_seen_at=img.first_seen_at,
        last_seen_at=img.last_seen_at,
    )


class Store(ModelMethods, ClinicMethods):
    """The case store. Open with :meth:`Store.open`; close (or use ``with``) when done."""

    # --- screening ------------------------------------------------------------------------

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
    ) -> int:
        """Start a screening run with the model whose content hash is ``model_version``.

        An unknown model is registered on the way (name/path/meta as given). With ``resume``,
        an interrupted run of the same folder and model (see find_resumable_run) is reopened
        and its id returned instead, so a rerun after a crash continues the same run."""
        with self.write() as s:
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
                run = records.resumable_run(s, records.folder_key(folder), model.id, utcnow())
                if run is not None:
                    records.reopen_run(run, options, total, utcnow(), owner)
                    run_id = run.id
            if run_id is None:
                key = records.folder_key(folder)
                run_id = records.begin_run(s, key, options, model, utcnow(), total, owner)
        self._start_heartbeat(run_id, owner[2])
        return run_id

    def _start_heartbeat(self, run_id: int, token: str) -> None:
        """Keep the run visibly alive while this process owns it (engine.store.owner)."""

        def beat() -> None:
            with self.write() as s:
                s.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.owner_token == token, Run.status == "running")
                    .values(heartbeat_at=utcnow())
                )

        old = self._heartbeats.pop(run_id, None)
        if old is not None:
            old.stop()
        self._heartbeats[run_id] = Heartbeat(beat).start()

    def record_results(
        self, run_id: int, results: Sequence[Any], *, model_version: str | None = None
    ) -> RecordStats:
        """Record a batch of screening results (mappings or objects with the fields
        path, sha256, size_bytes, width, height, format, probabilities, top_class, confidence,
        error) in one transaction. A result with probabilities=None and no error marks a file the
        job skipped as already screened; one with an error (or no sha256) a file that failed."""
        with self.write() as s:
            run = records.get_run(s, run_id)
            if model_version is not None:
                model = s.get(ModelVersion, run.model_id)
                if model is None or model.content_hash != model_version.lower():
                    used = model.content_hash[:12] if model else "?"
                    raise StoreError(
                        f"run #{run_id} screens with model {used}..., not "
                        f"{model_version[:12]}...; start a new run for another model"
                    )
            return records.record_results(s, run, results, utcnow())

    def finish_run(
        self, run_id: int, status: str, *, total: int | None = None, error: str | None = None
    ) -> RunInfo:
        """Close a run as finished, cancelled or failed; counts are recomputed from the tables."""
        beat = self._heartbeats.pop(run_id, None)
        if beat is not None:
            beat.stop()
        with self.write() as s:
            run = records.get_run(s, run_id)
            records.finish_run(s, run, status, utcnow(), total, error)
            return records.run_info(s, run)

    def find_resumable_run(self, folder: str | os.PathLike[str], model_version: str) -> int | None:
        """The latest interrupted run of this folder with this model (cancelled, failed, or
        ``running`` whose owner is gone: see engine.store.owner), or None."""
        with self.read() as s:
            model = s.scalar(
                select(ModelVersion).where(ModelVersion.content_hash == model_version.lower())
            )
            if model is None:
                return None
            run = records.resumable_run(s, records.folder_key(folder), model.id, utcnow())
            return run.id if run else None

    def done_hashes(self, model_version: str, hashes: Iterable[str] | None = None) -> set[str]:
        """Image hashes (among ``hashes``, or all) already screened by this model: skip them."""
        with self.read() as s:
            try:
                model = registry.find(s, model_version)
            except NotFoundError:
                return set()
            return records.done_hashes(s, model.id, hashes)

    def stored_predictions(
        self, model_version: str, hashes: Iterable[str]
    ) -> dict[str, tuple[dict[str, Any], str, float]]:
        """Earlier results of this model for ``hashes``: a resumed screening still reports them."""
        with self.read() as s:
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
        with self.read() as s:
            try:
                model = registry.find(s, model_version)
            except NotFoundError:
                return {}
            return records.stored_checks(s, model.id, hashes)

    def run(self, run_id: int) -> RunInfo:
        with self.read() as s:
            return records.run_info(s, records.get_run(s, run_id))

    def runs(self, limit: int = 100) -> list[RunInfo]:
        """The most recent runs first."""
        with self.read() as s:
            rows = s.scalars(select(Run).order_by(Run.id.desc()).limit(limit)).all()
            return [records.run_info(s, r) for r in rows]

    # --- images and predictions -----------------------------------------------------------

    def _find_image(self, s: Session, ref: str | os.PathLike[str]) -> Image:
        text = os.fspath(ref)
        if isinstance(ref, os.PathLike) or not _HEXREF.match(text) or Path(text).is_file():
            sha = _hash_file(Path(text))
            img = s.scalar(select(Image).where(Image.sha256 == sha))
        else:
            found = s.scalars(
                select(Image).where(Image.sha256.startswith(text.lower())).limit(2)
            ).all()
            if len(found) > 1:
                raise StoreError(f"{text!r} matches several images; give more of the hash")
            img = found[0] if found else None
        if img is None:
            raise NotFoundError(f"{text}: not in the case store")
        return img

    def add_image(self, path: str | os.PathLike[str]) -> ImageRecord:
        """Hash and record an image file (dedup by content); return its row."""
        from engine.images import ImageLoadError, image_info

        p = Path(path)
        sha = _hash_file(p)
        try:
            info = image_info(p)
        except ImageLoadError as exc:
            raise StoreError(str(exc)) from exc
        item = {
            "path": str(p.resolve()),
            "sha256": sha,
            "size_bytes": info.size_bytes,
            "width": info.width,
            "height": info.height,
            "format": info.format,
        }
        with self.write() as s:
            records.upsert_images(s, [records.normalise_result(item)], utcnow())
            return _image_record(s.scalars(select(Image).where(Image.sha256 == sha)).one())

    def image(self, ref: str | os.PathLike[str]) -> ImageRecord:
        with self.read() as s:
            return _image_record(self._find_image(s, ref))

    def predictions(self, ref: str | os.PathLike[str]) -> list[PredictionRecord]:
        """Every model's prediction for an image, oldest first."""
        with self.read() as s:
            img = self._find_image(s, ref)
            rows = s.execute(
                select(Prediction, ModelVersion)
                .join(ModelVersion, ModelVersion.id == Prediction.model_id)
                .where(Prediction.image_id == img.id)
                .order_by(Prediction.id)
            ).all()
            return [
                PredictionRecord(
                    model_version=m.content_hash,
                    model_name=m.name,
                    top_class=p.top_class,
                    confidence=p.confidence,
                    entropy=p.entropy,
                    probabilities=dict(p.probabilities),
                    run_id=p.run_id,
                    created_at=p.created_at,
                )
                for p, m in rows
            ]

    # --- labels ---------------------------------------------------------------------------

    def label_classes(self) -> list[str] | None:
        """The classes a label may name: the active model's, or None when no model is known."""
        with self.read() as s:
            model = registry.active_model(s)
            listed = (model.meta or {}).get("classes") if model else None
            return [str(c) for c in listed] if isinstance(listed, list) and listed else None

    def label(
        self,
        ref: str | os.PathLike[str],
        label: str,
        *,
        who: str,
        note: str | None = None,
        source: str = "clinician",
        classes: Iterable[str] | None = None,
    ) -> LabelOutcome:
        """Record a label event (``label`` may be ``"refer"``) and keep a copy of the image.

        A file path not yet in the store is added first. ``classes`` restricts the allowed labels
        (default: the active model's classes). When no copy can be made (file gone or changed)
        the label is still recorded and ``warning`` says why."""
        allowed = list(classes) if classes is not None else self.label_classes()
        value = labels.normalise_label(label, allowed)
        source_file: Path | None
        if isinstance(ref, os.PathLike) or Path(os.fspath(ref)).is_file():
            img, source_file = self.add_image(ref), Path(os.fspath(ref))
        else:
            with self.read() as s:
                img = _image_record(self._find_image(s, ref))
            source_file = Path(img.path) if img.path else None  # already decoded
        stored, warning = img.stored_path, None
        if stored is None or not self.images.path(stored).is_file():
            try:
                if source_file is None:
                    raise StoreError(f"image {img.sha256[:12]}... has no known file")
                stored = self.images.put(source_file, img.sha256)
            except StoreError as exc:
                stored, warning = None, f"label kept, but no copy in the image store: {exc}"
        with self.write() as s:
            row = s.get(Image, img.id)
            assert row is not None
            if stored is not None:
                row.stored_path = stored
            active = registry.active_model(s)
            shown = labels.shown_prediction(s, row.id, active.id if active else None)
            event = labels.set_label(
                s, row, value, who=who, note=note, source=source, now=utcnow(), prediction_id=shown
            )
            return LabelOutcome(
                sha256=row.sha256,
                event_id=event.id,
                current_label=row.current_label,
                stored_path=self.images.path(stored) if stored else None,
                warning=warning,
            )

    def undo(
        self,
        ref: str | os.PathLike[str],
        *,
        who: str,
        note: str | None = None,
        source: str = "clinician",
    ) -> LabelOutcome:
        """Take back the label in force (see engine.store.labels for the exact rule)."""
        return self._replay_event(labels.undo_label, ref, who=who, note=note, source=source)

    def redo(
        self,
        ref: str | os.PathLike[str],
        *,
        who: str,
        note: str | None = None,
        source: str = "clinician",
    ) -> LabelOutcome:
        """Take back the latest undo (a ``redo`` label event restoring the label it removed);
        NothingToRedoError when there is none, or a newer label was given since."""
        return self._replay_event(labels.redo_label, ref, who=who, note=note, source=source)

    def _replay_event(
        self, step: Any, ref: str | os.PathLike[str], *, who: str, note: str | None, source: str
    ) -> LabelOutcome:
        """Write one undo or redo event (``step`` is labels.undo_label / labels.redo_label)."""
        with self.write() as s:
            img = self._find_image(s, ref)
            event, current = step(s, img, who=who, note=note, source=source, now=utcnow())
            stored = self.images.path(img.stored_path) if img.stored_path else None
            return LabelOutcome(img.sha256, event.id, current, stored)

    def history(self, ref: str | os.PathLike[str]) -> list[LabelEntry]:
        with self.read() as s:
            return labels.history(s, self._find_image(s, ref))

    def current_label(self, ref: str | os.PathLike[str]) -> str | None:
        with self.read() as s:
            return self._find_image(s, ref).current_label

    def labelled_images(self, *, include_refer: bool = False) -> list[LabelledImage]:
        """Training examples: every image with a current label, store copy preferred."""
        with self.read() as s:
            stmt = select(Image).where(Image.current_label.is_not(None)).order_by(Image.id)
            if not include_refer:
                stmt = stmt.where(Image.current_label != REFER)
            out = []
            for img in s.scalars(stmt):
                file = self.images.path(img.stored_path) if img.stored_path else None
                original = Path(path_from_text(img.path)) if img.path else None
                if (file is None or not file.is_file()) and original and original.is_file():
                    file = original
                out.append(LabelledImage(img.sha256, img.current_label or "", file))
            return out

    def forget(self, ref: str | os.PathLike[str]) -> ForgetOutcome:
        """Remove a photo's pixels from the data folder: its image-store copy, thumbnails and
        previews, and its file paths in the database. The hash, predictions and label history
        stay (the audit trail). Files that cannot be deleted are listed in ``failed``."""
        from engine.paths import user_data_dir

        with self.write() as s:
            img = self._find_image(s, ref)
            sha, stored = img.sha256, img.stored_path
            img.stored_path = None
            img.path = None
            img.forgotten_at = utcnow()
            for item in s.scalars(select(RunItem).where(RunItem.image_id == img.id)):
                item.path = f"(forgotten) {sha[:16]} #{item.id}"
        return forget.remove_files(sha, self.images, user_data_dir(), stored)

    # --- engine.screening.ResultStore protocol -------------------------------------------

    def begin_screening(self, folder: str, options: dict[str, Any], meta: Any) -> int:
        """Start (or resume an interrupted) run for ``meta`` (an engine.checkpoint.ModelMeta)."""
        return self.begin_run(
            folder,
            options,
            meta.content_hash,
            model_name=meta.name,
            model_meta=_as_dict(meta),
            resume=True,
        )

    def screened_hashes(self, model_hash: str) -> set[str]:
        return self.done_hashes(model_hash)

    def record_screening(self, run_id: int, meta: Any, results: Sequence[Any]) -> None:
        self.record_results(run_id, results, model_version=meta.content_hash)

    def finish_screening(
        self, run_id: int, status: str, counts: Mapping[str, int], error: str | None = None
    ) -> None:
        self.finish_run(run_id, status, total=counts.get("total"), error=error)

    def active_model_path(self) -> Path | None:
        """The active model's file, when one is registered and still on disk."""
        model = self.active_model()
        if model is None or not model.path or not Path(model.path).is_file():
            return None
        return Path(model.path)


def _as_dict(meta: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(meta) and not isinstance(meta, type):
        return dataclasses.asdict(meta)
    return dict(meta) if isinstance(meta, Mapping) else {}


def _hash_file(path: Path) -> str:
    from engine.images import ImageLoadError, sha256_file

    try:
        return sha256_file(path)
    except ImageLoadError as exc:
        raise StoreError(str(exc)) from exc
