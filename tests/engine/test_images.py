"""Tests for engine.images: the single loader for display, inference, training and export."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from engine import images
from engine.images import (
    IMAGE_EXTENSIONS,
    ImageInfo,
    ImageLoadError,
    image_info,
    image_info_bytes,
    iter_image_files,
    load_image,
    load_image_bytes,
    sha256_file,
)
from tests.engine.factories import noise_image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def close(actual: tuple[int, ...], expected: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def quadrants(w: int, h: int) -> Image.Image:
    """Asymmetric pattern: red top-left, green top-right, blue bottom-left, white bottom-right."""
    im = Image.new("RGB", (w, h))
    for box, colour in [
        ((0, 0, w // 2, h // 2), RED),
        ((w // 2, 0, w, h // 2), GREEN),
        ((0, h // 2, w // 2, h), BLUE),
        ((w // 2, h // 2, w, h), WHITE),
    ]:
        im.paste(colour, box)
    return im


def corners(im: Image.Image) -> tuple[tuple[int, ...], ...]:
    """Colours at the centres of the TL, TR, BL, BR quadrants."""
    w, h = im.size
    pts = [(w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4)]
    return tuple(im.getpixel(p) for p in pts)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG declaring a huge RGB size but holding one row of an unfinished zlib stream.

    Decoding it would allocate width*height*3 bytes and then fail as truncated, so an
    "image too large" error proves the size was checked from the header first.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    packer = zlib.compressobj(9)
    idat = packer.compress(b"\x00" * (1 + 3 * width)) + packer.flush(zlib.Z_SYNC_FLUSH)
    body = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def expect_error(path: Path, reason_start: str, **kwargs: object) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert err.path == str(path)
    assert err.reason.startswith(reason_start), err.reason
    assert str(path) in str(err) and err.reason in str(err)
    return err


# --- modes -------------------------------------------------------------------------------------


def test_rgb_png_is_fully_loaded_and_detached_from_file(tmp_path: Path) -> None:
    src = noise_image(40, 30)
    path = tmp_path / "a.png"
    src.save(path)
    im = load_image(path)
    assert getattr(im, "fp", None) is None  # file closed (Windows could not delete it otherwise)
    path.unlink()  # pixels must already be in memory
    assert im.mode == "RGB" and im.size == (40, 30)
    assert np.array_equal(np.asarray(im), np.asarray(src))


@pytest.mark.parametrize(
    ("make", "fmt", "stored_mode", "expected"),
    [
        (lambda: Image.new("L", (8, 8), 77), "PNG", "L", (77, 77, 77)),
        (lambda: Image.new("1", (8, 8), 1), "PNG", "1", WHITE),
        (lambda: Image.new("RGB", (8, 8), (10, 120, 220)).quantize(4), "PNG", "P", (10, 120, 220)),
        (lambda: Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", "CMYK", RED),
        (lambda: Image.new("CMYK", (8, 8), (0, 0, 255, 0)), "TIFF", "CMYK", (255, 255, 0)),
        (
            lambda: Image.new("RGB", (8, 8), (200, 30, 40)).convert("YCbCr"),
            "TIFF",
            "YCbCr",
            (200, 30, 40),
        ),
        (
            lambda: Image.new("RGB", (8, 8), (200, 30, 40)).convert("LAB"),
            "TIFF",
            "LAB",
            (200, 30, 40),
        ),
    ],
    ids=["L", "1", "P", "CMYK-jpeg", "CMYK-tiff", "YCbCr", "LAB"],
)
def test_colour_modes_convert_to_rgb(tmp_path, make, fmt, stored_mode, expected) -> None:
    path = tmp_path / f"img.{fmt.lower()}"
    make().save(path, fmt)
    with Image.open(path) as raw:
        assert raw.mode == stored_mode  # precondition: the file really has this mode
    im = load_image(path)
    assert im.mode == "RGB"
    assert close(im.getpixel((4, 4)), expected, tol=3), im.getpixel((4, 4))


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "I;16"), ("TIFF", "I;16"), ("TIFF", "I;16B")])
def test_16bit_greyscale_scales_full_range(tmp_path: Path, fmt: str, mode: str) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    src = Image.frombytes(
        mode, (4, 1), values.astype(">u2" if mode.endswith("B") else "<u2").tobytes()
    )
    path = tmp_path / f"g16.{fmt.lower()}"
    src.save(path, fmt)
    with Image.open(path) as raw:
        assert raw.mode.startswith("I;16")
    row = np.asarray(load_image(path))[0, :, 0]
    assert row[0] == 0 and row[1] == 1 and row[3] == 255
    assert abs(int(row[2]) - 128) <= 1


def test_32bit_int_holding_16bit_values_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "i32.tif"
    Image.fromarray(np.array([[0, 1000, 32768, 65535]], dtype=np.int32)).save(path)
    row = np.asarray(load_image(path))[0, :, 0]
    assert list(row) == [0, 4, 128, 255]  # 1000/257 = 3.9 -> 4; clipping would give 255


def test_float_images(tmp_path: Path) -> None:
    unit = tmp_path / "unit.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(unit)
    assert list(np.asarray(load_image(unit))[0, :, 0]) == [0, 128, 255]
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.array([[-10.0, 45.0, 100.0]], dtype=np.float32)).save(wide)
    assert list(np.asarray(load_image(wide))[0, :, 0]) == [0, 128, 255]


def test_rgba_and_la_are_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 128))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black must become white
    rgba.save(tmp_path / "rgba.png")
    im = load_image(tmp_path / "rgba.png")
    assert im.getpixel((0, 0)) == WHITE
    assert close(im.getpixel((4, 4)), (255, 127, 127), tol=1)
    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").getpixel((1, 1)) == WHITE


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_composited_on_white(tmp_path: Path, fmt: str) -> None:
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (4, 0, 8, 8))  # right half blue, left half index 0 (transparent black)
    path = tmp_path / f"pal.{fmt.lower()}"
    pal.save(path, fmt, transparency=0)
    im = load_image(path)
    assert im.getpixel((1, 4)) == WHITE
    assert im.getpixel((6, 4)) == BLUE


# --- orientation and draft ---------------------------------------------------------------------

# Expected TL, TR, BL, BR colours after applying the EXIF orientation to quadrants().
ORIENTED = {
    1: (RED, GREEN, BLUE, WHITE),
    3: (WHITE, BLUE, GREEN, RED),
    6: (BLUE, RED, WHITE, GREEN),
    8: (GREEN, WHITE, RED, BLUE),
}


def save_with_orientation(path: Path, im: Image.Image, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, "JPEG", quality=95, exif=exif)
    return path


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("target_size", [None, 100])
def test_exif_orientation(tmp_path: Path, orientation: int, target_size: int | None) -> None:
    path = save_with_orientation(tmp_path / "o.jpg", quadrants(800, 400), orientation)
    im = load_image(path, target_size=target_size)
    full = (800, 400) if orientation in (1, 3) else (400, 800)
    scale = 1 if target_size is None else 4  # min(800 // 100, 400 // 100) = 4
    assert im.size == (full[0] // scale, full[1] // scale)
    for got, want in zip(corners(im), ORIENTED[orientation], strict=True):
        assert close(got, want), (got, want)
    assert ImageOps.exif_transpose(im).size == im.size  # tag consumed: no double rotation later
    assert image_info(path).width == full[0] and image_info(path).height == full[1]


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "photo.jpg"
    noise_image(4000, 3000, seed=1).save(path, quality=85)
    return path


@pytest.mark.parametrize(("target", "expected"), [(224, (500, 375)), (1000, (2000, 1500))])
def test_draft_decodes_large_jpeg_at_reduced_scale(big_jpeg: Path, target: int, expected) -> None:
    im = load_image(big_jpeg, target_size=target)
    assert im.mode == "RGB" and im.size == expected
    assert min(im.size) >= target  # never below the requested size: preprocessing downsamples


def test_target_size_is_not_a_resize(tmp_path: Path) -> None:
    small = tmp_path / "small.jpg"
    noise_image(120, 90).save(small)
    assert load_image(small, target_size=224).size == (120, 90)  # never upsampled
    png = tmp_path / "big.png"
    Image.new("RGB", (900, 600)).save(png)
    assert load_image(png, target_size=224).size == (900, 600)  # draft is JPEG-only
    with pytest.raises(ValueError):
        load_image(png, target_size=0)


# --- bad input ---------------------------------------------------------------------------------


def test_error_reasons(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    expect_error(empty, "file is empty (0 bytes)")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n")
    err = expect_error(text, "not an image or unsupported format")
    assert err.__cause__ is not None  # chained, not swallowed
    expect_error(tmp_path / "missing.png", "file not found")
    (tmp_path / "folder.jpg").mkdir()
    expect_error(tmp_path / "folder.jpg", "is a directory")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_errors(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"cut.{fmt.lower()}"
    noise_image().save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = expect_error(path, "truncated or corrupt image data")
    assert err.__cause__ is not None
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions only")
def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading")
    path = tmp_path / "locked.png"
    Image.new("RGB", (4, 4)).save(path)
    path.chmod(0)
    try:
        expect_error(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_permission_error_from_open_is_mapped(tmp_path: Path, monkeypatch) -> None:
    """Runs as root too: the OSError from opening becomes a typed reason."""
    path = tmp_path / "locked.png"
    Image.new("RGB", (4, 4)).save(path)

    def deny(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images.Image, "open", deny)
    expect_error(path, "permission denied")


def test_huge_declared_size_beyond_pillow_limit(tmp_path: Path) -> None:
    path = png_header_only(tmp_path / "bomb.png", 30000, 30000)
    assert path.stat().st_size < 1000
    err = expect_error(path, "image too large: 900000000 pixels exceeds the limit of")
    assert "decompression bomb" in err.reason
    with pytest.raises(ImageLoadError, match="image too large"):
        image_info(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_own_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    # No pixel data at all: if decoding were attempted the reason would be "truncated".
    path = png_header_only(tmp_path / "big.png", 12000, 12000)
    expect_error(
        path,
        "image too large: 144000000 pixels exceeds the limit of 100000000",
        max_pixels=100_000_000,
    )
    assert image_info(path) == ImageInfo(12000, 12000, "PNG", path.stat().st_size)


def test_header_only_png_would_fail_as_truncated(tmp_path: Path) -> None:
    """Control for the two tests above: below the limit the same file is decoded and rejected."""
    expect_error(png_header_only(tmp_path / "h.png", 300, 200), "truncated or corrupt image data")


def test_pixel_limit_boundary(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    Image.new("RGB", (100, 100)).save(path)
    assert load_image(path, max_pixels=10_000).size == (100, 100)
    expect_error(path, "image too large: 10000 pixels exceeds the limit of 9999", max_pixels=9999)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pillow_bomb_warning_as_error_is_typed(tmp_path: Path) -> None:
    path = png_header_only(tmp_path / "warn.png", 10000, 10000)  # above Pillow's warning limit
    expect_error(
        path, f"image too large: 100000000 pixels exceeds the limit of {Image.MAX_IMAGE_PIXELS}"
    )


# --- bytes, names, info, hashing ---------------------------------------------------------------


def test_unicode_name_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "Patient files ä"
    folder.mkdir()
    path = folder / "Hautbild 测试 Läsion.JPG"
    Image.new("RGB", (10, 6), GREEN).save(path, "JPEG")
    assert load_image(path).size == (10, 6)
    assert iter_image_files(folder) == [path]
    assert len(sha256_file(path)) == 64


def test_load_image_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    Image.new("RGBA", (5, 3), (0, 0, 255, 255)).save(path)
    im = load_image_bytes(path.read_bytes())
    assert im.mode == "RGB" and im.size == (5, 3) and im.getpixel((0, 0)) == BLUE
    with pytest.raises(ImageLoadError, match="clipboard: file is empty"):
        load_image_bytes(b"", name="clipboard")
    with pytest.raises(ImageLoadError, match="clipboard: not an image"):
        load_image_bytes(b"hello", name="clipboard")


def test_image_info_reads_header(tmp_path: Path) -> None:
    path = save_with_orientation(tmp_path / "o.jpg", quadrants(64, 32), 6)
    assert image_info(path) == ImageInfo(32, 64, "JPEG", path.stat().st_size)
    png = tmp_path / "p.png"
    Image.new("L", (7, 5)).save(png)
    assert image_info(png) == ImageInfo(7, 5, "PNG", png.stat().st_size)
    exif = Image.Exif()
    exif[0x0112] = 8
    quadrants(64, 32).save(png, exif=exif)  # PNG eXIf chunk: info and loader must agree
    assert (image_info(png).width, image_info(png).height) == load_image(png).size == (32, 64)
    with pytest.raises(ImageLoadError, match="file not found"):
        image_info(tmp_path / "nope.png")


def test_image_info_bytes_agrees_with_the_file(tmp_path: Path) -> None:
    path = save_with_orientation(tmp_path / "o.jpg", quadrants(64, 32), 6)
    assert image_info_bytes(path.read_bytes(), name=str(path)) == image_info(path)
    with pytest.raises(ImageLoadError, match="x.jpg: file is empty"):
        image_info_bytes(b"", name="x.jpg")
    with pytest.raises(ImageLoadError, match="x.jpg: not an image"):
        image_info_bytes(b"hello", name="x.jpg")


def test_sha256_file_streams_whole_file(tmp_path: Path) -> None:
    data = np.random.default_rng(3).integers(0, 256, 2_500_000, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)  # > 2 chunks of 1 MiB
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(ImageLoadError, match="file not found"):
        sha256_file(tmp_path / "gone.jpg")
    with pytest.raises(ImageLoadError, match="is a directory"):
        sha256_file(tmp_path)


# --- folders -----------------------------------------------------------------------------------


def test_image_extensions_are_readable_by_pillow() -> None:
    Image.init()
    registered = Image.registered_extensions()
    for ext in IMAGE_EXTENSIONS:
        assert ext == ext.lower() and ext.startswith(".")
        assert registered.get(ext) in Image.OPEN, ext


def test_iter_image_files(tmp_path: Path) -> None:
    for rel in ["b.png", "A.JPG", "sub/c.jpeg", "sub/.deep/d.png", ".thumbs/e.jpg", ".hidden.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("n")
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "does-not-exist.jpg")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)

    assert iter_image_files(tmp_path) == [tmp_path / "A.JPG", tmp_path / "b.png"]
    assert iter_image_files(tmp_path, recursive=True) == [
        tmp_path / "A.JPG",
        tmp_path / "b.png",
        tmp_path / "sub" / "c.jpeg",
    ]


def test_iter_image_files_rejects_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="does not exist"):
        iter_image_files(tmp_path / "nowhere")
    (tmp_path / "f.jpg").write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        iter_image_files(tmp_path / "f.jpg")
