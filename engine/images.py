"""The one image loader used for display, inference, training and export.

Every part of PoxScreen reads photos through this module so that the pixels the clinician sees,
the pixels the model scores and the pixels a fine-tune trains on are decoded identically:
EXIF orientation applied, alpha flattened onto white, high bit depths scaled (not clipped) to
8 bit, always RGB, no metadata left in ``info`` (so none reaches a picture saved from it).
Bad files become an :class:`ImageLoadError` naming the file and a short
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
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.decode_memory import decode_budget, give_back_freed_memory
from engine.i18n import _

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

#: A reduced load of a non-JPEG image above this many pixels shrinks it strip by strip right
#: after decoding, so only the decoded image itself (not RGB/alpha copies of it) is ever held.
#: Below it the loader returns the decoded image as it always did (preprocessing resizes it).
STRIP_REDUCE_PIXELS = 16_000_000


_STRIP_PIXELS = 1_000_000  # pixels converted per step when converting strip by strip
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

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
        return _("file not found")
    if isinstance(exc, IsADirectoryError):
        return _("is a directory")
    if isinstance(exc, PermissionError):
        return _("permission denied")
    return _("could not read file: {why}").format(why=exc.strerror or exc)


def _bomb_reason(pixels: int, limit: int) -> str:
    return _(
        "image too large: {pixels} pixels exceeds the limit of {limit} "
        "(possible decompression bomb)"
    ).format(pixels=pixels, limit=limit)


def _pillow_bomb_reason(exc: Exception) -> str:
    """Reuse the numbers in Pillow's bomb message/warning so every size error reads the same."""
    match = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
    if match is None:
        return _("image too large (possible decompression bomb)")
    return _bomb_reason(int(match.group(1)), int(match.group(2)))


def _check_file(path: Path) -> int:
    """Stat first: Pillow reports empty files and folders as "cannot identify image"."""
    if path.is_dir():
        raise ImageLoadError(path, _("is a directory"))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageLoadError(path, _os_reason(exc)) from exc
    if size == 0:
        raise ImageLoadError(path, _("file is empty (0 bytes)"))
    return size


