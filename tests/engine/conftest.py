"""Engine fixtures: a small saved model and a folder of generated photos with bad files mixed in."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.engine.factories import make_photo, save_test_model

__all__ = ["BAD_FILES", "make_photo"]  # make_photo: also imported by other test packages

BAD_FILES = {
    "empty.jpg": b"",
    "notes.png": b"patient notes, not an image\n" * 5,
    "truncated.jpg": None,  # filled from a real JPEG cut in half
}


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained-flagged random model (symmetric padding): fast, deterministic."""
    path = tmp_path_factory.mktemp("model") / "test.safetensors"
    save_test_model(path, name="testmodel", trained=True)
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
