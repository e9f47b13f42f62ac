"""The loaded active model: what the status bar shows and what screening and review use.

Loading imports torch, so it only ever happens on a worker thread (see ``active_model``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.activation import Mark, active_marks
from engine.session import ActiveModel as EngineActiveModel
from engine.session import open_active_model
from engine.store import Store

if TYPE_CHECKING:
    from engine.device import DeviceChoice
    from engine.explain import Explainer
    from engine.modelmeta import ModelMeta
    from engine.pipeline import BatchPredictor


@dataclass
class ActiveModelHandle:
    """One loaded model version; a new version or device gives a new handle."""

    session: EngineActiveModel
    loaded_s: float = 0.0
    marks: list[Mark] = field(default_factory=list)  # forced, untrained, no guard: and why
    _explainer: Explainer | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        return self.session.version

    @property
    def name(self) -> str:
        """The version without its hash ("poxscreen-msid-v1")."""
        return self.version.partition("@")[0]

    @property
    def trained(self) -> bool:
        return self.session.trained

    @property
    def meta(self) -> ModelMeta:
        return self.session.meta

    @property
    def device(self) -> DeviceChoice:
        return self.session.device

    @property
    def device_text(self) -> str:
        kind = "CUDA" if str(self.device.device).startswith("cuda") else "CPU"  # names
        return f"{kind} ({self.device.reason})"

    def predictor(self, batch_size: int = 16) -> BatchPredictor:
        """The fastest screening backend for this model (ONNX Runtime on CPU when it can)."""
        return self.session.predictor(batch_size=batch_size)

    def explainer(self) -> Explainer:
        """The Grad-CAM explainer of this model, made once (worker thread: imports torch)."""
        if self._explainer is None:
            from engine.explain import Explainer

            self._explainer = Explainer(self.session.model, self.meta, device=self.device.device)
        return self._explainer


def load_active_model(store: Store, device: str = "auto") -> ActiveModelHandle:
    """Open the store's active model (the shipped default on first use). Heavy: imports torch."""
    start = time.perf_counter()
    session = open_active_model(store, device=device)
    _ = session.model  # loads the weights here, on the worker thread
    marks = active_marks(store) if session.registered else []
    return ActiveModelHandle(session, loaded_s=time.perf_counter() - start, marks=marks)