def _open(name: _Source, fp: Path | IO[bytes]) -> Image.Image:
    """Open lazily (header only) and turn every failure into an ImageLoadError."""
    try:
        return Image.open(fp)
    # Pillow's own global limits; the warning only arrives here if warnings are set to "error".
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(name, _pillow_bomb_reason(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(name, _("not an image or unsupported format")) from exc
    except OSError as exc:
        raise ImageLoadError(name, _os_reason(exc)) from exc
    except Exception as exc:  # malformed headers can raise anything from a plugin parser
        raise ImageLoadError(name, _("not an image or unsupported format")) from exc


def _scale_params(im: Image.Image) -> tuple[float, float] | None:
    """(offset, scale) mapping the image's values to 0..255, or None for a flat image."""
    if im.mode.startswith("I;16"):  # (Pillow has no extrema for I;16B; none are needed)
        return 0.0, 1.0 / 257.0
    lo, hi = (float(v) for v in im.getextrema())  # computed in C, no copy of the pixels
    if im.mode == "I" and lo >= 0 and hi <= 65535:
        return 0.0, 1.0 / 257.0
    if im.mode == "F" and lo >= 0 and hi <= 1.0:
        return 0.0, 255.0
    return (-lo, 255.0 / (hi - lo)) if hi > lo else None


def _reduce_factor(
    size: tuple[int, int], target_size: int | None, max_side: int | None = None
) -> int:
    """Largest integer reduction keeping the shorter side >= target_size (as JPEG draft does),
    or the longer side >= max_side (previews)."""
    if target_size:
        return max(1, min(size) // target_size)
    return max(1, max(size) // max_side) if max_side else 1


def _scale_to_8bit(im: Image.Image, factor: int = 1) -> Image.Image:
    """Map 16/32-bit integer and float greyscale to "L" by scaling the range, never clipping.

    16-bit data (I;16*, or "I" holding 0..65535, as some decoders deliver 16-bit PNG/TIFF) is
    divided by 257 so 65535 -> 255 and brightness is preserved. Floats in 0..1 are multiplied by
    255. Anything else is stretched min..max, the only faithful choice without a known range.

    Memory: a 100 MP 16-bit image must not need gigabytes. The range comes from Pillow's
    extrema, "I"/"F" images are reduced first by ``factor`` (a model-sized image or a preview is
    all that is needed), and values
    are scaled in row blocks of ~1 MP into one uint8 array, so the peak is the decoded image plus
    the 8-bit result plus one block.
    """
    params = _scale_params(im)
    if factor > 1 and im.mode in ("I", "F"):  # Pillow cannot reduce I;16: done on "L" below
        im, factor = im.reduce(factor), 1
    width, height = im.size
    out = np.zeros((height, width), dtype=np.uint8)
    if params is not None:
        offset, scale = params
        step = max(1, (1 << 20) // max(width, 1))
        for y in range(0, height, step):
            block = np.asarray(im.crop((0, y, width, min(height, y + step))), dtype=np.float64)
            if offset:
                block += offset
            block *= scale
            np.rint(block, out=block)
            np.clip(block, 0, 255, out=block)
            out[y : y + step] = block
    result = Image.fromarray(out, mode="L")
    return result.reduce(factor) if factor > 1 else result


def _to_rgb(im: Image.Image, factor: int = 1) -> Image.Image:
    """Convert any decoded mode to RGB.

    Transparency is composited onto white rather than dropped: dropping alpha exposes whatever
    colour the transparent pixels happen to store (often black), which draws a dark frame the
    model could mistake for a lesion border; white is also how viewers show such files.
    """
    if im.mode.startswith("I") or im.mode == "F":
        im = _scale_to_8bit(im, factor)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    # An RGB image is returned as decoded: pixels are in memory and leaving the caller's
    # ``with`` closes the file, so a copy would only cost time (~10 ms per 12 MP).
    return im if im.mode == "RGB" else im.convert("RGB")


def _draft(im: Image.Image, target_size: int | None, max_side: int | None) -> None:
    """JPEG only (a no-op elsewhere): let libjpeg decode at 1/2, 1/4 or 1/8 scale."""
    if target_size is not None:
        # Pillow picks the largest scale that keeps both sides >= target_size, so preprocessing
        # still downsamples rather than upsamples. A square request is orientation-proof.
        im.draft("RGB", (target_size, target_size))
    elif max_side is not None and max(im.size) > max_side:
        # Proportional request: the long side stays >= max_side, whatever the rotation.
        scale = max_side / max(im.size)
        im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))


def _load(name: _Source, im: Image.Image) -> None:
    try:
        im.load()
    except MemoryError as exc:
        raise ImageLoadError(name, _("not enough memory to decode image")) from exc
    except Image.DecompressionBombError as exc:  # e.g. a GIF frame larger than its header
        raise ImageLoadError(name, _pillow_bomb_reason(exc)) from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise ImageLoadError(name, _("truncated or corrupt image data")) from exc


def _orientation(name: _Source, im: Image.Image) -> int:
    try:
        return int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception as exc:  # broken EXIF must not make a readable photo unusable
        log.warning("%s: ignoring unreadable EXIF orientation (%s)", name, exc)
        return 1


def _reduce_in_strips(im: Image.Image, factor: int) -> Image.Image:
    """RGB of ``im`` reduced by ``factor``, converted a strip of rows at a time.

    Converting a 144 MP RGBA or palette image whole would hold two or three more full-size
    copies (RGBA, white backdrop, composite, RGB); strip by strip only the decoded image and
    the small result are held. Strips are whole multiples of ``factor`` rows, so the box
    averages are exactly those of reducing the converted image whole."""
    width, height = im.size
    step = max(1, _STRIP_PIXELS // max(width, 1) // factor) * factor
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for y in range(0, height, step):
        strip = _to_rgb(im.crop((0, y, width, min(height, y + step))))
        out.paste(strip.reduce(factor), (0, y // factor))
    return out


def _convert(name: _Source, im: Image.Image, factor: int) -> Image.Image:
    """Upright RGB of the loaded ``im``; big images are converted (and reduced) strip by strip."""
    big = im.width * im.height > STRIP_REDUCE_PIXELS
    scaled = im.mode.startswith("I") or im.mode == "F"  # _scale_to_8bit is lean already
    try:
        if big and not scaled and (factor > 1 or im.mode != "RGB"):
            orientation = _orientation(name, im)
            rgb = _reduce_in_strips(im, factor)
            im.close()  # frees the full-size pixels now, not when the caller's ``with`` ends
            method = _TRANSPOSE.get(orientation)
            return rgb if method is None else rgb.transpose(method)
        try:
            ImageOps.exif_transpose(im, in_place=True)  # in place: no copy per 12 MP photo
        except Exception as exc:  # broken EXIF must not make a readable photo unusable
            log.warning("%s: ignoring unreadable EXIF orientation (%s)", name, exc)
        return _to_rgb(im, factor)
    except (ValueError, OSError) as exc:
        raise ImageLoadError(
            name, _("unsupported colour mode {mode}").format(mode=im.mode)
        ) from exc


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
        _draft(im, target_size, max_side)
        factor = _reduce_factor(im.size, target_size, max_side)
        with decode_budget.take(im.width * im.height):  # after draft: the pixels really decoded
            _load(name, im)
            rgb = _convert(name, im, factor)
            if rgb is not im and im.width * im.height > STRIP_REDUCE_PIXELS:
                im.close()
                give_back_freed_memory()
        if max_side is not None and max(rgb.size) > max_side:
            rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        # Pixels only: Pillow re-writes info["exif"] / ["comment"] / XMP when an image is saved,
        # so a report picture or saved overlay would carry GPS, serials and notes.
        rgb.info.clear()
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
        raise ImageLoadError(name, _("file is empty (0 bytes)"))
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
        raise ImageLoadError(name, _("file is empty (0 bytes)"))
    return _decode(name, io.BytesIO(data), target_size, max_pixels)


def image_info(path: _Source) -> ImageInfo:
    """Width, height (as displayed), format and file size, read from the header without decoding."""
    p = Path(path)
    return _info(p, p, _check_file(p))


def image_info_bytes(data: bytes, *, name: str = "<bytes>") -> ImageInfo:
    """Like :func:`image_info` for bytes already read (screening reads each file once)."""
    if not data:
        raise ImageLoadError(name, _("file is empty (0 bytes)"))
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


def _open_regular(path: Path) -> int:
    """Open for reading only if it is a regular file (never blocks on a FIFO named ``x.jpg``).

    O_NONBLOCK lets the open of a FIFO return at once; fstat on the open descriptor then
    refuses it, with no window for the file to be swapped between check and read.
    """
    if path.is_dir():
        raise ImageLoadError(path, _("is a directory"))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ImageLoadError(path, _os_reason(exc)) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ImageLoadError(path, _("not a regular file (a pipe, device or socket); refused"))
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd


def open_regular_file(path: _Source) -> IO[bytes]:
    """A binary file object for a regular file; folders, FIFOs and devices raise
    ImageLoadError (the image store copies through this, so a FIFO never blocks it)."""
    return os.fdopen(_open_regular(Path(path)), "rb")


def read_file_bytes(path: _Source) -> bytes:
    """All bytes of a regular file; folders, FIFOs and devices raise ImageLoadError."""
    p = Path(path)
    fd = _open_regular(p)
    try:
        with os.fdopen(fd, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ImageLoadError(p, _os_reason(exc)) from exc


def sha256_file(path: _Source) -> str:
    """Hex SHA-256 of the file bytes, streamed in 1 MiB chunks; the app-wide image identity."""
    p = Path(path)
    fd = _open_regular(p)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ImageLoadError(p, _os_reason(exc)) from exc
    return digest.hexdigest()


def _is_visible_image(entry: os.DirEntry[str], root: str) -> bool:
    if entry.name.startswith("."):
        return False
    if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
        return False
    try:
        if not entry.is_symlink():
            return entry.is_file(follow_symlinks=False)  # FIFOs/devices named x.jpg are not
        # A file link counts only when it stays inside the chosen tree (never leave it).
        target = os.path.realpath(entry.path)
        return os.path.commonpath([target, root]) == root and os.path.isfile(target)
    except (OSError, ValueError):  # broken link, or a target on another drive (Windows)
        return False


def _link_skip_reason(entry: os.DirEntry[str], recursive: bool) -> str | None:
    """Why a symbolic link the walk does not follow is left out, or None when it needs no
    mention (a link to a non-image file, or to a folder in a walk that stays at the top)."""
    is_image = os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
    try:
        target = os.path.realpath(entry.path)
        if os.path.isdir(target):
            return "symbolic link to a folder: not followed" if recursive else None
        if not os.path.exists(target):
            return "symbolic link to a missing file: not followed" if is_image else None
    except (OSError, ValueError):
        return "symbolic link that cannot be resolved: not followed" if is_image else None
    if not is_image:
        return None
    if not os.path.isfile(target):
        return "symbolic link to a pipe, device or socket: not followed"
    return "symbolic link to a file outside the chosen folder: not followed"


def walk_image_files(
    folder: _Source,
    recursive: bool = False,
    cancel: _Cancel | None = None,
    on_skip: Callable[[Path, str], object] | None = None,
) -> Iterator[Path]:
    """Yield image files in ``folder`` as they are found (unsorted), skipping hidden files and
    folders; stops early once ``cancel.is_set()``. A folder of 100,000 photos yields its first
    file at once, so a caller can show progress and honour a cancel during the walk.

    Extensions match case-insensitively (phones write ``.JPG``). The walk never leaves the chosen
    tree: folder links are not followed (``ln -s / x`` would screen the whole disk, ``ln -s ..``
    the parent's photos) and a file link counts only when its target lies inside the tree.
    ``on_skip(path, reason)`` hears of every link left out this way and every unreadable
    subfolder, so a screening can list them instead of dropping them silently.
    """
    root = Path(folder)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise NotADirectoryError(f"{root}: image folder {what}")
    real_root = os.path.realpath(root)
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
            if on_skip is not None:
                on_skip(current, f"folder cannot be read: {exc.strerror or exc}")
            continue
        for entry in entries:
            if _is_visible_image(entry, real_root):
                yield current / entry.name
            elif entry.name.startswith("."):
                continue
            elif on_skip is not None and entry.is_symlink():
                if (reason := _link_skip_reason(entry, recursive)) is not None:
                    on_skip(current / entry.name, reason)
            elif recursive:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(current / entry.name)
                except OSError:
                    continue


def sort_paths(paths: Iterable[Path]) -> list[Path]:
    """The app's file order: case-insensitive by path (ties by exact spelling)."""
    return sorted(paths, key=lambda p: (str(p).casefold(), str(p)))


def iter_image_files(folder: _Source, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` sorted case-insensitively by path (see walk_image_files)."""
    return sort_paths(walk_image_files(folder, recursive))
