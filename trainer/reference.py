"""Build the reference set shipped inside the app: the shipped model's held-out MSID test photos.

Why: a fine-tune must not forget what the shipped model knew, and the clinic has no photos to
check that with. The test part of the shipped model's recorded split (photos it never trained
on) is shipped as 224x224 PNGs under ``resources/reference/`` with a manifest of hashes; it is
only ever a check, never trained on. Each photo is decoded by the one image loader and resized
with the same filter as the model's preprocessing, so the check sees what the model would see.

``python -m trainer.reference build --data ../shared/datasets/msid
--split resources/models/msid_split.json --out resources/reference`` rebuilds it byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from engine.images import ImageLoadError, load_image, sha256_file
from engine.reference import MANIFEST_FORMAT, MANIFEST_NAME, REFERENCE_SIZE

README_TEXT = """# Reference set (a check, never trained on)

These {n} photos are the held-out test part of the shipped model's recorded split
(`resources/models/msid_split.json`, split `{split}`), stored as {size}x{size} PNGs. PoxScreen
uses them only to check that a fine-tuned model still knows what the shipped model knew; no
training ever reads them. `manifest.json` records each file's class, its SHA-256 and the SHA-256
of the original photo it came from; the app refuses a file that does not match.

Source: "Monkeypox Skin Images Dataset (MSID)", D. Bala and M. S. Hossain, Mendeley Data V6,
doi:10.17632/r9bfpnvyxr.6, licensed CC BY 4.0 (cite Bala & Hossain, 2023). The photos were
decoded and resized to {size}x{size} (bilinear, as the model's preprocessing does); they are
otherwise unchanged. This folder is the one place where data-set photos are in the repository.

Rebuild: `python -m trainer.reference build --data ../shared/datasets/msid
--split resources/models/msid_split.json --out resources/reference`.
"""


class ReferenceBuildError(Exception):
    """The split or a photo cannot make the reference set; the message says which and why."""


def _png_bytes(path: Path) -> bytes:
    image = load_image(path, target_size=REFERENCE_SIZE)
    if image.size != (REFERENCE_SIZE, REFERENCE_SIZE):
        image = image.resize((REFERENCE_SIZE, REFERENCE_SIZE), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _source_path(data: Path, record: dict[str, Any]) -> Path:
    parts = Path(record["path"]).parts
    return data / record["label"] / parts[-1]


def build(data: Path, split_path: Path, out: Path) -> dict[str, Any]:
    """Write the PNGs, ``manifest.json`` and ``README.md`` under ``out``; return the manifest."""
    try:
        split = json.loads(split_path.read_text(encoding="utf-8"))
        records = sorted(split["splits"]["test"], key=lambda r: (r["label"], r["path"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReferenceBuildError(f"{split_path}: not a readable split file ({exc})") from exc
    files = []
    for record in records:
        source = _source_path(data, record)
        try:
            source_hash = sha256_file(source)
            png = _png_bytes(source)
        except ImageLoadError as exc:
            raise ReferenceBuildError(f"{exc.path}: {exc.reason}") from exc
        if source_hash != record["sha256"]:
            raise ReferenceBuildError(f"{source}: not the photo the split recorded (hash differs)")
        rel = f"{record['label']}/{source.stem}.png"
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
        files.append(
            {
                "file": rel,
                "class": record["label"],
                "sha256": hashlib.sha256(png).hexdigest(),
                "source_sha256": source_hash,
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "size": REFERENCE_SIZE,
        "split": {
            "file": split_path.name,
            "name": "test",
            "format": split.get("format"),
            "version": split.get("version"),
            "seed": split.get("seed"),
            "created_at": split.get("created_at"),
        },
        "counts": split.get("counts", {}).get("test", {}),
        "files": files,
    }
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    (out / MANIFEST_NAME).write_text(text, encoding="utf-8")
    readme = README_TEXT.format(n=len(files), split="test", size=REFERENCE_SIZE)
    (out / "README.md").write_text(readme, encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``build --data DIR --split FILE --out DIR``."""
    parser = argparse.ArgumentParser(prog="python -m trainer.reference")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the reference set from the data and the split")
    b.add_argument("--data", type=Path, default=Path("../shared/datasets/msid"))
    b.add_argument("--split", type=Path, default=Path("resources/models/msid_split.json"))
    b.add_argument("--out", type=Path, default=Path("resources/reference"))
    args = parser.parse_args(argv)
    try:
        manifest = build(args.data, args.split, args.out)
    except ReferenceBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum((args.out / f["file"]).stat().st_size for f in manifest["files"])
    print(f"{len(manifest['files'])} photos, {total / 1024:.0f} KB, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
