"""The review panel's engine work: decoding, Grad-CAM, history and label writes, off the GUI thread.

:class:`ReviewService` runs each piece as a :class:`desktop.services.tasks.Task` and answers with
``done(kind, request, result)`` / ``failed(kind, request, message)``; it never touches a widget.
Each answer carries the request id it was started with, so the panel drops answers for an image
it no longer shows. The plain functions below are the engine calls themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from desktop.services.tasks import run_task
from engine.i18n import _, format_number, format_percent
from engine.images import ImageLoadError, load_preview
from engine.store import (
    LabelEntry,
    NothingToRedoError,
    NothingToUndoError,
    PredictionRecord,
    ReviewItem,
    Store,
)
from engine.vocabulary import long_name, short_name

if TYPE_CHECKING:
    from engine.explain import Explainer, ImageExplanation

log = logging.getLogger(__name__)

#: Longest side of the photo the panel shows. Large enough for 100% zoom on any phone photo of a
#: lesion; bounds the memory of one decoded image (8192 x 6144 RGB is 150 MB).
PHOTO_MAX_SIDE = 8192
#: Longest side Grad-CAM's image is prepared at; the heat layer is stretched over the photo.
EXPLAIN_MAX_SIDE = 1600
#: Longest side of the quick first paint: a reduced JPEG decode, replaced by the full photo.
PREVIEW_MAX_SIDE = 1600


# --- images -------------------------------------------------------------------------------


def pil_to_qimage(image: Image.Image) -> QImage:
    """An independent QImage copy of a PIL RGB image (QImage, unlike QPixmap, is thread-safe)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    qimg = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimg.copy()


def photo_file(store: Store, item: ReviewItem) -> Path:
    """The file that shows the photo (``ImageStore.photo_file``): the original if it is still
    there, else the store's copy. FileNotFoundError says why when neither exists."""
    return store.images.photo_file(item.sha256, item.path, item.stored_path)


def load_photo(path: Path, max_side: int = PHOTO_MAX_SIDE) -> QImage:
    """Decode the photo through the one loader (EXIF applied), bounded to ``max_side``."""
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


def recolour(ex: ImageExplanation, colormap: str) -> QImage:
    """The explanation's heatmap in other colours, at its image size (no Grad-CAM rerun)."""
    from engine.explain import colour_heatmap

    return pil_to_qimage(colour_heatmap(ex.heatmap, ex.image.size, colormap))


def legend_ramp(colormap: str, steps: int = 256) -> QImage:
    """The colour map from low (left) to high (right) as a ``steps`` x 1 image, for the legend
    beside the overlay (the same colouring as the heatmap)."""
    import numpy as np

    from engine.explain import colour_heatmap

    ramp = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :]
    return pil_to_qimage(colour_heatmap(ramp, (steps, 1), colormap))


def explainer_from_file(path: str | Path, device: str = "cpu") -> Explainer:
    """An ``engine.explain.Explainer`` for a model file (tests, benchmarks, screenshots)."""
    from engine.checkpoint import load_model
    from engine.explain import Explainer

    model, meta = load_model(path, device=device)
    return Explainer(model, meta, device=device)


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


def _describe(entry: LabelEntry) -> str:
    if entry.kind == "undo":
        return "undo"
    if entry.kind == "redo":
        return f"redo {entry.label or entry.label_after}"
    if entry.source == "adjudicate":
        return f"adjudication {entry.label}"
    return str(entry.label)


def _shown_prediction(
    entry: LabelEntry, predictions: list[PredictionRecord]
) -> PredictionRecord | None:
    """The prediction the store linked to the label event (``LabelEntry.predicted_class``, with
    ``model_version`` "name@hash12"); for events without that link (older databases), the
    newest prediction made before the event."""
    if entry.predicted_class is not None:
        name, _, digest = str(entry.model_version or "").partition("@")
        conf = entry.confidence
        return PredictionRecord(
            model_version=digest,
            model_name=name or "model",
            top_class=entry.predicted_class,
            confidence=float(conf) if conf is not None else float("nan"),
            entropy=None,
            probabilities={},
            run_id=None,
            created_at=entry.created_at,
        )
    earlier = [p for p in predictions if _utc(p.created_at) <= _utc(entry.created_at)]
    return earlier[-1] if earlier else None


