"""Shared set-up for the review panel tests: a small random-weight model, a temporary case store
screened by it, and a panel wired to both (no ../shared needed)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from desktop.review.panel import ReviewPanel  # noqa: E402
from desktop.services import review as rw  # noqa: E402
from desktop.services.review import ReviewService  # noqa: E402
from engine.checkpoint import ModelMeta, save_model  # noqa: E402
from engine.explain import ImageExplanation  # noqa: E402
from engine.model import MobileNetV2MSCAPFR  # noqa: E402
from engine.predictor import Predictor  # noqa: E402
from engine.screening import ScreeningJob  # noqa: E402
from engine.store import ReviewFilter, Store  # noqa: E402

WHO = "Dr Test"


def skin_photo(path: Path, seed: int, size: tuple[int, int] = (320, 240)) -> Path:
    """A skin-toned photo with a few dark red spots (distinct bytes per seed)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32) + np.array([224, 172, 140], np.float32)
    img += (xx / w * 20)[..., None]
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(8, 30)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - 0.7 * blob) + np.array([150, 40, 40], np.float32) * 0.7 * blob
    img += rng.normal(0, 4, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def make_model(path: Path) -> Path:
    torch.manual_seed(0)
    model = MobileNetV2MSCAPFR(4, padding="symmetric").eval()
    save_model(path, model, ModelMeta(name="testmodel", padding="symmetric", trained=True))
    return path


def screen_folder(store: Store, model_file: Path, folder: Path) -> list[Any]:
    """Screen ``folder`` with the real job into ``store``; the queue items by name."""
    predictor = Predictor.from_file(model_file, device="cpu", batch_size=4)
    ScreeningJob(predictor, folder, store=store).run()
    items = store.review_queue(ReviewFilter(), limit=100).items
    return sorted(items, key=lambda item: Path(item.path).name)


class CountingExplainer:
    """Wraps a real explainer and counts its calls (opacity must not recompute Grad-CAM)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def explain(self, path: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.explain(path, **kwargs)


@dataclass
class Env:
    store: Store
    items: list[Any]
    folder: Path
    explainer: CountingExplainer
    services: ReviewService


def build_env(tmp_path: Path, review_model: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A screened temporary store and services; the test modules' ``review_env`` fixture."""
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.delenv("POXSCREEN_DB", raising=False)
    monkeypatch.delenv("POXSCREEN_IMAGE_STORE", raising=False)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        skin_photo(folder / f"lesion{i}.png", seed=i)
    store = Store.open(tmp_path / "db.sqlite")
    items = screen_folder(store, review_model, folder)
    explainer = CountingExplainer(rw.explainer_from_file(review_model))
    pool = QThreadPool()
    services = ReviewService(store, explainer=lambda: explainer, who=lambda: WHO, pool=pool)
    yield Env(store, items, folder, explainer, services)
    services.wait_idle(30_000)
    store.close()


def make_panel(qtbot: Any, services: ReviewService) -> ReviewPanel:
    panel = ReviewPanel(services)
    qtbot.addWidget(panel)
    panel.resize(900, 900)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    qtbot.waitUntil(lambda: panel.isActiveWindow(), timeout=5000)
    panel.view.setFocus()
    return panel


def wait_loaded(qtbot: Any, panel: ReviewPanel, timeout: int = 30_000) -> None:
    """Until the photo and its Grad-CAM layer are on show."""
    qtbot.waitUntil(lambda: panel.view.has_photo() and panel.view.has_heat(), timeout=timeout)


def view_pixels(panel: ReviewPanel) -> np.ndarray:
    """What the image view shows on screen, as an (h, w, 3) array."""
    img = panel.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


class GatedExplainer:
    """A fake explainer: the answer for each file named in ``gated`` waits for that file's
    release event; every image gets a solid heat colour of its own, so a test can tell whose
    overlay is on show."""

    def __init__(self, colours: dict[str, tuple[int, int, int]], gated: list[str]) -> None:
        self.colours = colours
        self.entered = {name: threading.Event() for name in gated}
        self.release = {name: threading.Event() for name in gated}
        self.calls: list[str] = []

    def explain(self, path: Any, **kwargs: Any) -> ImageExplanation:
        name = Path(path).name
        self.calls.append(name)
        if name in self.entered:
            self.entered[name].set()
            self.release[name].wait(30)
        img = Image.open(path).convert("RGB")
        heat = Image.new("RGB", img.size, self.colours[name])
        probs = {"Chickenpox": 0.1, "Measles": 0.2, "Monkeypox": 0.6, "Normal": 0.1}
        heatmap = np.zeros((224, 224), np.float32)
        return ImageExplanation(
            path=Path(path),
            sha256="0" * 64,
            image=img,
            heatmap=heatmap,
            heat_rgb=heat,
            overlay=heat,
            probabilities=probs,
            top_class="Monkeypox",
            confidence=0.6,
            target_class="Monkeypox",
            model_version="fake@0",
            elapsed_ms=1.0,
        )


def wait_pool(panel: ReviewPanel, qtbot: Any, more: Callable[[], bool] = lambda: True) -> None:
    """Until every task finished and its answer was delivered to the GUI thread."""
    assert panel.wait_idle(30_000)
    qtbot.wait(50)
    qtbot.waitUntil(more, timeout=5000)
