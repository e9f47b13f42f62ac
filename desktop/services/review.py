"""Background work for the review panel: decoding, Grad-CAM and store writes, off the GUI thread.

Every engine call the panel makes goes through the small functions here, so that following a
change in the engine API (docs/engine-api.md) is a one-place edit. Tasks run on a QThreadPool and
report through a :class:`Relay` that lives on the GUI thread; they never touch a widget. Each
result carries the request id it was started with, so the panel drops answers for an image it
no longer shows.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

#: Longest side of the photo the panel shows. Large enough for 100% zoom on any phone photo of a
#: lesion; bounds the memory of one decoded image (8192 x 6144 RGB is 150 MB).
PHOTO_MAX_SIDE = 8192
#: Longest side Grad-CAM's image is prepared at; the heat layer is stretched over the photo.
EXPLAIN_MAX_SIDE = 1600
#: Longest side of the quick first paint: a reduced JPEG decode, replaced by the full photo.
PREVIEW_MAX_SIDE = 1600


# --- images -------------------------------------------------------------------------------


def pil_to_qimage(image: Any) -> QImage:
    """An independent QImage copy of a PIL RGB image (QImage, unlike QPixmap, is thread-safe)."""
    rgb = image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    qimg = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimg.copy()


def image_file(store: Any, item: Any) -> Path:
    """The file to show for a queue item: the original if it is still there, else the copy the
    store kept when it was labelled. Raises FileNotFoundError naming both when neither exists."""
    if not getattr(item, "path", None) and not getattr(item, "stored_path", None):
        raise FileNotFoundError(
            f"{item.sha256[:12]}: this photo was forgotten; only its fingerprint, predictions "
            "and label history are kept"
        )
    original = Path(item.path) if getattr(item, "path", None) else None
    if original is not None and original.is_file():
        return original
    stored = getattr(item, "stored_path", None)
    images = getattr(store, "images", None)
    if stored and images is not None:
        copy = Path(images.path(stored))
        if copy.is_file():
            return copy
    raise FileNotFoundError(f"{item.path or item.sha256}: file not found (moved or deleted?)")


def load_photo(path: Path, max_side: int = PHOTO_MAX_SIDE) -> QImage:
    """Decode the photo through the one loader (EXIF applied), bounded to ``max_side``."""
    from engine.images import load_preview

    return pil_to_qimage(load_preview(path, max_side=max_side))


def load_photo_staged(path: Path, show: Callable[[QImage], None]) -> QImage | None:
    """A quick reduced photo first (``show``), then the full one when the photo is larger;
    returns the full photo, or None when the first was already the whole photo."""
    first = load_photo(path, PREVIEW_MAX_SIDE)
    show(first)
    if max(first.width(), first.height()) < PREVIEW_MAX_SIDE:
        return None
    return load_photo(path, PHOTO_MAX_SIDE)


# --- Grad-CAM -----------------------------------------------------------------------------


def recolour(ex: Any, colormap: str) -> QImage:
    """The explanation's heatmap in other colours, at its image size (no Grad-CAM rerun)."""
    from engine.explain import colour_heatmap

    return pil_to_qimage(colour_heatmap(ex.heatmap, ex.image.size, colormap))


def explainer_from_file(path: str | Path, device: str = "cpu") -> Any:
    """An ``engine.explain.Explainer`` for a model file (tests, benchmarks, screenshots)."""
    from engine.checkpoint import load_model
    from engine.explain import Explainer

    model, meta = load_model(path, device=device)
    return Explainer(model, meta, device=device)


