"""Typed errors of the case store; each names the database or image and says what to do."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked (bad input, unknown image/run/model, I/O trouble)."""


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
