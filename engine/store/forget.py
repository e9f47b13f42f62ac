"""Forgetting a case: a photo's pixels leave the data folder, its audit history stays.

``Store.forget`` (and ``poxscreen forget IMAGE``) deletes the image-store copy and the original's
last known path (file names often carry a patient's name), then calls its ``on_forget`` hooks so
the layers that made thumbnails and previews delete theirs; the database keeps the SHA-256, the
predictions and the label events, so the audit trail still says what was decided, by whom and
when -- never what the photo looked like.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.store.imagestore import ImageStore

#: Called after the database forgot a photo, with its SHA-256 and the outcome to add the files
#: it removed (or could not remove) to. The layer that made derived pictures of the photo
#: (thumbnails, previews) registers one: see engine.thumbnails.forget_hook.
ForgetHook = Callable[[str, "ForgetOutcome"], None]


@dataclass
class ForgetOutcome:
    """What forgetting removed; ``kept`` says what the audit history still holds."""

    sha256: str
    removed: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "path: reason" for files that stayed
    kept: str = "hash, predictions and label history"


def files_named_for(sha: str, root: Path) -> list[Path]:
    """Every file under ``root`` whose name starts with the hash (any cache layout)."""
    if not root.is_dir():
        return []
    found = []
    for folder, _dirs, files in os.walk(root):
        found.extend(Path(folder) / f for f in files if f.startswith(sha))
    return found


def remove_paths(targets: Iterable[Path], outcome: ForgetOutcome) -> None:
    """Delete each file once, noting it in ``removed``, or with the reason in ``failed``."""
    for target in dict.fromkeys(targets):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            outcome.failed.append(f"{target}: {exc.strerror or exc}")
            continue
        outcome.removed.append(target)


def remove_store_files(sha: str, images: ImageStore, stored: str | None) -> ForgetOutcome:
    """Delete the image store's copy of the photo with this hash (and any file named for it in
    its folder of the image store)."""
    outcome = ForgetOutcome(sha)
    targets: list[Path] = []
    if stored:
        targets.append(images.path(stored))
    targets += files_named_for(sha, images.root / sha[:2] / sha[2:4])
    remove_paths(targets, outcome)
    return outcome


def run_hooks(hooks: Iterable[ForgetHook], outcome: ForgetOutcome) -> ForgetOutcome:
    """Let each subscriber remove its derived pictures; a file-system error it raises is noted
    in ``failed`` (the database has forgotten the photo already, so the rest still run)."""
    for hook in hooks:
        try:
            hook(outcome.sha256, outcome)
        except OSError as exc:
            outcome.failed.append(f"{getattr(hook, '__name__', hook)}: {exc.strerror or exc}")
    return outcome
