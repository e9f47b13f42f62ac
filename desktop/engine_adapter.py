"""The one module where the desktop meets engine calls that are still landing (issue #8).

docs/engine-api.md is the contract. Where the engine in this checkout already has a call, it is
used directly; where it does not yet (``engine.session``, ``engine.thumbnails``, richer
``Progress``, ``ReviewFilter(search=, sort="name", referral=)``, ``run_errors``, ``stats``,
``referral_rule``), a small fallback with the same shape stands in, so switching to the real
call is a change to this file only. Qt-free, and import-light: torch is imported only inside
the functions that load a model, which callers run on worker threads.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any

#: How a class is named on screen (the model's class names stay as they are in the store).
DISPLAY_NAMES = {"Monkeypox": "Mpox", "refer": "Refer"}

#: Okabe-Ito colours (safe for colour-blind readers), always shown with the class name as text.
CLASS_COLOURS = {
    "Chickenpox": "#E69F00",
    "Measles": "#56B4E9",
    "Monkeypox": "#D55E00",
    "Mpox": "#D55E00",
    "Normal": "#009E73",
    "refer": "#CC79A7",
}
UNKNOWN_COLOUR = "#999999"

#: "Show" choices of the gallery and the ReviewFilter fields each one sets.
SHOW_CHOICES = ("all", "to_review", "reviewed", "disagreed", "referral")
#: Sort choices: ours -> the store's sort key.
SORT_KEYS = {"uncertain": "entropy", "confidence": "confidence", "name": "name", "newest": "newest"}


def display_name(cls: str | None) -> str:
    """The on-screen name of a class ("Monkeypox" is shown as "Mpox", as clinicians say it)."""
    if not cls:
        return "?"
    return DISPLAY_NAMES.get(cls, cls)


def class_colour(cls: str | None) -> str:
    return CLASS_COLOURS.get(cls or "", UNKNOWN_COLOUR)


# --- the store ---------------------------------------------------------------------------


def open_store(db: str | os.PathLike[str] | None) -> Any:
    """``Store.open(db)``: path, SQLAlchemy URL, or None for the user data folder."""
    from engine.store import Store

    return Store.open(db)


def classify_open_error(exc: BaseException) -> str:
    """Why a database could not be opened: "newer", "foreign", "locked" or "other"."""
    from engine.store import StoreVersionError

    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "locked"
    if isinstance(exc, StoreVersionError):
        if "newer" in text or "unknown to this poxscreen" in text:
            return "newer"
        return "foreign"
    return "other"


@dataclass(frozen=True)
class Stats:
    """The status bar counts."""

    screened: int = 0
    reviewed: int = 0
    to_review: int = 0


def stats(store: Any) -> Stats:
    """``store.stats()`` once it exists; until then three counts over the active model."""
    if hasattr(store, "stats"):
        s = store.stats()
        return Stats(s.screened, s.reviewed, s.to_review)
    from engine.store import NotFoundError, ReviewFilter

    try:
        screened = store.count(ReviewFilter())
        reviewed = store.count(ReviewFilter(reviewed=True))
    except NotFoundError:  # no model registered yet: nothing screened
        return Stats()
    return Stats(screened, reviewed, screened - reviewed)


def run_errors(store: Any, run_id: int | None) -> list[tuple[str, str]] | None:
    """Unreadable files of a run (path, reason); None when this store cannot list them yet."""
    if run_id is None or not hasattr(store, "run_errors"):
        return None
    return [(str(p), str(r)) for p, r in store.run_errors(run_id)]


# --- referral rule -----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalReferralRule:
    """Stands in for engine.store's ReferralRule until it lands (same fields and ``flags``)."""

    min_confidence: float = 0.7
    mpox_above: float = 0.3

    def flags(self, probabilities: dict[str, float]) -> bool:
        if not probabilities:
            return False
        if max(probabilities.values()) < self.min_confidence:
            return True
        mpox = probabilities.get("Monkeypox", probabilities.get("Mpox", 0.0))
        return mpox > self.mpox_above


