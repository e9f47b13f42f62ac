"""The reference set shipped inside the app: held-out MSID photos used only as a check.

Why: a fine-tune must keep what the shipped model knew, and the clinic has no photos to show it.
These are the test part of the shipped model's recorded split (photos it never trained on),
built by ``python -m trainer.reference build``. They are never trained on. Every file is checked
against the manifest's SHA-256 before use, so a changed or damaged file cannot quietly move the
check; it is refused with a message naming the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.paths import resources_dir

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "poxscreen-reference"
REFERENCE_SIZE = 224


class ReferenceSetError(Exception):
    """The reference set is missing or does not match its manifest; the message says why."""


def reference_dir() -> Path:
    """Where the reference set lives (source checkout or PyInstaller bundle)."""
    return resources_dir() / "reference"


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReferenceSetError(f"{path}: the reference set's manifest is missing") from exc
    except (OSError, ValueError) as exc:
        raise ReferenceSetError(f"{path}: the manifest cannot be read ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ReferenceSetError(f"{path}: not a PoxScreen reference-set manifest")
    return manifest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference_set(folder: Path | None = None) -> list[tuple[Path, str]]:
    """Every reference photo as ``(path, class)``, each verified against the manifest's hash.

    Raises :class:`ReferenceSetError` naming the file when one is missing, unreadable, outside
    the folder or not the file the manifest recorded.
    """
    root = (folder or reference_dir()).resolve()
    manifest = _read_manifest(root)
    out: list[tuple[Path, str]] = []
    for entry in manifest.get("files", []):
        path = (root / entry["file"]).resolve()
        if not path.is_relative_to(root):
            raise ReferenceSetError(f"{entry['file']}: outside the reference folder {root}")
        try:
            digest = _sha256(path)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ReferenceSetError(f"{path}: reference photo cannot be read ({reason})") from exc
        if digest != entry["sha256"]:
            raise ReferenceSetError(
                f"{path}: reference photo does not match the manifest (changed or damaged; "
                "rebuild with `python -m trainer.reference build`)"
            )
        out.append((path, str(entry["class"])))
    return out


def reference_counts(folder: Path | None = None) -> dict[str, int]:
    """How many reference photos each class has, from the manifest (no file is read)."""
    counts: dict[str, int] = {}
    for entry in _read_manifest((folder or reference_dir()).resolve()).get("files", []):
        counts[str(entry["class"])] = counts.get(str(entry["class"]), 0) + 1
    return counts
