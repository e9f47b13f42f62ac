"""Batched inference with PyTorch (Grad-CAM, training, GPUs, and screening without ONNX Runtime).

The pipeline (read once, hash, decode ahead on worker threads, batch) is shared with the ONNX
Runtime backend in :mod:`engine.pipeline`; this class only runs the network: channels-last
memory and ``inference_mode``, which measured about 2x faster on CPU than the default layout.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from engine.checkpoint import ModelMeta, load_model
from engine.device import DeviceChoice, select_device
from engine.pipeline import BatchPredictor, Prediction

__all__ = ["Prediction", "Predictor"]


class Predictor(BatchPredictor):
    """A loaded model on a device, with its preprocessing and version."""

    backend = "torch"

    def __init__(
        self,
        model: torch.nn.Module,
        meta: ModelMeta,
        device: str = "auto",
        batch_size: int = 16,
        workers: int | None = None,
    ) -> None:
        super().__init__(meta, batch_size=batch_size, workers=workers)
        self.choice: DeviceChoice = select_device(device)
        self.device = self.choice.device
        # channels-last in place: the same weights, laid out as the CPU convolution kernels want
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], device: str = "auto", **kwargs: int
    ) -> Predictor:
        model, meta = load_model(path)
        return cls(model, meta, device=device, **kwargs)

    @torch.inference_mode()
    def _forward_tensor(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        model = self.model
        if hasattr(model, "forward_head") and hasattr(model, "classifier"):
            feats = model.forward_head(model.forward_features(x), pre_logits=True)
            return model.classifier(feats), feats
        return model(x), None

    def predict_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities (B x classes) for a normalised batch."""
        logits, _ = self._forward_tensor(x)
        return torch.softmax(logits.float() / float(self.meta.temperature), dim=1).cpu()

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        logits, feats = self._forward_tensor(torch.from_numpy(x))
        return (
            logits.float().cpu().numpy(),
            None if feats is None else feats.float().cpu().numpy(),
        )
