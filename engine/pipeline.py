"""The screening pipeline shared by every backend: read once, hash, decode ahead, batch, score.

Torch-free on purpose: the ONNX Runtime backend screens without importing torch. Decoding (JPEG,
EXIF, resize) and hashing release the GIL, so a small thread pool prepares the next batches while
the current batch runs; the backend only supplies :meth:`BatchPredictor._forward`. Photos bigger
than the loader's decode budget (engine.images) decode one at a time, whatever the thread count.

Every backend gets the same trust checks: the photo-quality check (:mod:`engine.quality`) on the
decoded, reduced image while it is prepared, and the "not a skin photo" guard
(:mod:`engine.guard`) on the pooled backbone features of the same forward pass.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from engine.images import ImageLoadError, image_info_bytes, load_image_bytes, read_file_bytes
from engine.modelmeta import ModelMeta
from engine.preprocess import to_input

if TYPE_CHECKING:
    from engine.guard import ScopeGuard


@dataclass
class Prediction:
    """One image's result, or the reason it could not be screened.

    ``features`` is the pooled backbone output (1280 floats, the guard's input) from the same
    forward pass, kept only with ``keep_features=True`` (a screening of 100,000 photos would
    hold 0.5 GB); ``None`` otherwise.
    """

    path: Path
    model_version: str
    sha256: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    top_class: str | None = None
    confidence: float | None = None
    error: str | None = None
    skipped: bool = False
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: out-of-scope distance / threshold (> 1: probably not a skin photo); None: no guard
    scope_score: float | None = None
    out_of_scope: bool | None = None
    #: "blurry;too dark" style, "" when fine, None when not checked
    quality_issues: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped


@dataclass
class _Prepared:
    prediction: Prediction
    array: np.ndarray | None


def default_workers() -> int:
    """Decode threads: 2-4, enough to keep one inference stream fed on small machines."""
    return min(4, max(2, os.cpu_count() or 2))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64 (calibrated probabilities)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class BatchPredictor:
    """A model on a device with its preprocessing and version; subclasses run the network.

    Subclasses set ``choice`` (a device with a reason) and ``device`` and implement
    :meth:`_forward`. ``guard`` scores every photo (None: "guard unavailable");
    ``quality_check`` names blurry, dark, over-exposed and small photos; ``keep_features``
    keeps each photo's 1280 features on its Prediction (5 KB each).
    """

    choice: Any
    device: Any
    #: Why this backend was chosen over another (e.g. "ONNX Runtime graph missing"); "" if none.
    note: str = ""
    backend: str = ""

    def __init__(
        self,
        meta: ModelMeta,
        batch_size: int = 16,
        workers: int | None = None,
        guard: ScopeGuard | None = None,
        quality_check: bool = True,
        keep_features: bool = False,
    ) -> None:
        self.meta = meta
        self.batch_size = max(1, int(batch_size))
        self.workers = workers if workers is not None else default_workers()
        self.guard = guard
        self.quality_check = quality_check
        self.keep_features = keep_features  # 5 KB per image: off unless a caller needs them

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def classes(self) -> list[str]:
        return list(self.meta.classes)

    @property
    def guard_status(self) -> str:
        """One line for the GUI and the CLI: whether out-of-scope pictures are flagged."""
        from engine.guard import DISABLED, UNAVAILABLE

        if self.guard is not None:
            return "guard active"
        return DISABLED if (self.meta.guard or {}).get("feature") else UNAVAILABLE

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (B x classes) and pooled backbone features (B x 1280, or None) for a
        normalised batch."""
        raise NotImplementedError

    def scope_scores(
        self, features: np.ndarray | None, n: int | None = None
    ) -> list[tuple[float | None, bool | None]]:
        """(scope_score, out_of_scope) per row of ``features`` (``n`` rows when it is None);
        (None, None) without a guard or features, as for a model file without one."""
        n = len(features) if n is None and features is not None else int(n or 0)
        if self.guard is None or features is None or n == 0:
            return [(None, None)] * n
        return [(float(v), bool(v > 1.0)) for v in self.guard.score(features)]

    def predict_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Calibrated probabilities (B x classes, float64) and features for a normalised batch."""
        logits, feats = self._forward(np.ascontiguousarray(x, dtype=np.float32))
        return softmax(logits, self.meta.temperature), feats

    def predict_images(self, images: Sequence[Image.Image]) -> list[dict[str, float]]:
        """Probabilities per class for already-decoded RGB images."""
        if not images:
            return []
        probs, _ = self.predict_array(np.stack([to_input(im, self.meta) for im in images]))
        return [dict(zip(self.classes, row.tolist(), strict=True)) for row in probs]

    def _prepare(self, path: Path, skip: Callable[[str], bool] | None) -> _Prepared:
        pred = Prediction(path=path, model_version=self.version)
        try:
            data = read_file_bytes(path)  # folders, FIFOs and devices: a clear ImageLoadError
            pred.sha256 = hashlib.sha256(data).hexdigest()
            pred.size_bytes = len(data)
            if skip is not None and skip(pred.sha256):
                pred.skipped = True
                return _Prepared(pred, None)
            image = load_image_bytes(data, name=str(path), target_size=self.meta.input_size)
            info = image_info_bytes(data, name=str(path))
            pred.width, pred.height = info.width, info.height
            if self.quality_check:
                pred.quality_issues = _quality_text(image, (info.width, info.height))
            return _Prepared(pred, to_input(image, self.meta))
        except ImageLoadError as exc:
            pred.error = exc.reason
        except Exception as exc:  # a bad file must never stop a screening of thousands
            pred.error = f"unexpected error: {type(exc).__name__}: {exc}"
        return _Prepared(pred, None)

    def predict_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        skip: Callable[[str], bool] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[list[Prediction]]:
        """Yield results batch by batch, in input order; decoding runs ahead on worker threads.

        ``skip(sha256)`` marks images already screened (resume) without decoding them;
        ``cancel`` stops after the batch in progress. At most two batches are in flight, so
        memory does not grow with the number of images.
        """
        window = self.batch_size * 2
        with ThreadPoolExecutor(self.workers, thread_name_prefix="decode") as pool:
            queue: deque[Future[_Prepared]] = deque()
            it = iter(paths)

            def refill() -> None:
                while len(queue) < window:
                    nxt = next(it, None)
                    if nxt is None:
                        return
                    queue.append(pool.submit(self._prepare, Path(nxt), skip))

            refill()
            while queue:
                if cancel is not None and cancel.is_set():
                    for fut in queue:
                        fut.cancel()
                    return
                batch = [queue.popleft().result() for _ in range(min(self.batch_size, len(queue)))]
                refill()
                yield self._run_batch(batch)

    def _run_batch(self, batch: list[_Prepared]) -> list[Prediction]:
        ready = [p for p in batch if p.array is not None]
        if not ready:
            return [p.prediction for p in batch]
        try:
            probs, feats = self.predict_array(np.stack([p.array for p in ready]))  # type: ignore[misc]
            scopes = self.scope_scores(feats, len(ready))
        except (RuntimeError, MemoryError) as exc:  # e.g. out of memory: report, keep going
            for p in ready:
                p.prediction.error = f"inference failed: {exc}"
        else:
            for i, p in enumerate(ready):
                values = probs[i].tolist()
                best = int(np.argmax(probs[i]))
                p.prediction.probabilities = dict(zip(self.classes, values, strict=True))
                p.prediction.top_class = self.classes[best]
                p.prediction.confidence = values[best]
                p.prediction.scope_score, p.prediction.out_of_scope = scopes[i]
                if self.keep_features and feats is not None:
                    p.prediction.features = feats[i].copy()
        return [p.prediction for p in batch]


def _quality_text(image: Image.Image, size: tuple[int, int]) -> str | None:
    """The quality check's issues, or None when it could not run (never fails a screening)."""
    try:
        from engine.quality import check_quality

        return check_quality(image, size).text
    except Exception:  # a quality check must never cost the clinician the result itself
        return None
