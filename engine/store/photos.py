"""The photos of the cases and every model's predictions for them.

A photo is referred to (``ref``) by a file path, or by its SHA-256 (a unique prefix of 6+ hex
digits is enough); :func:`find_image` is that one lookup, shared by labels and patient-data care.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.hashes import HEX_PREFIX
from engine.i18n import gettext as _
from engine.paths import path_from_text
from engine.store import records
from engine.store.database import Database
from engine.store.dto import ImageRecord, PredictionRecord
from engine.store.errors import NotFoundError, StoreError
from engine.store.tables import Image, ModelVersion, Prediction, utcnow


def image_record(img: Image) -> ImageRecord:
    """The plain-data view of an image row (callers never hold ORM objects)."""
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


def hash_file(path: Path) -> str:
    """The SHA-256 of a photo file; an unreadable file is a StoreError naming it."""
    from engine.images import ImageLoadError, sha256_file

    try:
        return sha256_file(path)
    except ImageLoadError as exc:
        raise StoreError(str(exc)) from exc


def find_image(s: Session, ref: str | os.PathLike[str]) -> Image:
    """The image row a path or hash (prefix) names; NotFoundError, or StoreError when a prefix
    is ambiguous. A string that is an existing file is a path even when it looks like a hash."""
    text = os.fspath(ref)
    if isinstance(ref, os.PathLike) or not HEX_PREFIX.match(text.lower()) or Path(text).is_file():
        sha = hash_file(Path(text))
        img = s.scalar(select(Image).where(Image.sha256 == sha))
    else:
        found = s.scalars(select(Image).where(Image.sha256.startswith(text.lower())).limit(2)).all()
        if len(found) > 1:
            raise StoreError(f"{text!r} matches several images; give more of the hash")
        img = found[0] if found else None
    if img is None:
        raise NotFoundError(_("{image}: not in the case store").format(image=text))
    return img


class Photos:
    """Add and look up photos and their predictions (``store.photos``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_image(self, path: str | os.PathLike[str]) -> ImageRecord:
        """Hash and record an image file (dedup by content); return its row."""
        from engine.images import ImageLoadError, image_info

        p = Path(path)
        sha = hash_file(p)
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
        with self.db.write() as s:
            records.upsert_images(s, [records.normalise_result(item)], utcnow())
            return image_record(s.scalars(select(Image).where(Image.sha256 == sha)).one())

    def image(self, ref: str | os.PathLike[str]) -> ImageRecord:
        """The photo a path or hash (prefix) names."""
        with self.db.read() as s:
            return image_record(find_image(s, ref))

    def predictions(self, ref: str | os.PathLike[str]) -> list[PredictionRecord]:
        """Every model's prediction for an image, oldest first."""
        with self.db.read() as s:
            img = find_image(s, ref)
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
