"""Every open, save and folder dialog of the app, started in the folder last used for that kind
of file (screening folder, PDF report, CSV export, model...), else the user's Documents folder:
never the program's working folder, where patient data must not land by accident."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop.settings import Settings

_settings: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Keep the remembered folders in ``settings`` (the main window calls this at start)."""
    global _settings
    _settings = settings


def default_folder() -> str:
    """The user's Documents folder, else the home folder."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if docs and Path(docs).is_dir():
        return docs
    return str(Path.home())


def start_folder(kind: str) -> str:
    """Where a dialog for ``kind`` opens: the last folder used for it while it exists."""
    last = _settings.last_folder(kind) if _settings is not None else ""
    if last and Path(last).is_dir():
        return last
    return default_folder()


def remember(kind: str, chosen: str, is_folder: bool = False) -> None:
    """Note the folder of a chosen path (a folder is remembered as itself)."""
    if chosen and _settings is not None:
        folder = chosen if is_folder else os.path.dirname(chosen)
        _settings.set_last_folder(kind, folder)


def _in_start(kind: str, name: str) -> str:
    if name and os.path.isabs(name):
        return name
    return os.path.join(start_folder(kind), name) if name else start_folder(kind)


def open_file(parent: QWidget | None, kind: str, caption: str, filters: str = "") -> str:
    """An existing file to open ("" when cancelled)."""
    path, _ = QFileDialog.getOpenFileName(parent, caption, start_folder(kind), filters)
    remember(kind, path)
    return path


def save_file(
    parent: QWidget | None,
    kind: str,
    caption: str,
    name: str = "",
    filters: str = "",
    *,
    confirm_overwrite: bool = True,
) -> str:
    """A file to write ("" when cancelled); ``name`` is proposed in the remembered folder."""
    options = QFileDialog.Option(0)
    if not confirm_overwrite:
        options = QFileDialog.Option.DontConfirmOverwrite
    path, _ = QFileDialog.getSaveFileName(
        parent, caption, _in_start(kind, name), filters, options=options
    )
    remember(kind, path)
    return path


def choose_folder(parent: QWidget | None, kind: str, caption: str) -> str:
    """A folder ("" when cancelled)."""
    folder = QFileDialog.getExistingDirectory(parent, caption, start_folder(kind))
    remember(kind, folder, is_folder=True)
    return folder