class ExplainerCache:
    """Calls the services' explainer factory once (on a worker) and runs one explanation at a
    time: Grad-CAM already uses every core, and queued requests for images the clinician has
    skipped past are dropped before they start."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._explainer: Any = None
        self._lock = threading.Lock()

    def explain(self, path: Path, *, colormap: str, alpha: float, still_wanted: Callable[[], bool]):
        with self._lock:
            if not still_wanted():
                return None
            if self._explainer is None:
                self._explainer = self._factory()
            return self._explainer.explain(
                path, max_side=EXPLAIN_MAX_SIDE, colormap=colormap, alpha=alpha
            )


# --- the case store -----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """One line of an image's label history, ready to show."""

    when: datetime
    who: str
    what: str
    label_after: str | None
    note: str | None
    model: str | None  # the prediction on screen then, e.g. "Measles 0.81 (msid-v1)"
    model_detail: str | None = None  # the same with the model version, for a tooltip


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _describe(entry: Any) -> str:
    if entry.kind == "undo":
        return "undo"
    if entry.kind == "redo":
        return f"redo {entry.label or entry.label_after}"
    return str(entry.label)


def _shown_prediction(entry: Any, predictions: list[Any]) -> Any:
    """The prediction the store linked to the label event (``LabelEntry.predicted_class``, with
    ``model_version`` "name@hash12"); for events without that link (older databases), the
    newest prediction made before the event."""
    predicted = getattr(entry, "predicted_class", None)
    if predicted is not None:
        version = str(getattr(entry, "model_version", "") or "")
        name, _, digest = version.partition("@")
        conf = getattr(entry, "confidence", None)
        return SimpleNamespace(
            model_name=name or "model",
            model_version=digest,
            top_class=predicted,
            confidence=float(conf) if conf is not None else float("nan"),
        )
    earlier = [p for p in predictions if _utc(p.created_at) <= _utc(entry.created_at)]
    return earlier[-1] if earlier else None


def _prediction_texts(pred: Any) -> tuple[str | None, str | None]:
    """Short text for the history column and a longer one with the model version."""
    if pred is None:
        return None, None
    name = getattr(pred, "model_name", "") or "model"
    version = str(getattr(pred, "model_version", ""))[:12]
    said = f"{pred.top_class} {pred.confidence:.2f}"
    return f"{said} ({name})", f"{said} from model {name}@{version}"


def load_history(store: Any, sha256: str) -> list[HistoryRow]:
    """An image's label events, newest first, each with the model prediction shown then."""
    predictions = list(store.predictions(sha256))
    rows = []
    for e in store.history(sha256):
        short, detail = _prediction_texts(_shown_prediction(e, predictions))
        what = _describe(e)
        rows.append(
            HistoryRow(_utc(e.created_at), e.who, what, e.label_after, e.note, short, detail)
        )
    return rows[::-1]


def referral_reason(store: Any, item: Any) -> str | None:
    """Why the referral rule flags the item (None when it does not). The rule is the store's
    (kept in the database, so the panel, the CLI and the report agree); a flag the queue row
    already carries wins."""
    flagged = getattr(item, "referral", None)
    if flagged is not None and not flagged:
        return None
    rule, probs = store.referral_rule(), item.probabilities
    if not rule.flags(probs):
        if getattr(item, "check_photo", False):
            return "check photo"
        return "flagged for referral" if flagged else None
    top = max(probs.values())
    mpox = float(probs.get(rule.mpox_class, 0.0))
    reasons = []
    if top < rule.min_confidence:
        reasons.append(f"confidence {top:.2f} below {rule.min_confidence:.2f}")
    if mpox > rule.mpox_above:
        reasons.append(f"Mpox probability {mpox:.2f} above {rule.mpox_above:.2f}")
    return "; ".join(reasons) or "flagged for referral"


def save_label(store: Any, sha256: str, label: str, who: str, note: str | None) -> str | None:
    """Record a label event; returns the label now in force."""
    return store.label(sha256, label, who=who, note=note or None).current_label


def undo_label(store: Any, sha256: str, who: str) -> str | None:
    """Take back the label in force (an undo event); returns the label now in force.
    Raises LookupError when the image has no label to take back."""
    from engine.store import NothingToUndoError

    try:
        return store.undo(sha256, who=who).current_label
    except NothingToUndoError as exc:
        raise LookupError("nothing to undo: this image has no label") from exc


