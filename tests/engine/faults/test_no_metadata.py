"""Exported images carry no EXIF (GPS, device serials), comments or text chunks; the
pixels and the orientation are kept; the export records both SHA-256 values."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from engine.exif import clean_image_bytes
from engine.images import load_image
from engine.store import Store
from tests.engine.factories import noise_image

GPS_IFD, EXIF_IFD, SERIAL, MAKE, ORIENTATION = 0x8825, 0x8769, 0xA431, 0x010F, 0x0112


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    exif.get_ifd(EXIF_IFD)[SERIAL] = "SN-123456789"
    return exif


def _photo(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = noise_image(40, 30, seed)
    if path.suffix == ".jpg":
        im.save(path, exif=_exif(6), comment=b"patient Jane Doe, ward 3")
    elif path.suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "patient Jane Doe")
        im.save(path, pnginfo=info, exif=_exif(6))
    else:
        im.save(path, exif=_exif(6), description="patient Jane Doe")
    return path


def _leaks(path: Path) -> list[str]:
    data = path.read_bytes()
    found = [w for w in ("Jane", "PhoneMaker", "SN-123456789") if w.encode() in data]
    with Image.open(path) as im:
        exif = im.getexif()
        if exif.get_ifd(GPS_IFD) or GPS_IFD in exif:
            found.append("GPS")
        if set(exif) - {ORIENTATION}:
            found.append(f"EXIF tags {sorted(set(exif) - {ORIENTATION})}")
    return found


def test_clean_bytes_keep_pixels_and_orientation(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.png", "c.tif"):
        src = _photo(tmp_path / name, 1)
        assert _leaks(src)  # precondition: the test photo does carry metadata
        data, ext = clean_image_bytes(src.read_bytes(), name=name, ext=src.suffix)
        out = tmp_path / f"clean-{src.stem}{ext}"
        out.write_bytes(data)
        assert _leaks(out) == []
        assert np.array_equal(np.asarray(load_image(out)), np.asarray(load_image(src)))
        assert load_image(out).size == (30, 40)  # orientation 6 still applied
    assert (tmp_path / "clean-c.png").exists()  # TIFF re-encoded as PNG


def test_export_strips_metadata_and_records_both_hashes(tmp_path: Path) -> None:
    photos = [_photo(tmp_path / "in" / n, i) for i, n in enumerate(("a.jpg", "b.png"), 1)]
    with Store.open(tmp_path / "case.db") as store:
        for p in photos:
            store.label(p, "Measles", who="dr", classes=["Measles"])
        summary = store.export_imagefolder(tmp_path / "out")
    assert summary.written == 2 and summary.manifest == tmp_path / "out" / "manifest.csv"
    rows = list(csv.DictReader(summary.manifest.open(encoding="utf-8")))
    originals = {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    assert {r["original_sha256"] for r in rows} == originals
    for row in rows:
        exported = tmp_path / "out" / row["file"]
        assert _leaks(exported) == []
        assert hashlib.sha256(exported.read_bytes()).hexdigest() == row["exported_sha256"]
        assert exported.stem == row["original_sha256"] != row["exported_sha256"]


def test_report_pictures_and_thumbnails_carry_no_metadata(tmp_path: Path) -> None:
    from engine.report.pictures import jpeg_bytes
    from engine.thumbnails import ThumbnailCache

    src = _photo(tmp_path / "gps.jpg", 3)
    picture = tmp_path / "report-picture.jpg"
    picture.write_bytes(jpeg_bytes(load_image(src), 85))
    assert _leaks(picture) == []
    ThumbnailCache(root=tmp_path / "thumbs").get(src, size=64)
    (thumb,) = (tmp_path / "thumbs").rglob("*.jpg")
    assert _leaks(thumb) == []
