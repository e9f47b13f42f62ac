"""Engine fixtures: a small saved model and a folder of generated photos with bad files mixed in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoint import ModelMeta, save_model
from engine.model import MobileNetV2MSCAPFR

BAD_FILES = {
    "empty.jpg": b"",
    "notes.png": b"patient notes, not an image\n" * 5,
    "truncated.jpg": None,  # filled from a real JPEG cut in half
}


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained-flagged random model (symmetric padding): fast, deterministic."""
    torch.manual_seed(0)
    model = MobileNetV2MSCAPFR(4, padding="symmetric").eval()
    meta = ModelMeta(name="testmodel", padding="symmetric", trained=True)
    path = tmp_path_factory.mktemp("model") / "test.safetensors"
    save_model(path, model, meta)
    return path


def make_photo(path: Path, seed: int, size: tuple[int, int] = (96, 80)) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture()
def photo_folder(tmp_path: Path) -> Path:
    """6 good photos (one in a sub-folder, one with a unicode name) and 3 bad files."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(4):
        make_photo(folder / f"img{i}.png", i)
    make_photo(folder / "sub" / "deep.jpg", 10)
    make_photo(folder / "éruption ß.jpg", 11)
    good = folder / "img0.png"
    jpeg = Image.open(good).convert("RGB")
    jpeg.save(tmp_path / "full.jpg", quality=90)
    full = (tmp_path / "full.jpg").read_bytes()
    for name, data in BAD_FILES.items():
        (folder / name).write_bytes(full[: len(full) // 2] if data is None else data)
    return folder
