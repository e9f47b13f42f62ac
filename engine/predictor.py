"""Batched inference: decode on worker threads while the model computes, one model version.

Decoding (JPEG, EXIF, resize) and the forward pass both release the GIL, so a small thread pool
keeps the CPU busy with the next batch's decoding while the current batch runs.
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
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.checkpoint import ModelMeta, load_model_and_guard
from engine.device import DeviceChoice, select_device
from engine.guard import ScopeGuard, pooled_features
from engine.images import ImageLoadError, image_info_bytes, load_image_bytes
from engine.preprocess import make_transform
from engine.quality import check_quality


@dataclass
class Prediction:
    """One image's result, or the reason it could not be screened."""

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
    #: pooled backbone features (1280,) from the same forward pass, the guard's input; kept
    #: only with ``Predictor(keep_features=True)`` (a screening of 100,000 photos would hold 0.5 GB)
    features: np.ndarray | None = field(default=None, repr=False)
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
    tensor: torch.Tensor | None


class Predictor:
    """A loaded model on a device, with its preprocessing and version."""

    def __init__(
        self,
        model: torch.nn.Module,
        meta: ModelMeta,
        device: str = "auto",
        batch_size: int = 16,
        workers: int | None = None,
        guard: ScopeGuard | None = None,
        quality_check: bool = True,
        keep_features: bool = False,
    ) -> None:
        self.keep_features = keep_features  # 5 KB per image: off unless a caller needs them
        self.guard = guard
        self.quality_check = quality_check
        self.choice: DeviceChoice = select_device(device)
        self.device = self.choice.device
        self.meta = meta
        self.model = model.to(self.device).eval()
        self.transform = make_transform(meta)
        self.batch_size = max(1, int(batch_size))
        self.workers = workers if workers is not None else min(4, max(2, (os.cpu_count() or 2)))

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], device: str = "auto", **kwargs: Any
    ) -> Predictor:
        model, meta, guard = load_model_and_guard(path)
        return cls(model, meta, device=device, guard=guard, **kwargs)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def classes(self) -> list[str]:
        return list(self.meta.classes)

    @property
    def guard_status(self) -> str:
        """One line for the GUI and the CLI: whether out-of-scope pictures are flagged."""
        from engine.guard import UNAVAILABLE

        return "guard active" if self.guard is not None else UNAVAILABLE

    @torch.inference_mode()
    def predict_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities (B x classes) for a normalised batch."""
        return self.predict_with_features(x)[0]

    @torch.inference_mode()
    def predict_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
        """Probabilities and pooled backbone features from one forward pass."""
        feats = self.model.forward_features(x.to(self.device, non_blocking=True))
        logits = self.model.forward_head(feats)
        probs = torch.softmax(logits.float() / float(self.meta.temperature), dim=1).cpu()
        return probs, pooled_features(feats).cpu().numpy()

    def scope_scores(self, features: np.ndarray) -> list[tuple[float | None, bool | None]]:
        """(scope_score, out_of_scope) per row; (None, None) when the model has no guard."""
        if self.guard is None or len(features) == 0:
            return [(None, None)] * len(features)
        scores = self.guard.score(features)
        return [(float(v), bool(v > 1.0)) for v in scores]

    def predict_images(self, images: Sequence[Image.Image]) -> list[dict[str, float]]:
        """Probabilities per class for already-decoded RGB images."""
        if not images:
            return []
        probs = self.predict_tensor(torch.stack([self.transform(im) for im in images]))
        return [dict(zip(self.classes, row.tolist(), strict=True)) for row in probs]

    def _prepare(self, path: Path, skip: Callable[[str], bool] | None) -> _Prepared:
        pred = Prediction(path=path, model_version=self.version)
        try:
            if path.is_dir():
                raise ImageLoadError(path, "is a directory")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ImageLoadError(path, exc.strerror or str(exc)) from exc
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
            return _Prepared(pred, self.transform(image))
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
        ``cancel`` stops after the batch in progress.
        """
        todo = [Path(p) for p in paths]
        window = self.batch_size * 2
        with ThreadPoolExecutor(self.workers, thread_name_prefix="decode") as pool:
            queue: deque[Future[_Prepared]] = deque()
            it = iter(todo)

            def refill() -> None:
                while len(queue) < window:
                    nxt = next(it, None)
                    if nxt is None:
                        return
                    queue.append(pool.submit(self._prepare, nxt, skip))

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
        ready = [p for p in batch if p.tensor is not None]
        if ready:
            try:
                x = torch.stack([p.tensor for p in ready])  # type: ignore[misc]
                probs, feats = self.predict_with_features(x)
                scopes = self.scope_scores(feats)
            except RuntimeError as exc:  # e.g. out of memory: report per image, keep going
                for p in ready:
                    p.prediction.error = f"inference failed: {exc}"
            else:
                for p, row, f, scope in zip(ready, probs, feats, scopes, strict=True):
                    p.prediction.features = f if self.keep_features else None
                    p.prediction.scope_score, p.prediction.out_of_scope = scope
                    values = row.tolist()
                    best = int(row.argmax())
                    p.prediction.probabilities = dict(zip(self.classes, values, strict=True))
                    p.prediction.top_class = self.classes[best]
                    p.prediction.confidence = values[best]
        return [p.prediction for p in batch]


def _quality_text(image: Image.Image, size: tuple[int, int]) -> str | None:
    """The quality check's issues, or None when it could not run (never fails a screening)."""
    try:
        return check_quality(image, size).text
    except Exception:  # a quality check must never cost the clinician the result itself
        return None
