"""Forgetting a case: a photo's pixels leave the data folder, its audit history stays.

``Store.forget`` (and ``poxscreen forget IMAGE``) deletes the image-store copy, every cached
thumbnail and preview, and the original's last known path (file names often carry a patient's
name); the database keeps the SHA-256, the predictions and the label events, so the audit trail
still says what was decided, by whom and when -- never what the photo looked like.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.store.imagestore import ImageStore

THUMBNAILS_DIR = "thumbnails"
#: Caches under the data folder that may hold derived pictures keyed by SHA-256.
PREVIEW_DIRS = (THUMBNAILS_DIR, "previews", "explanations")


@dataclass
class ForgetOutcome:
    """What forgetting removed; ``kept`` says what the audit history still holds."""

    sha256: str
    removed: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "path: reason" for files that stayed
    kept: str = "hash, predictions and label history"


def _forget_thumbnails(sha: str, data_dir: Path) -> list[Path]:
    """Thumbnails through engine.thumbnails when present, else by its documented layout
    ``<data dir>/thumbnails/<sha[:2]>/<sha256>-<size>.jpg``; returns the files it held."""
    files = list((data_dir / THUMBNAILS_DIR / sha[:2]).glob(f"{sha}*"))
    try:
        from engine.thumbnails import ThumbnailCache
    except ImportError:  # a build without the thumbnail cache: files deleted below
        return files
    ThumbnailCache(root=data_dir / THUMBNAILS_DIR).forget(sha)
    return files


def _named_for(sha: str, root: Path) -> list[Path]:
    """Every file under ``root`` whose name starts with the hash (any cache layout)."""
    if not root.is_dir():
        return []
    found = []
    for folder, _dirs, files in os.walk(root):
        found.extend(Path(folder) / f for f in files if f.startswith(sha))
    return found


def remove_files(sha: str, images: ImageStore, data_dir: Path, stored: str | None) -> ForgetOutcome:
    """Delete the copy, thumbnails and previews of the photo with this hash."""
    outcome = ForgetOutcome(sha)
    targets: list[Path] = []
    if stored:
        targets.append(images.path(stored))
    thumbnails = _forget_thumbnails(sha, data_dir)
    outcome.removed += [f for f in thumbnails if not f.exists()]
    targets += [f for f in thumbnails if f.exists()]
    for name in PREVIEW_DIRS:
        targets += _named_for(sha, data_dir / name)
    targets += _named_for(sha, images.root / sha[:2] / sha[2:4])
    for target in dict.fromkeys(targets):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            outcome.failed.append(f"{target}: {exc.strerror or exc}")
            continue
        outcome.removed.append(target)
    return outcome
