"""The one module where the desktop calls the engine (docs/engine-api.md is the contract).

Widgets never import engine modules themselves: they call these small functions, each run on a
worker thread, and get plain values back. An engine change is then a change to this file only.
Qt-free and import-light: torch is imported only inside the functions that load a model.
"""

from __future__ import annotations

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
    """Images screened by the active model, reviewed, and left to review."""
    s = store.stats()
    return Stats(s.screened, s.reviewed, s.to_review)


def run_errors(store: Any, run_id: int | None) -> list[tuple[str, str]] | None:
    """Unreadable files of a run (path, reason); None when no run is chosen."""
    if run_id is None:
        return None
    return [(str(p), str(r)) for p, r in store.run_errors(run_id)]


# --- care of the case store (forget, backup, check) ----------------------------------------


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a photo removed, and what the store keeps for the audit trail."""

    sha256: str
    removed: int  # files deleted: the store's copy, thumbnails, previews
    failed: list[str]  # "file: reason" for files that could not be deleted
    kept: str


def forget_case(store: Any, sha256: str, thumbs: Any = None) -> Forgotten:
    """``Store.forget``: the photo's copy, thumbnails, previews and paths go; its hash,
    predictions and label history stay. ``thumbs`` (the desktop's ThumbnailCache, which may
    live elsewhere than the store's default) loses its files of the photo too."""
    outcome = store.forget(sha256)
    removed = len(outcome.removed)
    if thumbs is not None:
        removed += thumbs.forget(outcome.sha256)
    return Forgotten(outcome.sha256, removed, list(outcome.failed), outcome.kept)


@dataclass(frozen=True)
class BackupView:
    """Where a backup went and what it holds."""

    folder: str
    images: int
    bytes: int


def backup_store(store: Any, dest: str | os.PathLike[str]) -> BackupView:
    """``Store.backup`` into a folder that exists: a folder gone since it was chosen (an
    unplugged disk) is an error, never a new folder quietly made on this computer."""
    from engine.store.errors import StoreWriteError

    if not os.path.isdir(dest):
        raise StoreWriteError(
            f"{os.fspath(dest)}: cannot write the backup: the folder does not exist "
            "(was the disk removed?)"
        )
    info = store.backup(dest)
    return BackupView(str(info.folder), int(info.images), int(info.bytes))


def check_store(store: Any) -> list[str]:
    """The full integrity check (``poxscreen check``): problems found, empty when healthy."""
    return [str(p) for p in store.check(full=True)]


def care_error(exc: BaseException) -> str | None:
    """The one-line reason of an expected store or file error (it names the file and the
    cause: disk full, read-only...); None for anything else, which is a bug to report."""
    from engine.atomic import os_cause
    from engine.store import StoreError

    if isinstance(exc, StoreError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{os_cause(exc)}"
    return None


# --- referral rule ----------------------------------------------------------------------


def default_rule() -> Any:
    from engine.referral import DEFAULT_REFERRAL_RULE

    return DEFAULT_REFERRAL_RULE


def referral_rule(store: Any) -> Any:
    """The rule kept in the case store (the CLI and reports apply the same one)."""
    return store.referral_rule()


def referral_rule_editable(store: Any) -> bool:
    return hasattr(store, "set_referral_rule")


def set_referral_rule(store: Any, min_confidence: float, mpox_above: float, who: str) -> Any:
    """Save new thresholds in the case store; the rule's own checks apply."""
    import dataclasses as dc

    rule = dc.replace(store.referral_rule(), min_confidence=min_confidence, mpox_above=mpox_above)
    return store.set_referral_rule(rule, who=who)


def is_referral(item: Any, rule: Any) -> bool:
    """A tile's referral flag: the item's own when it has one, else the rule applied, or the
    "check photo" referral (not a skin photo? poor quality?), which is never dropped."""
    flag = getattr(item, "referral", None)
    if flag is not None:
        return bool(flag)
    if getattr(item, "check_photo", False):
        return True
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


def review_filter(q: GalleryQuery) -> Any:
    """The engine's ReviewFilter for a gallery query."""
    from engine.store import ReviewFilter

    kw: dict[str, Any] = {"run_id": q.run_id, "predicted_class": q.predicted_class}
    if q.show == "to_review":
        kw["reviewed"] = False
    elif q.show == "reviewed":
        kw["reviewed"] = True
    elif q.show == "disagreed":
        kw["disagreement"] = True
    elif q.show == "referral":
        kw["referral"] = True
    return ReviewFilter(**kw, search=q.search or None, sort=SORT_KEYS.get(q.sort, "entropy"))


def fetch_page(
    store: Any, q: GalleryQuery, *, limit: int = 200, after: Any = None
) -> tuple[list[Any], Any]:
    """One keyset page of gallery items and the cursor for the next (None: no more)."""
    from engine.store import NotFoundError

    try:
        page = store.review_queue(review_filter(q), limit=limit, after=after)
    except NotFoundError:  # no model registered: an empty store
        return [], None
    return list(page.items), page.next_cursor


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
    guard: Any = None  # engine.guard.ScopeGuard from the model file (None: "guard unavailable")
    session: Any = None  # engine.session.ActiveModel: picks the fastest screening backend

    @property
    def device_text(self) -> str:
        kind = "CUDA" if str(self.device.device).startswith("cuda") else "CPU"
        return f"{kind} ({self.device.reason})"

    def predictor(self, batch_size: int = 16) -> Any:
        if self.session is not None:  # ONNX Runtime on CPU when the model has a graph
            return self.session.predictor(batch_size=batch_size)
        from engine.predictor import Predictor

        return Predictor(
            self.model,
            self.meta,
            device=str(self.device.device),
            batch_size=batch_size,
            guard=self.guard,
        )

    def explainer(self) -> Any:
        """An engine Explainer for the review panel (engine.explain.Explainer, issue #8)."""
        from engine.explain import Explainer  # type: ignore[attr-defined]

        return Explainer(self.model, self.meta, device=self.device.device)


def load_active_model(store: Any, device: str = "auto") -> ActiveModelHandle:
    """Open the store's active model (the shipped default on first use). Heavy: imports torch."""
    from engine.session import open_active_model

    start = time.perf_counter()
    active = open_active_model(store, device=device)
    model = active.model  # loads the weights here, on the worker thread
    return ActiveModelHandle(
        model=model,
        meta=active.meta,
        version=active.version,
        trained=active.trained,
        device=active.device,
        loaded_s=time.perf_counter() - start,
        guard=active.guard,
        session=active,
    )


# --- thumbnails --------------------------------------------------------------------------


def thumbnail_cache(root: str | os.PathLike[str] | None = None) -> Any:
    """The engine's disk thumbnail cache (SHA-256 keyed, <user data dir>/thumbnails)."""
    from engine.thumbnails import ThumbnailCache

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


def progress_view(p: Any) -> ProgressView:
    """What the progress strip shows for an engine Progress."""
    return ProgressView(
        done=p.done,
        total=p.total,
        errors=p.errors,
        skipped=p.skipped,
        rate=float(p.rate or 0.0),
        eta_s=p.eta_s,
        current=p.current,
        phase=p.phase,
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