def _prediction_texts(pred: PredictionRecord | None) -> tuple[str | None, str | None]:
    """Short text for the history column and a longer one with the model version."""
    if pred is None:
        return None, None
    name = pred.model_name or _("model")
    version = str(pred.model_version)[:12]
    said = f"{short_name(pred.top_class)} {format_number(pred.confidence, 2)}"
    detail = _("{said} from model {model}").format(said=said, model=f"{name}@{version}")
    return f"{said} ({name})", detail


def load_history(store: Store, sha256: str) -> list[HistoryRow]:
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


def other_predictions(store: Store, item: ReviewItem) -> list[str]:
    """Other runs' predictions of the photo that differ from the one on show (another model's
    class, or its confidence), e.g. "Earlier run (model msid-v1@3f2a9c): Measles 71%"."""
    lines = []
    for p in store.predictions(item.sha256):
        if p.model_version == item.model_version:
            continue
        if p.top_class == item.top_class and round(p.confidence, 2) == round(item.confidence, 2):
            continue
        text = _("Other run (model {model}): {cls} {share}")
        if p.run_id is not None and item.run_id is not None and p.run_id != item.run_id:
            earlier = _("Earlier run (model {model}): {cls} {share}")
            text = (
                earlier if p.run_id < item.run_id else _("Later run (model {model}): {cls} {share}")
            )
        model = f"{p.model_name}@{p.model_version[:6]}"
        share = format_percent(p.confidence)
        lines.append(text.format(model=model, cls=long_name(p.top_class), share=share))
    return lines


def referral_reason(store: Store, item: ReviewItem) -> str | None:
    """Why the referral rule flags the item (None when it does not). The rule is the store's
    (kept in the database, so the panel, the CLI and the report agree); a photo to check (not a
    skin photo? poor quality?) is always referred."""
    rule, probs = store.referral_rule(), item.probabilities
    if not rule.flags(probs):
        return _("check photo") if item.check_photo else None
    top = max(probs.values())
    mpox = float(probs.get(rule.mpox_class, 0.0))
    reasons = []
    if top < rule.min_confidence:
        reasons.append(
            _("confidence {value} below {limit}").format(
                value=format_number(top, 2), limit=format_number(rule.min_confidence, 2)
            )
        )
    if mpox > rule.mpox_above:
        reasons.append(
            _("Mpox probability {value} above {limit}").format(
                value=format_number(mpox, 2), limit=format_number(rule.mpox_above, 2)
            )
        )
    return "; ".join(reasons) or _("flagged for referral")


def save_label(store: Store, sha256: str, label: str, who: str, note: str | None) -> str | None:
    """Record a label event; returns the label now in force."""
    return store.label(sha256, label, who=who, note=note or None).current_label


def undo_label(store: Store, sha256: str, who: str) -> str | None:
    """Take back the label in force (an undo event); returns the label now in force.
    Raises LookupError when the image has no label to take back."""
    try:
        return store.undo(sha256, who=who).current_label
    except NothingToUndoError as exc:
        raise LookupError(_("nothing to undo: this image has no label")) from exc


def redo_label(store: Store, sha256: str, who: str) -> str | None:
    """Redo the last undone label (a ``redo`` label event); LookupError when there is none."""
    try:
        return store.redo(sha256, who=who).current_label
    except NothingToRedoError as exc:
        raise LookupError(_("nothing to redo: no label was undone since the last one")) from exc


def readable_error(exc: BaseException) -> str:
    """One sentence for the panel; the traceback goes to the log."""
    if isinstance(exc, LookupError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, ImageLoadError):
        return f"{Path(str(exc.path)).name}: {exc.reason}"
    return str(exc) or type(exc).__name__


# --- the service ----------------------------------------------------------------------------

#: The pool is shared with the gallery's thumbnails: what the clinician is looking at, and above
#: all a label being saved, go ahead of background work queued at the default priority 0.
SHOW_PRIORITY = 5
SAVE_PRIORITY = 10
#: The write kinds, and what each one calls.
WRITES = ("label", "undo", "redo")


