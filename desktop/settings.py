"""The desktop's own settings, kept with QSettings (the referral rule lives in the case store).

``POXSCREEN_SETTINGS`` (or ``--settings FILE``) points at an INI file instead of the platform's
store, which tests and portable installs use.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

SETTINGS_ENV = "POXSCREEN_SETTINGS"
DEVICES = ("auto", "cpu", "cuda")
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis")
THUMB_SIZES = (96, 128, 160, 200, 256)
LANGUAGES = ("en", "fr", "pt")  # "" (not listed): the system's language


def _default_clinician() -> str:
    name = os.environ.get("POXSCREEN_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): the label still needs a name
        return "clinician"


class Settings:
    """Typed access to the persisted settings; every setter writes through immediately."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        path = path or os.environ.get(SETTINGS_ENV)
        if path:
            self.qs = QSettings(os.fspath(path), QSettings.Format.IniFormat)
        else:
            self.qs = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, "PoxScreen", "PoxScreen"
            )

    @property
    def file(self) -> str:
        return self.qs.fileName()

    def _get(self, key: str, default: object) -> object:
        value = self.qs.value(key, default)
        return default if value is None else value

    def _set(self, key: str, value: object) -> None:
        self.qs.setValue(key, value)
        self.qs.sync()

    @property
    def clinician(self) -> str:
        return str(self._get("clinician", "") or _default_clinician())

    @clinician.setter
    def clinician(self, value: str) -> None:
        self._set("clinician", value.strip())

    @property
    def name_given(self) -> bool:
        """True once the clinician's name is kept here or given by $POXSCREEN_USER: until then
        the app asks for it at start (desktop.shell.name_prompt)."""
        return bool(
            str(self._get("clinician", "") or "").strip() or os.environ.get("POXSCREEN_USER")
        )

    @property
    def clinic(self) -> str:
        """The clinic's name, printed on every page of a report (empty: none)."""
        return str(self._get("clinic", "") or "")

    @clinic.setter
    def clinic(self, value: str) -> None:
        self._set("clinic", value.strip())

    @property
    def language(self) -> str:
        """The language chosen in Settings (``en``, ``fr``, ``pt``; empty: the system's)."""
        value = str(self._get("language", "") or "")
        return value if value in LANGUAGES else ""

    @language.setter
    def language(self, value: str) -> None:
        self._set("language", value if value in LANGUAGES else "")

    @property
    def device(self) -> str:
        value = str(self._get("device", "auto"))
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._set("device", value if value in DEVICES else "auto")

    @property
    def database(self) -> str:
        """A file path or SQLAlchemy URL; empty means the default in the user data folder."""
        return str(self._get("database", "") or "")

    @database.setter
    def database(self, value: str) -> None:
        self._set("database", value.strip())

    @property
    def colormap(self) -> str:
        value = str(self._get("overlay/colormap", "inferno"))
        return value if value in COLORMAPS else "inferno"

    @colormap.setter
    def colormap(self, value: str) -> None:
        self._set("overlay/colormap", value)

    @property
    def opacity(self) -> float:
        try:
            value = float(self._get("overlay/opacity", 0.45))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0.45
        return min(1.0, max(0.0, value))

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._set("overlay/opacity", float(value))

    @property
    def thumb_size(self) -> int:
        try:
            value = int(self._get("gallery/thumb_size", 160))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return 160
        return min(THUMB_SIZES, key=lambda s: abs(s - value))

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self._set("gallery/thumb_size", int(value))

    def last_folder(self, kind: str) -> str:
        """The folder last used by a file dialog of ``kind`` ("" when none yet)."""
        return str(self._get(f"folders/{kind}", "") or "")

    def set_last_folder(self, kind: str, folder: str) -> None:
        self._set(f"folders/{kind}", folder)

    @property
    def recipe(self) -> dict[str, Any]:
        """The fine-tuning recipe chosen last time ({}: the recipe's defaults)."""
        try:
            value = json.loads(str(self._get("training/recipe", "{}")))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @recipe.setter
    def recipe(self, values: dict[str, Any]) -> None:
        self._set("training/recipe", json.dumps(values))

    def gallery_state(self) -> dict[str, Any]:
        """The gallery's last filter, sort, run and photo (defaults on a first start)."""
        run = self._get("gallery/run", "")
        return {
            "show": str(self._get("gallery/show", "all")),
            "sort": str(self._get("gallery/sort", "uncertain")),
            "class": str(self._get("gallery/class", "")),
            "by_label": str(self._get("gallery/by_label", "false")).lower() == "true",
            "run": int(run) if str(run).isdigit() else None,  # type: ignore[call-overload]
            "photo": str(self._get("gallery/photo", "")),
        }

    def save_gallery_state(
        self, *, show: str, sort: str, cls: str, by_label: bool, run: int | None, photo: str
    ) -> None:
        values = {"show": show, "sort": sort, "class": cls, "by_label": str(by_label).lower(),
                  "run": "" if run is None else str(run), "photo": photo}  # fmt: skip
        for key, value in values.items():
            self.qs.setValue(f"gallery/{key}", value)
        self.qs.sync()

    def state(self, key: str) -> QByteArray | None:
        """Saved widget state (splitters, window geometry)."""
        value = self.qs.value(f"state/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_state(self, key: str, value: QByteArray) -> None:
        self._set(f"state/{key}", value)

    def restore_window(self, window: QMainWindow, splitter: QSplitter) -> None:
        """The window's saved size and place and its panes' sizes (a first start: 1400 x 880)."""
        geo = self.state("geometry")
        if geo is not None:
            window.restoreGeometry(geo)
        else:
            window.resize(1400, 880)
        split = self.state("splitter")
        if split is not None:
            splitter.restoreState(split)

    def save_window(self, window: QMainWindow, splitter: QSplitter) -> None:
        self.set_state("geometry", window.saveGeometry())
        self.set_state("splitter", splitter.saveState())
