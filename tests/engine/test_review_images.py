"""What the review panel and the gallery show: previews, one-call explanations, thumbnails."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.checkpoint import load_model
from engine.explain import Explainer
from engine.images import ImageLoadError, load_image, load_preview, sha256_file
from engine.predictor import Predictor
from engine.thumbnails import ThumbnailCache
from tests.engine.factories import make_photo


def quadrants(w: int, h: int) -> Image.Image:
    """Four flat colours (red, green / blue, white), so rotations are easy to check."""
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[: h // 2, : w // 2] = (255, 0, 0)
    arr[: h // 2, w // 2 :] = (0, 255, 0)
    arr[h // 2 :, : w // 2] = (0, 0, 255)
    arr[h // 2 :, w // 2 :] = (255, 255, 255)
    return Image.fromarray(arr)


def jpeg_with_exif(path: Path, w: int, h: int, orientation: int = 1) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N"}  # a GPS block: patient location, must never spread
    quadrants(w, h).save(path, "JPEG", quality=92, exif=exif)
    return path


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    return make_photo(path, 0, (4000, 3000), format="JPEG", quality=85)


def test_preview_fits_the_long_side_and_applies_exif(tmp_path: Path) -> None:
    src = jpeg_with_exif(tmp_path / "rot.jpg", 400, 200, orientation=6)  # 90 degrees clockwise
    full = load_image(src)
    prev = load_preview(src, max_side=100)
    assert full.size == (200, 400) and prev.size == (50, 100)
    small = np.asarray(full.resize(prev.size, Image.Resampling.BILINEAR), dtype=float)
    assert np.abs(small - np.asarray(prev, dtype=float)).mean() < 12  # same orientation
    assert load_preview(src, max_side=1000).size == (200, 400)  # never enlarged


def test_preview_of_a_big_jpeg_is_display_sized(big_photo: Path) -> None:
    assert load_preview(big_photo, max_side=1600).size == (1600, 1200)


def test_preview_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    with pytest.raises(ImageLoadError, match="notes.jpg.*not an image"):
        load_preview(bad)


def test_explain_one_call(model_file: Path, tmp_path: Path) -> None:
    model, meta = load_model(model_file)
    src = jpeg_with_exif(tmp_path / "p.jpg", 640, 480, orientation=6)
    ex = Explainer(model, meta, device="cpu").explain(src, max_side=320, alpha=0.45)
    assert ex.image.size == (240, 320)  # EXIF applied, long side fitted
    assert ex.heat_rgb.size == ex.image.size == ex.overlay.size
    assert ex.heatmap.shape == (meta.input_size, meta.input_size)
    assert ex.heatmap.min() >= 0.0 and ex.heatmap.max() <= 1.0 and ex.heatmap.max() > 0
    assert ex.top_class == max(ex.probabilities, key=ex.probabilities.get)
    assert ex.target_class == ex.top_class and ex.model_version == meta.version
    assert sum(ex.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    # the probabilities are the ones screening stores for this photo
    (batch,) = list(Predictor(model, meta, device="cpu").predict_paths([src]))
    for c in meta.classes:
        assert ex.probabilities[c] == pytest.approx(batch[0].probabilities[c], abs=1e-5)
    assert ex.sha256 == batch[0].sha256
    blend = Image.blend(ex.image, ex.heat_rgb, 0.45)
    assert np.array_equal(np.asarray(blend), np.asarray(ex.overlay))
    other = Explainer(model, meta).explain(src, max_side=320, target=meta.classes[0], alpha=0.0)
    assert other.target_class == meta.classes[0]
    assert np.array_equal(np.asarray(other.overlay), np.asarray(other.image))


def test_explain_errors_name_the_file(model_file: Path, tmp_path: Path) -> None:
    model, meta = load_model(model_file)
    explainer = Explainer(model, meta)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty.jpg: file is empty"):
        explainer.explain(tmp_path / "empty.jpg")
    with pytest.raises(ImageLoadError, match="missing.jpg: file not found"):
        explainer.explain(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="alpha"):
        explainer.explain(tmp_path / "empty.jpg", alpha=2)


def test_thumbnails_are_cached_by_hash_without_exif(tmp_path: Path) -> None:
    src = jpeg_with_exif(tmp_path / "p.jpg", 400, 300, orientation=8)
    cache = ThumbnailCache(tmp_path / "thumbs")
    thumb = cache.get(src, size=64)
    assert thumb.size == (48, 64)  # EXIF orientation applied: portrait
    files = list((tmp_path / "thumbs").rglob("*.jpg"))
    assert len(files) == 1
    data = files[0].read_bytes()
    assert b"Exif" not in data and b"PhoneMaker" not in data
    with Image.open(files[0]) as im:
        assert not im.getexif() and "icc_profile" not in im.info
    sha = sha256_file(src)
    assert files[0].name == f"{sha}-64.jpg"
    src.unlink()  # a second get never needs the photo: the hash names the cached file
    assert cache.get(src, sha256=sha, size=64).size == (48, 64)
    assert cache.forget(sha) == 1 and not files[0].exists()


def test_cache_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    photos = []
    for i in range(4):
        p = tmp_path / f"n{i}.png"
        Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(p)
        photos.append(p)
    probe = ThumbnailCache(tmp_path / "probe")
    probe.get(photos[0], size=128)
    one = probe.total_bytes()
    cache = ThumbnailCache(tmp_path / "thumbs", max_bytes=int(one * 3.5))
    for p in photos[:3]:
        cache.get(p, size=128)
    files = [cache.file_for(sha256_file(p), 128) for p in photos]
    old = time.time() - 100
    for f in files[:3]:
        os.utime(f, (old, old))
    cache.get(photos[0], size=128)  # used again: now the most recent of the three
    cache.get(photos[3], size=128)  # a fourth goes over the bound: prune to 80%
    assert cache.total_bytes() <= cache.max_bytes
    assert [f.exists() for f in files] == [True, False, False, True]


def _make_thumb(args: tuple[str, str]) -> tuple[int, int]:
    root, src = args
    return ThumbnailCache(root).get(src, size=96).size


def test_concurrent_writers_threads_and_processes(tmp_path: Path) -> None:
    src = jpeg_with_exif(tmp_path / "p.jpg", 600, 400)
    root = tmp_path / "thumbs"
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(ThumbnailCache(root).get(src, size=96).size)
                for f in root.rglob("*.jpg"):
                    f.unlink(missing_ok=True)  # force rewrites racing with readers
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and set(results) == {(96, 64)}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        sizes = pool.map(_make_thumb, [(str(root), str(src))] * 6)
    assert set(sizes) == {(96, 64)}
    assert len(list(root.rglob("*.jpg"))) == 1 and not list(root.rglob("*.tmp"))