class ReviewService(QObject):
    """Everything the review panel asks of the engine, answered with signals.

    ``explainer`` returns the active model's ``engine.explain.Explainer`` (in the app:
    ``ActiveModel.explainer``, which keeps one per loaded model, so a model change resets it);
    it may import torch and load a model, so it is only called on a worker thread. ``who``
    returns the clinician recorded with each label. ``pool`` runs decoding, history and store
    writes; Grad-CAM runs one at a time on its own thread (it already uses every core), and
    requests for images the clinician has skipped past are dropped before they start.
    """

    done = Signal(str, int, object)  # kind, request id, result
    failed = Signal(str, int, str)  # kind, request id, readable message

    def __init__(
        self,
        store: Store,
        explainer: Callable[[], Explainer],
        who: Callable[[], str],
        pool: QThreadPool,
        colormap: str = "inferno",
        opacity: float = 0.45,
    ) -> None:
        super().__init__()
        self.store, self.explainer, self.who, self.pool = store, explainer, who, pool
        self.colormap, self.opacity = colormap, opacity
        self.gradcam_pool = QThreadPool(self)
        self.gradcam_pool.setMaxThreadCount(1)
        self._explain_lock = threading.Lock()

    def _start(
        self, kind: str, request: int, fn: Callable[..., Any], *, pool: QThreadPool | None = None,
        priority: int = SHOW_PRIORITY, staged: bool = False,
    ) -> None:  # fmt: skip
        def failed(exc: BaseException) -> None:
            log.warning("%s task failed", kind, exc_info=exc)
            self.failed.emit(kind, request, readable_error(exc))

        early = (lambda r: self.done.emit(f"{kind}:early", request, r)) if staged else None
        run_task(
            pool or self.pool, fn, lambda r: self.done.emit(kind, request, r),
            on_error=failed, on_early=early, priority=priority,
        )  # fmt: skip

    def show(self, item: ReviewItem, request: int, still_wanted: Callable[[], bool]) -> None:
        """Decode the photo (a quick preview first: ``photo:early``), explain it, read its
        history and referral reason: answers ``photo``, ``explain`` and ``meta``."""
        store = self.store
        found: dict[str, Path] = {}

        def photo(early: Callable[[QImage], None]) -> QImage | None:
            found["path"] = photo_file(store, item)
            return load_photo_staged(found["path"], early)

        self._start("photo", request, photo, staged=True)
        self.read_meta(item, request)
        self.explain(item, request, still_wanted, found=found)

    def explain(
        self, item: ReviewItem, request: int, still_wanted: Callable[[], bool],
        target: str | None = None, found: dict[str, Path] | None = None,
    ) -> None:  # fmt: skip
        """Grad-CAM of ``item`` for the class ``target`` (the top class when None), one at a
        time on the Grad-CAM thread: answers ``explain`` with (explanation, coloured heat)."""
        store, colormap, alpha = self.store, self.colormap, self.opacity
        found = found if found is not None else {}

        def explain() -> tuple[ImageExplanation, QImage] | None:
            path = found.get("path") or photo_file(store, item)
            with self._explain_lock:
                if not still_wanted():
                    return None
                ex = self.explainer().explain(
                    path, max_side=EXPLAIN_MAX_SIDE, colormap=colormap, alpha=alpha, target=target
                )
            return ex, pil_to_qimage(ex.heat_rgb)

        self._start("explain", request, explain, pool=self.gradcam_pool)

    def legend(self, colormap: str) -> None:
        """The colour ramp of ``colormap`` for the legend (``legend``: request 0, never stale)."""
        self._start("legend", 0, lambda: (colormap, legend_ramp(colormap)))

    def read_meta(self, item: ReviewItem, request: int) -> None:
        """The image's label history, referral reason, other runs' predictions and the label in
        force now (``meta``: the gallery's row may predate an undo)."""
        store = self.store
        self._start("meta", request, lambda: (load_history(store, item.sha256),
                                              referral_reason(store, item),
                                              other_predictions(store, item),
                                              store.current_label(item.sha256)))  # fmt: skip

    def recolour(self, ex: ImageExplanation, colormap: str, request: int) -> None:
        """The heatmap on show in other colours (``recolour``), without running Grad-CAM."""
        self.colormap = colormap
        self._start("recolour", request, lambda: recolour(ex, colormap))

    def write(self, kind: str, sha256: str, request: int, label: str = "", note: str = "") -> None:
        """Save a label (``label``), or undo / redo the last one of the image; the answer is the
        label now in force. Saving goes ahead of everything else in the pool."""
        store, who = self.store, self.who()
        calls: dict[str, Callable[[], str | None]] = {
            "label": lambda: save_label(store, sha256, label, who, note),
            "undo": lambda: undo_label(store, sha256, who),
            "redo": lambda: redo_label(store, sha256, who),
        }
        self._start(kind, request, calls[kind], priority=SAVE_PRIORITY)

    def wait_idle(self, msecs: int = 30_000) -> bool:
        """Wait for the background work (closing the app, tests)."""
        return self.gradcam_pool.waitForDone(msecs) and self.pool.waitForDone(msecs)
