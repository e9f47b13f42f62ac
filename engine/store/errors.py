"""Typed errors of the case store; each names the database or image and says what to do."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"([a-zA-Z][\w+.-]*://[^:/@\s]*):([^@\s]+)@")
_KEY_PASSWORD = re.compile(r"((?:password|passwd|pwd)\s*=\s*)('[^']*'|[^&\s;]+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with database passwords (in URLs and ``password=`` settings) shown as ``***``."""
    return _KEY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", text))


class StoreError(Exception):
    """The store cannot do what was asked (bad input, unknown image/run/model, I/O trouble).

    The message never shows a database password: every store error is masked here."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_secrets(a) if isinstance(a, str) else a for a in args))


class StoreWriteError(StoreError):
    """A file of the store (an image copy, an export) could not be written: disk full,
    read-only folder... The message names the file and that cause, never "original gone"."""


class StoreVersionError(StoreError):
    """The database is not a PoxScreen store this version can use; the file was left untouched."""

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"{location}: {reason}")


class NotFoundError(StoreError):
    """An image, run, model or training run that the store does not know."""


class NothingToUndoError(StoreError):
    """Undo asked for an image whose label history has no label left to take back."""


class NothingToRedoError(StoreError):
    """Redo asked for an image with no undone label to restore (or a newer label since)."""
