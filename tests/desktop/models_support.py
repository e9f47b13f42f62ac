"""Helpers for the model-version and fine-tuning tests: a case store with a small active model
and clinicians' labels on generated photos (learnable classes), and tiny-training settings.
The fixtures built on them are in tests/desktop/conftest.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CLASSES3 = ["Blue", "Green", "Red"]
TINY = {  # two epochs at 64 px with a frozen backbone: a real run in well under a minute
    "epochs": 2,
    "batch": 16,
    "lr": 1e-3,
    "freeze": 1.0,
    "device": "cpu",
    "input_size": 64,
    "val_fraction": 0.25,
    "patience": 200,
    "threads": 2,
}


@dataclass
class LabelledStore:
    store: Any
    db: Path
    start_hash: str
    photos: dict[str, list[Path]]


def save_model_file(path: Path, classes: list[str], name: str, seed: int = 0, **meta: Any) -> Any:
    import torch

    from engine.checkpoint import ModelMeta, save_model
    from engine.model import MobileNetV2MSCAPFR

    torch.manual_seed(seed)
    model = MobileNetV2MSCAPFR(len(classes), padding="symmetric").eval()
    info = ModelMeta(
        classes=list(classes), name=name, padding="symmetric", trained=True, input_size=64, **meta
    )
    return save_model(path, model, info)


def labelled_store(tmp: Path, per_class: dict[str, int], refer: int = 0) -> LabelledStore:
    """A store whose active model is a small random 3-class one, and labelled photos."""
    from engine.store import Store
    from tests.trainer.synth import photo

    db = tmp / "case.db"
    store = Store.open(db)
    meta = save_model_file(tmp / "start.safetensors", CLASSES3, "start")
    store.register_model_file(tmp / "start.safetensors", activate=True)
    photos: dict[str, list[Path]] = {}
    for c_i, (label, n) in enumerate(per_class.items()):
        folder = tmp / "photos" / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n + (refer if c_i == 0 else 0)):
            path = folder / f"{label.lower()}_{i:03d}.png"
            photo(c_i * 1000 + i, label, 48).save(path)
            photos.setdefault(label, []).append(path)
            value = "refer" if i >= n else label
            store.label(path, value, who="dr-test", classes=CLASSES3)
    return LabelledStore(store, db, meta.content_hash, photos)


def apply_settings(dialog: Any, values: dict[str, Any] = TINY) -> None:
    form = dialog.recipe
    form.epochs.setValue(values["epochs"])
    form.batch.setValue(values["batch"])
    form.lr.setValue(values["lr"])
    form.freeze.setValue(values["freeze"])
    form.device.setCurrentText(values["device"])
    form.input_size.setValue(values["input_size"])
    form.val_fraction.setValue(values["val_fraction"])
    form.patience.setValue(values["patience"])
    form.threads.setValue(values["threads"])
    if "decision" in values:  # "gate": the epoch-by-epoch recipe (curves, stop midway)
        form.decision.setCurrentIndex(form.decision.findData(values["decision"]))


def screenshot(widget: Any, name: str) -> None:
    """Save ``widget`` as docs/screenshots/NAME.png when $POXSCREEN_SCREENSHOTS names a folder."""
    folder = os.environ.get("POXSCREEN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(folder) / f"{name}.png"))
