"""The desktop's language seam: PoxScreen's text and Qt's own dialogs follow apply_language."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtWidgets import QApplication

from desktop.services import i18n


def test_translation_qt_dialogs_follow_the_language(qapp: QApplication) -> None:
    assert (i18n.qt_translations_dir() / "qtbase_fr.qm").is_file()
    assert i18n.apply_language("fr", qapp) == "fr"
    try:
        assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Annuler"
        assert i18n._("Measles") == "Rougeole" and i18n.format_number(0.85, 2) == "0,85"
        assert QLocale().toString(1.5, "f", 1) == "1,5"  # Qt's spin boxes write numbers alike
        assert i18n.install_qt_translations("pt", qapp) == ["qtbase_pt_BR"]
        assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancelar"
    finally:
        assert i18n.apply_language("en", qapp) == "en"
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"
    assert i18n._("Measles") == "Measles" and QLocale().toString(1.5, "f", 1) == "1.5"
