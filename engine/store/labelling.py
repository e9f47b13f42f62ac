"""Clinician labels through the store: label (keeping a copy of the photo), undo, redo, the
history, and the labelled photos the trainer learns from. The event rules are in
engine.store.labels; this module adds the transactions and the image-store copy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.paths import path_from_text
from engine.store import audit, disputes, labels, registry
from engine.store.database import Database
from engine.store.dto import LabelEntry, LabelledImage, LabelOutcome
from engine.store.errors import StoreError
from engine.store.photos import Photos, find_image, image_record
from engine.store.roles import role_of
from engine.store.tables import REFER, Image, LabelEvent, Prediction, utcnow

#: labels.undo_label or labels.redo_label: one step through the event history.
Step = Callable[..., tuple[LabelEvent, str | None]]


def _audit(s: Session, kind: str, event: LabelEvent, details: dict[str, object]) -> None:
    """The audit events of one label event (and of its note), in its transaction."""
    sha = s.get(Image, event.image_id).sha256  # type: ignore[union-attr]
    obj = audit.photo(sha)
    audit.record(s, kind, who=event.who, obj=obj, details={**details, "label_event": event.id})
    if event.note:
        audit.record(s, "note", who=event.who, obj=obj, details={"note": event.note})


class Labels:
    """Label, undo, redo and history of the case store (``store.labels``)."""

    def __init__(self, db: Database, photos: Photos) -> None:
        self.db = db
        self.photos = photos

    def label_classes(self) -> list[str] | None:
        """The classes a label may name: the active model's, or None when no model is known."""
        with self.db.read() as s:
            model = registry.active_model(s)
            listed = (model.meta or {}).get("classes") if model else None
            return [str(c) for c in listed] if isinstance(listed, list) and listed else None

    def _copy_of(self, ref: str | os.PathLike[str]) -> tuple[int, str, str | None, str | None]:
        """(image id, sha, stored copy, warning): the photo added when ``ref`` is a new file,
        and a copy put in the image store when it has none yet."""
        source_file: Path | None
        if isinstance(ref, os.PathLike) or Path(os.fspath(ref)).is_file():
            img, source_file = self.photos.add_image(ref), Path(os.fspath(ref))
        else:
            with self.db.read() as s:
                img = image_record(find_image(s, ref))
            source_file = Path(img.path) if img.path else None  # already decoded
        stored, warning = img.stored_path, None
        if stored is None or not self.db.images.path(stored).is_file():
            try:
                if source_file is None:
                    raise StoreError(f"image {img.sha256[:12]}... has no known file")
                stored = self.db.images.put(source_file, img.sha256)
            except StoreError as exc:
                stored, warning = None, f"label kept, but no copy in the image store: {exc}"
        return img.id, img.sha256, stored, warning

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
        image_id, _sha, stored, warning = self._copy_of(ref)
        with self.db.write() as s:
            row = s.get(Image, image_id)
            assert row is not None
            if stored is not None:
                row.stored_path = stored
            active = registry.active_model(s)
            shown = labels.shown_prediction(s, row.id, active.id if active else None)
            before = row.current_label
            admin = source == disputes.ADJUDICATE and role_of(self.db.engine) == "admin"
            event = labels.set_label(
                s, row, value, who=who, note=note, source=source, now=utcnow(),
                prediction_id=shown, admin=admin,
            )  # fmt: skip
            kind = "adjudicate" if event.source == disputes.ADJUDICATE else "label"
            _audit(s, kind, event, {"label": value, "before": before, "disputed": row.disputed})
            return LabelOutcome(
                sha256=row.sha256,
                event_id=event.id,
                current_label=row.current_label,
                stored_path=self.db.images.path(stored) if stored else None,
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
        self, step: Step, ref: str | os.PathLike[str], *, who: str, note: str | None, source: str
    ) -> LabelOutcome:
        """Write one undo or redo event (``step`` is labels.undo_label / labels.redo_label)."""
        with self.db.write() as s:
            img = find_image(s, ref)
            before = img.current_label
            event, current = step(s, img, who=who, note=note, source=source, now=utcnow())
            _audit(s, event.kind, event, {"label": current, "before": before})
            stored = self.db.images.path(img.stored_path) if img.stored_path else None
            return LabelOutcome(img.sha256, event.id, current, stored)

    def history(self, ref: str | os.PathLike[str]) -> list[LabelEntry]:
        """Every label event of a photo, oldest first (the audit trail)."""
        with self.db.read() as s:
            return labels.history(s, find_image(s, ref))

    def current_label(self, ref: str | os.PathLike[str]) -> str | None:
        """The label in force, or None."""
        with self.db.read() as s:
            return find_image(s, ref).current_label

    def readings(self, hashes: Iterable[str]) -> dict[str, list[disputes.Reading]]:
        """Who gave which label when, for each disputed photo among ``hashes``."""
        with self.db.read() as s:
            rows = s.scalars(
                select(Image).where(Image.sha256.in_(list(hashes)), Image.disputed.is_(True))
            ).all()
            out = {}
            for img in rows:
                events = s.scalars(
                    select(LabelEvent).where(LabelEvent.image_id == img.id).order_by(LabelEvent.id)
                ).all()
                out[img.sha256] = disputes.readings(labels.replay(events)[1])
            return out

    def labelled_images(self, *, include_refer: bool = False) -> list[LabelledImage]:
        """Training examples: every image with a current label, store copy preferred; a
        disputed one is marked (the trainer leaves it out until it is settled)."""
        with self.db.read() as s:
            stmt = select(Image).where(Image.current_label.is_not(None)).order_by(Image.id)
            if not include_refer:
                stmt = stmt.where(Image.current_label != REFER)
            out = []
            for img in s.scalars(stmt):
                file = self._file_of(img)
                out.append(
                    LabelledImage(img.sha256, img.current_label or "", file, bool(img.disputed))
                )
            return out

    def clinic_photos(self, limit: int) -> list[Path]:
        """The files of the store's ``limit`` most recently added photos, labelled or only
        screened, leaving out any a model called out of scope and any whose file is gone.

        Why: they show what this clinic's camera produces, labels or not; a fine-tune measures
        its backbone's BatchNorm statistics on them (trainer.adapt.adapted_backbone)."""
        flagged = select(Prediction.image_id).where(Prediction.out_of_scope.is_(True))
        stmt = select(Image).where(Image.id.not_in(flagged)).order_by(Image.id.desc())
        out: list[Path] = []
        with self.db.read() as s:
            for img in s.scalars(stmt.execution_options(yield_per=256)):
                if len(out) >= limit:
                    break
                file = self._file_of(img)
                if file is not None and file.is_file():
                    out.append(file)
        return out

    def _file_of(self, img: Image) -> Path | None:
        """The photo's file: the store's copy, else the original where it still is."""
        file = self.db.images.path(img.stored_path) if img.stored_path else None
        original = Path(path_from_text(img.path)) if img.path else None
        if (file is None or not file.is_file()) and original and original.is_file():
            file = original
        return file
