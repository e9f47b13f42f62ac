"""What the gallery shows: its query, one keyset page of the review queue, the referral flag of
a tile, the file that shows a photo, and the thumbnail cache. Qt-free; pages are read on worker
threads by :class:`desktop.gallery.model.GalleryModel` through :mod:`desktop.services.tasks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from engine.referral import ReferralRule
from engine.store import NotFoundError, ReviewFilter, ReviewItem, Store
from engine.thumbnails import ThumbnailCache

#: "Show" choices of the gallery and the ReviewFilter fields each one sets.
SHOW_CHOICES = ("all", "to_review", "reviewed", "disagreed", "disputed", "referral")
#: Sort choices: ours -> the store's sort key.
SORT_KEYS = {
    "uncertain": "entropy",
    "confidence": "confidence",
    "name": "name",
    "newest": "newest",
    "class": "class",
}

__all__ = [
    "Cursor",
    "GalleryQuery",
    "ThumbnailCache",
    "fetch_page",
    "is_referral",
    "photo_path",
    "review_filter",
    "thumbnail_cache",
]

#: A keyset cursor as the store hands it out (opaque to the desktop).
Cursor = Any


@dataclass(frozen=True)
class GalleryQuery:
    """What the gallery shows: the filter bar's state, independent of the engine's shape."""

    run_id: int | None = None
    predicted_class: str | None = None
    show: str = "all"
    sort: str = "uncertain"
    search: str = ""
    by_label: bool = False  # the class filter and sort read the clinician's label where given
    patient: str = ""  # only this patient's photos ("": any)
    visit: str = ""  # only this visit's photos ("": any)


def review_filter(q: GalleryQuery) -> ReviewFilter:
    """The engine's ReviewFilter for a gallery query. "All runs" shows every screened photo
    with the prediction of the model that made it (the active model's where it has one), so
    earlier runs stay in view after a switch of model; one run shows its own model's results."""
    kw: dict[str, Any] = {
        "run_id": q.run_id,
        "predicted_class": q.predicted_class,
        "all_models": True,
        "by_label": q.by_label,
    }
    if q.show == "to_review":
        kw["reviewed"] = False
    elif q.show == "reviewed":
        kw["reviewed"] = True
    elif q.show == "disputed":
        kw["disputed"] = True
    elif q.show == "disagreed":
        kw["disagreement"] = True
    elif q.show == "referral":
        kw["referral"] = True
    kw.update(patient=q.patient or None, visit=q.visit or None)
    return ReviewFilter(**kw, search=q.search or None, sort=SORT_KEYS.get(q.sort, "entropy"))


def fetch_page(
    store: Store, q: GalleryQuery, *, limit: int = 200, after: Cursor = None
) -> tuple[list[ReviewItem], Cursor]:
    """One keyset page of gallery items and the cursor for the next (None: no more)."""
    try:
        page = store.review_queue(review_filter(q), limit=limit, after=after)
    except NotFoundError:  # no model registered: an empty store
        return [], None
    return with_readings(store, list(page.items)), page.next_cursor


#: The gallery's "Show" filters, in the order the filter panel lists them.
SHOW_KEYS = ("all", "to_review", "reviewed", "disagreed", "disputed", "referral")


def filter_counts(store: Store, q: GalleryQuery) -> dict[str, int]:
    """How many photos each "Show" filter lets through with the rest of ``q`` (run, class,
    search, patient, visit) as it is: the numbers beside the filters."""
    try:
        return {key: store.count(review_filter(replace(q, show=key))) for key in SHOW_KEYS}
    except NotFoundError:  # no model registered: an empty store
        return dict.fromkeys(SHOW_KEYS, 0)


def with_readings(store: Store, items: list[ReviewItem]) -> list[ReviewItem]:
    """Disputed items with who gave which label when (the tile and its tooltip show them)."""
    disputed = [i.sha256 for i in items if i.disputed]
    if not disputed:
        return items
    found = store.readings(disputed)
    return [replace(i, readings=tuple(found.get(i.sha256, ()))) if i.disputed else i for i in items]


def is_referral(item: ReviewItem, rule: ReferralRule) -> bool:
    """A tile's referral flag: the store's rule applied, or the "check photo" referral (not a
    skin photo? poor quality?), which is never dropped."""
    if item.check_photo:
        return True
    return bool(rule.flags(dict(item.probabilities or {})))


def photo_path(store: Store, item: ReviewItem) -> str | None:
    """The file to show for a queue item (``ImageStore.photo_file``: where it was screened, else
    the store's copy); the recorded path when neither is there, None when it was forgotten."""
    try:
        return str(store.images.photo_file(item.sha256, item.path, item.stored_path))
    except FileNotFoundError:
        return item.path or None


def thumbnail_cache(root: str | os.PathLike[str] | None = None) -> ThumbnailCache:
    """The engine's disk thumbnail cache (SHA-256 keyed, <user data dir>/thumbnails)."""
    return ThumbnailCache(root=root)