def referral_rule(store: Any) -> Any:
    """The rule kept in the case store (a default until the store keeps one)."""
    if hasattr(store, "referral_rule"):
        return store.referral_rule()
    return LocalReferralRule()


def referral_rule_editable(store: Any) -> bool:
    return hasattr(store, "set_referral_rule")


def set_referral_rule(store: Any, min_confidence: float, mpox_above: float, who: str) -> None:
    """Save the rule in the case store, so the CLI and reports apply the same one."""
    from engine.store import ReferralRule  # type: ignore[attr-defined]

    store.set_referral_rule(
        ReferralRule(min_confidence=min_confidence, mpox_above=mpox_above), who=who
    )


def is_referral(item: Any, rule: Any) -> bool:
    """A tile's referral flag: the store's own, else the rule applied to its probabilities."""
    flag = getattr(item, "referral", None)
    if flag is not None:
        return bool(flag)
    return bool(rule.flags(dict(getattr(item, "probabilities", {}) or {})))


# --- the gallery query -------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryQuery:
    """What the gallery shows: the filter bar's state, independent of the engine's shape."""

    run_id: int | None = None
    predicted_class: str | None = None
    show: str = "all"
    sort: str = "uncertain"
    search: str = ""


def _filter_fields() -> set[str]:
    from engine.store import ReviewFilter

    return {f.name for f in dataclasses.fields(ReviewFilter)}


def _server_sorts() -> bool:
    """Whether the store sorts by name itself (ReviewFilter gained sort="name" with #8)."""
    return "search" in _filter_fields()


def review_filter(q: GalleryQuery) -> Any:
    """The engine's ReviewFilter for a gallery query (only the fields this engine knows)."""
    from engine.store import ReviewFilter

    fields = _filter_fields()
    kw: dict[str, Any] = {"run_id": q.run_id, "predicted_class": q.predicted_class}
    if q.show == "to_review":
        kw["reviewed"] = False
    elif q.show == "reviewed":
        kw["reviewed"] = True
    elif q.show == "disagreed":
        kw["disagreement"] = True
    elif q.show == "referral" and "referral" in fields:
        kw["referral"] = True
    if q.search and "search" in fields:
        kw["search"] = q.search
    sort = SORT_KEYS.get(q.sort, "entropy")
    if sort == "name" and not _server_sorts():
        sort = "newest"  # sorted here instead (see fetch_page)
    kw["sort"] = sort
    return ReviewFilter(**kw)


def _client_side(q: GalleryQuery) -> bool:
    """Parts of the query this engine cannot do in SQL yet (done here, on a worker thread)."""
    fields = _filter_fields()
    return (
        (q.show == "referral" and "referral" not in fields)
        or (bool(q.search) and "search" not in fields)
        or (q.sort == "name" and not _server_sorts())
    )


def _keep(item: Any, q: GalleryQuery, rule: Any) -> bool:
    if q.search and q.search.lower() not in os.path.basename(item.path or "").lower():
        return False
    return not (q.show == "referral" and not is_referral(item, rule))


def fetch_page(
    store: Any, q: GalleryQuery, *, limit: int = 200, after: Any = None
) -> tuple[list[Any], Any]:
    """One page of gallery items and the cursor for the next (None: no more).

    With an engine that filters and sorts everything in SQL this is one keyset query. Until then
    the parts it lacks are done here over the whole result, returned as one page."""
    from engine.store import NotFoundError

    flt = review_filter(q)
    try:
        if not _client_side(q):
            page = store.review_queue(flt, limit=limit, after=after)
            return list(page.items), page.next_cursor
        rule = referral_rule(store)
        items: list[Any] = []
        cursor = None
        while True:
            page = store.review_queue(flt, limit=2000, after=cursor)
            items.extend(i for i in page.items if _keep(i, q, rule))
            cursor = page.next_cursor
            if cursor is None:
                break
    except NotFoundError:  # no model registered: an empty store
        return [], None
    if q.sort == "name":
        items.sort(key=lambda i: (os.path.basename(i.path or "").lower(), i.image_id))
    return items, None


