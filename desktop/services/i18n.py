"""The desktop's language: PoxScreen's own text through engine.i18n (one catalogue for the
engine and the window, so a widget and the report say "Rougeole" alike), and Qt's own dialogs
(file pickers, standard buttons) through the ``qtbase`` translations that ship with PySide6.

Widgets import ``_``, ``ngettext`` and ``N_`` from here (the seam: widgets never import the
engine). :func:`apply_language` is what the app calls at start-up and when Settings change the
language; the window is then rebuilt so every label is made again in the new language.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from engine.i18n import (
    LANGUAGE_NAMES,
    N_,
    SUPPORTED,
    _,
    current_language,
    format_date,
    format_datetime,
    format_number,
    format_percent,
    ngettext,
    set_language,
    system_language,
)

__all__ = [
    "LANGUAGE_NAMES",
    "QT_CATALOGUES",
    "SUPPORTED",
    "N_",
    "_",
    "apply_language",
    "current_language",
    "format_date",
    "format_datetime",
    "format_number",
    "format_percent",
    "install_qt_translations",
    "ngettext",
    "qt_translations_dir",
    "set_language",
    "system_language",
]

#: Qt's own catalogues per language, tried in order (Qt ships Brazilian Portuguese only).
QT_CATALOGUES: dict[str, tuple[str, ...]] = {
    "fr": ("qtbase_fr",),
    "pt": ("qtbase_pt_BR", "qtbase_pt_PT", "qtbase_pt"),
}

#: The Qt translators installed now (kept referenced: Qt does not own them).
_installed: list[QTranslator] = []


def qt_translations_dir() -> Path:
    """Where PySide6 keeps Qt's ``.qm`` catalogues (the packaged app's copy when frozen)."""
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


def install_qt_translations(
    lang: str | None = None, app: QCoreApplication | None = None
) -> list[str]:
    """Load Qt's own translations for ``lang`` (default: the current language) into ``app``
    (default: the running one), replacing any loaded before; returns the catalogues loaded
    (none for English, or when Qt ships none for the language)."""
    app = app or QCoreApplication.instance()
    if app is None:
        raise RuntimeError("install_qt_translations needs a QApplication")
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    folder = str(qt_translations_dir())
    for name in QT_CATALOGUES.get(lang or current_language(), ()):
        translator = QTranslator(app)
        if translator.load(name, folder):
            app.installTranslator(translator)
            _installed.append(translator)
            return [name]
    return []


def apply_language(code: str | None, app: QCoreApplication | None = None) -> str:
    """Use ``code`` (None: the system's language) for PoxScreen's text, Qt's dialogs and Qt's
    number and date widgets; returns the language chosen (``"en"``, ``"fr"`` or ``"pt"``)."""
    lang = set_language(code)
    QLocale.setDefault(QLocale({"en": "en_GB", "fr": "fr_FR", "pt": "pt_BR"}.get(lang, "en_GB")))
    if (app or QCoreApplication.instance()) is not None:
        install_qt_translations(lang, app)
    return lang
