"""Where things live, found the same way from a source checkout and a PyInstaller bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "PoxScreen"


def resources_dir() -> Path:
    """The read-only ``resources/`` folder (bundled models, model card, icons)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def user_data_dir() -> Path:
    """Per-user writable data folder (database, image store, trained models).

    ``POXSCREEN_DATA_DIR`` overrides it, so tests and portable installs never touch the home folder.
    """
    override = os.environ.get("POXSCREEN_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def default_model_path() -> Path:
    """The shipped default model (trained on MSID), when it exists."""
    return resources_dir() / "models" / "default.safetensors"


def user_models_dir() -> Path:
    """Where locally fine-tuned models are written."""
    return user_data_dir() / "models"


#: Marks a stored path whose name is not valid UTF-8 (see :func:`path_to_text`). Stored paths are
#: absolute, so no real path starts with it.
_BYTES_PREFIX = "fsbytes:"


def path_to_text(path: str | os.PathLike[str]) -> str:
    """A path as text any database or CSV accepts, losslessly (undo with :func:`path_from_text`).

    Why: POSIX file names are bytes, and a name that is not UTF-8 (an old camera, a Latin-1
    USB stick) decodes to lone surrogates that SQLite, PostgreSQL and UTF-8 files refuse. Such a
    path is stored as its percent-escaped bytes behind a prefix; every other path is unchanged.
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        if not text.startswith(_BYTES_PREFIX):
            return text
    from urllib.parse import quote_from_bytes

    return _BYTES_PREFIX + quote_from_bytes(os.fsencode(text), safe="/\\:._-~ ")


def path_from_text(text: str) -> str:
    """The path :func:`path_to_text` stored: the same bytes, so it opens the same file."""
    if not text.startswith(_BYTES_PREFIX):
        return text
    from urllib.parse import unquote_to_bytes

    return os.fsdecode(unquote_to_bytes(text[len(_BYTES_PREFIX) :]))


def display_path(path: str | os.PathLike[str]) -> str:
    """A path for people (messages, CSV, the GUI): undecodable bytes shown as U+FFFD."""
    text = os.fspath(path)
    if text.startswith(_BYTES_PREFIX):
        text = path_from_text(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "replace")