def runs(store: Any, limit: int = 100) -> list[Any]:
    return list(store.runs(limit=limit))


# --- the model in use --------------------------------------------------------------------


@dataclass
class ActiveModelHandle:
    """The loaded active model: what the status bar shows and what screening and review use."""

    model: Any
    meta: Any
    version: str
    trained: bool
    device: Any  # engine.device.DeviceChoice
    loaded_s: float = 0.0

    @property
    def device_text(self) -> str:
        kind = "CUDA" if str(self.device.device).startswith("cuda") else "CPU"
        return f"{kind} ({self.device.reason})"

    def predictor(self, batch_size: int = 16) -> Any:
        from engine.predictor import Predictor

        return Predictor(
            self.model, self.meta, device=str(self.device.device), batch_size=batch_size
        )

    def explainer(self) -> Any:
        """An engine Explainer for the review panel (engine.explain.Explainer, issue #8)."""
        from engine.explain import Explainer  # type: ignore[attr-defined]

        return Explainer(self.model, self.meta, device=self.device.device)


def load_active_model(store: Any, device: str = "auto") -> ActiveModelHandle:
    """Open the store's active model (the shipped default on first use). Heavy: imports torch."""
    start = time.perf_counter()
    try:
        from engine.session import open_active_model  # type: ignore[import-not-found]
    except ImportError:
        open_active_model = None
    if open_active_model is not None:
        active = open_active_model(store, device=device)
        model, meta, choice = active.model, active.meta, active.device
    else:
        from engine.cli import resolve_model
        from engine.device import select_device

        model, meta = resolve_model(None, store)
        choice = select_device(device)
    return ActiveModelHandle(
        model=model,
        meta=meta,
        version=meta.version,
        trained=bool(meta.trained),
        device=choice,
        loaded_s=time.perf_counter() - start,
    )


# --- thumbnails --------------------------------------------------------------------------


class _DecodeThumbnails:
    """Stands in for engine.thumbnails.ThumbnailCache (no disk cache): decode and shrink."""

    def get(self, path: str | os.PathLike[str], sha256: str | None = None, size: int = 160) -> Any:
        from PIL import Image

        from engine.images import load_image

        img = load_image(path, target_size=size)
        img.thumbnail((size, size), Image.Resampling.BILINEAR)
        return img


def thumbnail_cache(root: str | os.PathLike[str] | None = None) -> Any:
    """The engine's disk thumbnail cache, or a plain decoder until it lands."""
    try:
        from engine.thumbnails import ThumbnailCache  # type: ignore[import-not-found]
    except ImportError:
        return _DecodeThumbnails()
    return ThumbnailCache(root=root)


# --- screening progress ------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressView:
    """What the progress strip shows."""

    done: int
    total: int
    errors: int
    skipped: int
    rate: float
    eta_s: float | None
    current: str | None
    phase: str


class ProgressTracker:
    """Turns engine Progress into a ProgressView, computing rate and time left if it lacks them."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def view(self, p: Any) -> ProgressView:
        elapsed = max(1e-6, time.monotonic() - self.start)
        rate = getattr(p, "rate", None)
        if rate is None:
            rate = p.done / elapsed
        eta = getattr(p, "eta_s", None)
        if eta is None and not hasattr(p, "eta_s") and rate > 0 and p.total:
            eta = max(0.0, (p.total - p.done) / rate)
        return ProgressView(
            done=p.done,
            total=p.total,
            errors=p.errors,
            skipped=p.skipped,
            rate=float(rate),
            eta_s=eta,
            current=getattr(p, "current", None),
            phase=getattr(p, "phase", "screening"),
        )


def image_file(store: Any, item: Any) -> str | None:
    """The file to show for a queue item: where it was screened, else the store's copy."""
    path = getattr(item, "path", None)
    if path and os.path.isfile(path):
        return str(path)
    stored = getattr(item, "stored_path", None)
    if stored:
        copy = store.images.path(stored)
        if copy.is_file():
            return str(copy)
    return path
