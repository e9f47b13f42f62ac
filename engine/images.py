"""The one image loader used for display, inference, training and export.

Every part of PoxScreen reads photos through this module so that the pixels the clinician sees,
the pixels the model scores and the pixels a fine-tune trains on are decoded identically:
EXIF orientation applied, alpha flattened onto white, high bit depths scaled (not clipped) to
8 bit, always RGB. Bad files become an :class:`ImageLoadError` naming the file and a short
reason, never a raw Pillow traceback.

ICC profiles are deliberately ignored: Keras/torchvision training pipelines decode with plain
Pillow conversion too, so colour-managing here would shift inputs away from what models learned.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

#: Largest width*height we agree to decode. 150 MP covers 108 MP phone cameras with margin and
#: stays below Pillow's own hard limit (~179 MP, which raises before we can check), so the
#: documented limit is the real one. A decoded 150 MP RGB image needs ~450 MB.
DEFAULT_MAX_PIXELS = 150_000_000

#: Extensions (lower case, with dot) of formats Pillow decodes without extra plugins.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".gif"}
    | {".ppm", ".pgm", ".pbm", ".pnm"}
)

_HASH_CHUNK = 1024 * 1024
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}  # orientations that rotate by 90/270 degrees
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}

_Source = str | os.PathLike[str]


class _Cancel(Protocol):
    def is_set(self) -> bool: ...


class ImageLoadError(Exception):
    """A file could not be used as an image; ``path`` and a short human ``reason`` say why."""

    def __init__(self, path: _Source, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class ImageInfo:
    """Header facts about an image; width/height are as displayed (after EXIF orientation)."""

    width: int
    height: int
    format: str
    size_bytes: int


def _os_reason(exc: OSError) -> str:
    """Short reason for a filesystem error (the path is reported separately)."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"could not read file: {exc.strerror or exc}"


def _bomb_reason(pixels: int, limit: int) -> str:
    why = "(possible decompression bomb)"
    return f"image too large: {pixels} pixels exceeds the limit of {limit} {why}"


def _pillow_bomb_reason(exc: Exception) -> str:
    """Reuse the numbers in Pillow's bomb message/warning so every size error reads the same."""
    match = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
    if match is None:
        return "image too large (possible decompression bomb)"
    return _bomb_reason(int(match.group(1)), int(match.group(2)))


def _check_file(path: Path) -> int:
    """Stat first: Pillow reports empty files and folders as "cannot identify image"."""
    if path.is_dir():
        raise ImageLoadError(path, "is a directory")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageLoadError(path, _os_reason(exc)) from exc
    if size == 0:
        raise ImageLoadError(path, "file is empty (0 bytes)")
    return size


