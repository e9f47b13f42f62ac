"""Photos leave PoxScreen without metadata: no GPS, device serials, dates or comments.

Exported images and report pictures are cleaned here. JPEG and PNG are cleaned *losslessly*, by
dropping metadata segments/chunks from the byte stream (pixels untouched, so a retraining
elsewhere sees exactly what was screened); the EXIF orientation is the one tag kept, rewritten
alone, because without it the photo would be shown and learned on its side. Other formats are
decoded through engine.images (orientation applied) and written as PNG.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from engine.images import ImageLoadError, load_image_bytes

_ORIENTATION = 0x0112
#: JPEG markers kept: APP0 (JFIF), APP2 (ICC colour profile), APP14 (Adobe colour transform).
_JPEG_KEEP_APP = {0xE0, 0xE2, 0xEE}
#: PNG ancillary chunks kept (colour and transparency); text, time and eXIf chunks are dropped.
_PNG_KEEP = {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"PLTE"}
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _orientation_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()  # starts with b"Exif\0\0"


def _orientation_of(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as im:
            exif = Image.Exif()
            if im.format != "PNG":
                exif = im.getexif()
            elif "exif" in im.info:
                exif.load(im.info["exif"])
            value = int(exif.get(_ORIENTATION, 1))
    except Exception:  # unreadable EXIF: nothing worth keeping
        return 1
    return value if 1 <= value <= 8 else 1


def clean_jpeg(data: bytes) -> bytes:
    """The JPEG without EXIF/XMP/IPTC/comment segments (entropy-coded data copied as is)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    orientation = _orientation_of(data)
    out = bytearray(b"\xff\xd8")
    if orientation != 1:
        payload = _orientation_exif(orientation)
        out += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("corrupt JPEG segment structure")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[pos:]
            return bytes(out)
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        is_app = 0xE0 <= marker <= 0xEF
        if (not is_app or marker in _JPEG_KEEP_APP) and marker != 0xFE:
            out += segment
        pos += 2 + length
    raise ValueError("JPEG without image data")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def clean_png(data: bytes) -> bytes:
    """The PNG without text, time and EXIF chunks (image data copied as is)."""
    if not data.startswith(_PNG_SIG):
        raise ValueError("not a PNG")
    orientation = _orientation_of(data)
    out = bytearray(_PNG_SIG)
    pos = len(_PNG_SIG)
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos : pos + 12 + length]
        critical = kind[:1].isupper()
        if kind == b"IDAT" and orientation != 1:
            out += _png_chunk(b"eXIf", _orientation_exif(orientation)[6:])  # without "Exif\0\0"
            orientation = 1
        if critical or kind in _PNG_KEEP:
            out += chunk
        pos += 12 + length
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("PNG without an end chunk")


def clean_image_bytes(data: bytes, *, name: str, ext: str) -> tuple[bytes, str]:
    """Metadata-free bytes of an image file and the extension they need.

    JPEG and PNG keep their encoding (lossless); anything else is decoded with engine.images
    and written as PNG. Raises ImageLoadError (file and reason) for data that is no image."""
    try:
        if data[:2] == b"\xff\xd8":
            return clean_jpeg(data), ext if ext in (".jpg", ".jpeg", ".jpe", ".jfif") else ".jpg"
        if data.startswith(_PNG_SIG):
            return clean_png(data), ".png"
    except (ValueError, struct.error):
        pass  # malformed structure: fall back to a clean re-encode below
    image = load_image_bytes(data, name=name)
    buf = io.BytesIO()
    image.info.clear()
    image.save(buf, "PNG")
    return buf.getvalue(), ".png"


__all__ = ["ImageLoadError", "clean_image_bytes", "clean_jpeg", "clean_png"]
