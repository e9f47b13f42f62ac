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