def _open(name: _Source, fp: Path | IO[bytes]) -> Image.Image:
    """Open lazily (header only) and turn every failure into an ImageLoadError."""
    try:
        return Image.open(fp)
    # Pillow's own global limits; the warning only arrives here if warnings are set to "error".
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(name, _pillow_bomb_reason(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(name, "not an image or unsupported format") from exc
    except OSError as exc:
        raise ImageLoadError(name, _os_reason(exc)) from exc
    except Exception as exc:  # malformed headers can raise anything from a plugin parser
        raise ImageLoadError(name, "not an image or unsupported format") from exc


def _scale_to_8bit(im: Image.Image) -> Image.Image:
    """Map 16/32-bit integer and float greyscale to "L" by scaling the range, never clipping.

    16-bit data (I;16*, or "I" holding 0..65535, as some decoders deliver 16-bit PNG/TIFF) is
    divided by 257 so 65535 -> 255 and brightness is preserved. Floats in 0..1 are multiplied by
    255. Anything else is stretched min..max, the only faithful choice without a known range.
    """
    arr = np.asarray(im).astype(np.float64)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if im.mode.startswith("I;16") or (im.mode == "I" and lo >= 0 and hi <= 65535):
        arr = arr / 257.0
    elif im.mode == "F" and lo >= 0 and hi <= 1.0:
        arr = arr * 255.0
    else:
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any decoded mode to RGB.

    Transparency is composited onto white rather than dropped: dropping alpha exposes whatever
    colour the transparent pixels happen to store (often black), which draws a dark frame the
    model could mistake for a lesion border; white is also how viewers show such files.
    """
    if im.mode.startswith("I") or im.mode == "F":
        im = _scale_to_8bit(im)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    # An RGB image is returned as decoded: pixels are in memory and leaving the caller's
    # ``with`` closes the file, so a copy would only cost time (~10 ms per 12 MP).
    return im if im.mode == "RGB" else im.convert("RGB")


def _decode(
    name: _Source,
    fp: Path | IO[bytes],
    target_size: int | None,
    max_pixels: int,
    max_side: int | None = None,
) -> Image.Image:
    if target_size is not None and target_size <= 0:
        raise ValueError(f"target_size must be positive, got {target_size}")
    if max_side is not None and max_side <= 0:
        raise ValueError(f"max_side must be positive, got {max_side}")
    with _open(name, fp) as im:
        pixels = im.width * im.height
        if pixels > max_pixels:  # header only: nothing has been decoded yet
            raise ImageLoadError(name, _bomb_reason(pixels, max_pixels))
        try:
            if target_size is not None:
                # JPEG only (no-op elsewhere): let libjpeg decode at 1/2, 1/4 or 1/8 scale. Pillow
                # picks the largest scale that keeps both sides >= target_size, so preprocessing
                # still downsamples rather than upsamples. A square request is orientation-proof.
                im.draft("RGB", (target_size, target_size))
            elif max_side is not None and max(im.size) > max_side:
                # Proportional request: the long side stays >= max_side, whatever the rotation.
                scale = max_side / max(im.size)
                im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))
            im.load()
        except MemoryError as exc:
            raise ImageLoadError(name, "not enough memory to decode image") from exc
        except Image.DecompressionBombError as exc:  # e.g. a GIF frame larger than its header
            raise ImageLoadError(name, _pillow_bomb_reason(exc)) from exc
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
            raise ImageLoadError(name, "truncated or corrupt image data") from exc
        try:
            ImageOps.exif_transpose(im, in_place=True)  # in place: no 36 MB copy per 12 MP photo
        except Exception as exc:  # broken EXIF must not make a readable photo unusable
            log.warning("%s: ignoring unreadable EXIF orientation (%s)", name, exc)
        try:
            rgb = _to_rgb(im)
        except (ValueError, OSError) as exc:
            raise ImageLoadError(name, f"unsupported colour mode {im.mode}") from exc
        if max_side is not None and max(rgb.size) > max_side:
            rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return rgb


def load_image(
    path: _Source, *, target_size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Decode ``path`` into a fully loaded, upright RGB image.

    ``target_size`` is a hint, not a resize: large JPEGs are decoded at a reduced scale whose
    shorter side is still >= ``target_size`` (a 12 MP photo for a 224 px model decodes ~16x
    fewer pixels). The result is NOT resized to ``target_size``; preprocessing does that, so
    every consumer resizes with the same filter. ``max_pixels`` bounds the header-declared
    width*height before any pixel is decoded (decompression-bomb guard), even when
    ``target_size`` would decode fewer pixels, so the limit does not depend on the caller.
    """
    p = Path(path)
    _check_file(p)
    return _decode(p, p, target_size, max_pixels)


def load_preview(
    path: _Source, max_side: int = 1600, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Decode ``path`` for display: upright RGB whose long side is at most ``max_side``.

    Large JPEGs decode at a reduced scale (a 12 MP photo for a 1600 px panel decodes a quarter
    of its pixels), then shrink to fit. Same errors and limits as :func:`load_image`.
    """
    p = Path(path)
    _check_file(p)
    return _decode(p, p, None, max_pixels, max_side)


def load_preview_bytes(
    data: bytes,
    max_side: int = 1600,
    *,
    name: str = "<bytes>",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Like :func:`load_preview` for bytes already read."""
    if not data:
        raise ImageLoadError(name, "file is empty (0 bytes)")
    return _decode(name, io.BytesIO(data), None, max_pixels, max_side)


def load_image_bytes(
    data: bytes,
    *,
    name: str = "<bytes>",
    target_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Like :func:`load_image` for in-memory data (clipboard, drops); ``name`` labels errors."""
    if not data:
        raise ImageLoadError(name, "file is empty (0 bytes)")
    return _decode(name, io.BytesIO(data), target_size, max_pixels)


def image_info(path: _Source) -> ImageInfo:
    """Width, height (as displayed), format and file size, read from the header without decoding."""
    p = Path(path)
    return _info(p, p, _check_file(p))


def image_info_bytes(data: bytes, *, name: str = "<bytes>") -> ImageInfo:
    """Like :func:`image_info` for bytes already read (screening reads each file once)."""
    if not data:
        raise ImageLoadError(name, "file is empty (0 bytes)")
    return _info(name, io.BytesIO(data), len(data))


def _info(name: _Source, fp: Path | IO[bytes], size: int) -> ImageInfo:
    with _open(name, fp) as im:
        width, height = im.size
        try:
            exif = Image.Exif()  # PNG's getexif() would decode pixels to find a late eXIf chunk
            if im.format != "PNG":
                exif = im.getexif()
            elif "exif" in im.info:
                exif.load(im.info["exif"])
            orientation = int(exif.get(_ORIENTATION_TAG, 1))
        except Exception:  # unreadable EXIF: report the stored size, as load_image would show it
            orientation = 1
        if orientation in _SWAPS_AXES:
            width, height = height, width
        return ImageInfo(width=width, height=height, format=im.format or "", size_bytes=size)


def sha256_file(path: _Source) -> str:
    """Hex SHA-256 of the file bytes, streamed in 1 MiB chunks; the app-wide image identity."""
    p = Path(path)
    if p.is_dir():
        raise ImageLoadError(p, "is a directory")
    digest = hashlib.sha256()
    try:
        with p.open("rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ImageLoadError(p, _os_reason(exc)) from exc
    return digest.hexdigest()


def _is_visible_image(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return False
    if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
        return False
    try:
        return entry.is_file()  # follows symlinks; broken links and folders named x.jpg fail
    except OSError:
        return False


def walk_image_files(
    folder: _Source, recursive: bool = False, cancel: _Cancel | None = None
) -> Iterator[Path]:
    """Yield image files in ``folder`` as they are found (unsorted), skipping hidden files and
    folders; stops early once ``cancel.is_set()``. A folder of 100,000 photos yields its first
    file at once, so a caller can show progress and honour a cancel during the walk.

    Extensions match case-insensitively (phones write ``.JPG``). Symlinked folders are followed
    once each, so a link pointing back up the tree cannot loop forever.
    """
    root = Path(folder)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise NotADirectoryError(f"{root}: image folder {what}")
    seen: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        if cancel is not None and cancel.is_set():
            return
        current = pending.pop()
        try:
            st = current.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(current) as it:
                entries = list(it)
        except OSError as exc:
            if current == root:
                raise NotADirectoryError(f"{root}: cannot list image folder ({exc})") from exc
            log.warning("skipping unreadable folder %s (%s)", current, exc)
            continue
        for entry in entries:
            if _is_visible_image(entry):
                yield current / entry.name
            elif recursive and not entry.name.startswith("."):
                try:
                    if entry.is_dir():
                        pending.append(current / entry.name)
                except OSError:
                    continue


def sort_paths(paths: Iterable[Path]) -> list[Path]:
    """The app's file order: case-insensitive by path (ties by exact spelling)."""
    return sorted(paths, key=lambda p: (str(p).casefold(), str(p)))


def iter_image_files(folder: _Source, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` sorted case-insensitively by path (see walk_image_files)."""
    return sort_paths(walk_image_files(folder, recursive))