def redo_label(store: Any, sha256: str, who: str) -> str | None:
    """Redo the last undone label (a ``redo`` label event); LookupError when there is none."""
    from engine.store.errors import NothingToRedoError

    try:
        return store.redo(sha256, who=who).current_label
    except NothingToRedoError as exc:
        raise LookupError("nothing to redo: no label was undone since the last one") from exc


class LabelSession:
    """The labels this panel saved, newest last, for Ctrl+Z / Ctrl+Shift+Z.

    "Undo the last label" means the last one the clinician gave, even after the panel moved on
    to the next image (labelling advances at once); with nothing saved in this session, undo
    and redo act on the image on show. Entries are ``(sha256, file name)``."""

    def __init__(self) -> None:
        self._done: list[tuple[str, str]] = []
        self._undone: list[tuple[str, str]] = []

    def undo_target(self, on_show: tuple[str, str] | None) -> tuple[str, str] | None:
        return self._done[-1] if self._done else on_show

    def redo_target(self, on_show: tuple[str, str] | None) -> tuple[str, str] | None:
        return self._undone[-1] if self._undone else on_show

    def saved(self, kind: str, target: tuple[str, str]) -> None:
        """Record a saved label, undo or redo of ``target``."""
        if kind == "label":
            self._done.append(target)
            self._undone.clear()
        elif kind == "undo":
            self._pop(self._done, target)
            self._undone.append(target)
        else:
            self._pop(self._undone, target)
            self._done.append(target)

    def failed(self, kind: str, target: tuple[str, str]) -> None:
        """An undo/redo the store refused (someone else changed the label): skip past it."""
        self._pop(self._done if kind == "undo" else self._undone, target)

    @staticmethod
    def _pop(stack: list[tuple[str, str]], target: tuple[str, str]) -> None:
        if stack and stack[-1] == target:
            stack.pop()


# --- tasks --------------------------------------------------------------------------------


class Relay(QObject):
    """Lives on the GUI thread; tasks emit on it from pool threads, so slots run queued."""

    done = Signal(str, int, object)  # kind, request id, result
    failed = Signal(str, int, str)  # kind, request id, readable message


def readable_error(exc: BaseException) -> str:
    """One sentence for the panel; the traceback goes to the log."""
    if isinstance(exc, LookupError) and exc.args:
        return str(exc.args[0])
    reason = getattr(exc, "reason", None)
    path = getattr(exc, "path", None)
    if reason and path:
        return f"{Path(str(path)).name}: {reason}"
    return str(exc) or type(exc).__name__


class Task(QRunnable):
    """Run ``fn()`` on the pool and report ``(kind, request)`` with its result or error.

    With ``staged``, ``fn`` gets a callable that reports an early result as ``kind + ":early"``
    (a quick preview before the full answer)."""

    def __init__(
        self, relay: Relay, kind: str, request: int, fn: Callable[..., Any], staged: bool = False
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._relay, self._kind, self._request, self._fn = relay, kind, request, fn
        self._staged = staged

    def _early(self, payload: Any) -> None:
        try:
            self._relay.done.emit(f"{self._kind}:early", self._request, payload)
        except RuntimeError:
            log.debug("%s early result dropped: receiver gone", self._kind)

    def run(self) -> None:
        try:
            result = self._fn(self._early) if self._staged else self._fn()
        except Exception as exc:  # reported to the panel, never raised into Qt
            log.warning("%s task failed:\n%s", self._kind, traceback.format_exc())
            self._emit(self._relay.failed, readable_error(exc))
            return
        self._emit(self._relay.done, result)

    def _emit(self, signal: Any, payload: Any) -> None:
        try:
            signal.emit(self._kind, self._request, payload)
        except RuntimeError:  # the panel was closed while the task ran
            log.debug("%s result dropped: receiver gone", self._kind)
