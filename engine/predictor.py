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

import torch
from PIL import Image

from engine.checkpoint import ModelMeta, load_model
from engine.device import DeviceChoice, select_device
from engine.images import ImageLoadError, image_info_bytes, load_image_bytes, read_file_bytes
from engine.preprocess import make_transform


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
    ) -> None:
        self.choice: DeviceChoice = select_device(device)
        self.device = self.choice.device
        self.meta = meta
        self.model = model.to(self.device).eval()
        self.transform = make_transform(meta)
        self.batch_size = max(1, int(batch_size))
        self.workers = workers if workers is not None else min(4, max(2, (os.cpu_count() or 2)))

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], device: str = "auto", **kwargs: int
    ) -> Predictor:
        model, meta = load_model(path)
        return cls(model, meta, device=device, **kwargs)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def classes(self) -> list[str]:
        return list(self.meta.classes)

    @torch.inference_mode()
    def predict_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities (B x classes) for a normalised batch."""
        logits = self.model(x.to(self.device, non_blocking=True))
        return torch.softmax(logits.float() / float(self.meta.temperature), dim=1).cpu()

    def predict_images(self, images: Sequence[Image.Image]) -> list[dict[str, float]]:
        """Probabilities per class for already-decoded RGB images."""
        if not images:
            return []
        probs = self.predict_tensor(torch.stack([self.transform(im) for im in images]))
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
                probs = self.predict_tensor(torch.stack([p.tensor for p in ready]))  # type: ignore[misc]
            except RuntimeError as exc:  # e.g. out of memory: report per image, keep going
                for p in ready:
                    p.prediction.error = f"inference failed: {exc}"
            else:
                for p, row in zip(ready, probs, strict=True):
                    values = row.tolist()
                    best = int(row.argmax())
                    p.prediction.probabilities = dict(zip(self.classes, values, strict=True))
                    p.prediction.top_class = self.classes[best]
                    p.prediction.confidence = values[best]
        return [p.prediction for p in batch]
