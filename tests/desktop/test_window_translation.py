"""The window in French: chosen in Settings it is rebuilt at once on the same case store, with
the same filter and photo; every menu, action, widget and dialog then reads French (no English
source string left, nothing shown alike in English and French that holds English words), and
``--lang fr`` starts the app in French."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6

from tests.desktop.translation_support import (
    accelerator_clashes,
    menu_texts,
    modal_texts,
    still_english,
    untranslated,
    widget_texts,
)


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    """Qt's translators and default locale back to English for the tests that follow."""
    yield
    from desktop.services.i18n import apply_language

    apply_language("en")


def window_texts(w: Any) -> list[str]:
    """Menus, widgets, and the gallery's painted tiles with their tooltips."""
    from PySide6.QtCore import Qt

    from desktop.gallery.tile_text import tile_text

    tiles = []
    for row in range(w.model.rowCount()):
        tiles += tile_text(w.model.item(row)).lines()
        tiles.append(w.model.data(w.model.index(row), Qt.ItemDataRole.ToolTipRole) or "")
    return menu_texts(w.menuBar()) + widget_texts(w) + [t for t in tiles if t]


def to_french(w: Any, qtbot: Any, request: pytest.FixtureRequest) -> Any:
    """Choose Français in the Settings dialog, as a clinician would; the rebuilt window (the
    old one is deleted: pytest-qt must not close it again)."""
    from desktop.shell.language_switch import latest_window
    from desktop.shell.settings_dialog import SettingsDialog

    dlg = SettingsDialog(w.settings, w.cases.current_rule, True, w)
    dlg.language.setCurrentIndex(dlg.language.findData("fr"))
    changed = dlg.apply()
    assert changed == {"language"}
    w.dialogs.apply_settings(changed, dlg.rule_values())
    new = latest_window()
    assert new is not None and new is not w
    node = request.node
    node.qt_widgets = [(ref, f) for ref, f in getattr(node, "qt_widgets", []) if ref() is not w]
    qtbot.addWidget(new)
    qtbot.waitUntil(lambda: new.model.rowCount() > 0, timeout=10_000)
    return new


def test_translation_settings_rebuild_keeps_store_filter_and_photo(
    filled: tuple[Any, dict[str, str]], qtbot: Any, request: pytest.FixtureRequest
) -> None:
    w, shas = filled
    store = w.store
    w.filters.set_show("to_review")
    w.filters.set_sort("name")
    qtbot.waitUntil(lambda: w.model.rowCount() > 2, timeout=10_000)
    w.gallery.select_row(2)
    photo = w.gallery.current_item().sha256
    assert photo in shas.values()
    fr = to_french(w, qtbot, request)
    assert fr.store is store  # the same open case store, not a reopened one
    assert fr.settings.language == "fr"
    query = fr.filters.query()
    assert (query.show, query.sort) == ("to_review", "name")
    qtbot.waitUntil(lambda: fr.gallery.current_item() is not None, timeout=10_000)
    assert fr.gallery.current_item().sha256 == photo
    assert fr.review.current_item() is not None and fr.review.current_item().sha256 == photo
    assert [a.text() for a in fr.menuBar().actions()][0] == "&Fichier"
    qtbot.waitUntil(lambda: not shiboken6.isValid(w), timeout=5000)  # the old one is gone


def test_translation_main_window_menus_and_widgets_are_french(
    filled: tuple[Any, dict[str, str]], qtbot: Any, request: pytest.FixtureRequest
) -> None:
    w, _shas = filled
    w.gallery.select_row(0)
    qtbot.waitUntil(lambda: w.review.current_item() is not None, timeout=10_000)
    english = window_texts(w)
    fr = to_french(w, qtbot, request)
    fr.gallery.select_row(0)
    qtbot.waitUntil(lambda: fr.review.current_item() is not None, timeout=10_000)
    fr.errors.add("/photos/scan-notes.jpg", "not an image")
    french = window_texts(fr)
    assert "Dépister un dossier…" in french and "Toutes les séries" in french
    assert untranslated(french) == [], "English source strings left"
    assert still_english(english, french) == [], "same text in English and French"


def _dialog_texts(fr: Any, which: str) -> list[str]:
    """Open one dialog reachable from the French window; its texts."""
    from desktop.dialogs import about_text
    from desktop.shell.db_open import ask_with_dialog
    from desktop.shell.help_dialog import ShortcutsDialog
    from desktop.shell.name_prompt import NamePrompt
    from desktop.shell.settings_dialog import SettingsDialog
    from desktop.shell.store_actions import forget_box

    d = fr.dialogs
    if which == "settings":
        return widget_texts(SettingsDialog(fr.settings, fr.cases.current_rule, False, fr))
    if which == "about":
        return [about_text("msid-v1")]
    if which == "shortcuts":
        return widget_texts(ShortcutsDialog(fr.menus.all_actions(), fr))
    if which == "name":
        return widget_texts(NamePrompt(fr.settings, fr))
    if which == "forget":
        return widget_texts(forget_box(fr, "alpha.png")[0])
    if which == "store_open":
        return modal_texts(lambda: ask_with_dialog("locked", "/tmp/case.db", "busy", fr))
    if which == "restore":
        return modal_texts(lambda: fr.menus.restore.restore(folder="/backups/2026-03-12"))
    if which == "care":
        from desktop.services.store import BackupView, Restored
        from desktop.shell.restore_action import restored_text
        from desktop.shell.store_actions import backup_text, problems_text

        return [
            backup_text(BackupView("/backups/b1", 2, 3 * 2**20), "/data/case.db"),
            problems_text(["page 3 is never used"] * 12, "/data/case.db"),
            restored_text(Restored("/data/case.db", "/data/case.db.before-restore", 2)),
        ]
    opened = {
        "export": lambda: (d.export(), d.export_dialog),
        "report": lambda: (d.export(report=True), d.export_dialog),
        "finetune": lambda: (d.finetune(), d.finetune_dialog),
        "models": lambda: (d.models(), d.models_dialog),
        "audit": lambda: (d.audit(), d.audit_dialog),
        "visits": lambda: (None, fr.visit_actions.show_view()),
    }[which]()[1]
    texts = widget_texts(opened)
    opened.close()
    return texts


#: Dialogs of the desktop's shell (this branch) and of the training, versions, reports, audit
#: and visits folders (translated on their own branch).
DIALOGS = [
    "settings", "about", "shortcuts", "name", "forget", "store_open", "restore", "care",
    "export", "report", "finetune", "models", "audit", "visits",
]  # fmt: skip


@pytest.mark.parametrize("which", DIALOGS)
def test_translation_dialogs_from_the_menus_are_french(
    filled: tuple[Any, dict[str, str]], qtbot: Any, request: pytest.FixtureRequest, which: str
) -> None:
    w, _shas = filled
    english = _dialog_texts(w, which)
    fr = to_french(w, qtbot, request)
    french = _dialog_texts(fr, which)
    assert french, which
    assert untranslated(french) == [], f"{which}: English source strings left"
    assert still_english(english, french) == [], f"{which}: same text in English and French"


def test_translation_lang_option_starts_in_french(make_window: Any, desk_env: Path) -> None:
    from tests.desktop.conftest import window_args

    w = make_window([*window_args(desk_env), "--lang", "fr"])
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles[:3] == ["&Fichier", "&Dépistage", "&Relecture"]
    assert w.menus.act_screen.text() == "&Dépister un dossier…"
    assert w.menus.act_open_db.toolTip() == "Ouvrir une base de cas"  # no "…" in a tooltip
    assert w.filters.runs.item(0).text() == "Toutes les séries"
    assert w.settings.language == ""  # --lang is for this start; Settings keep their choice


@pytest.mark.parametrize(
    ("lang", "titles"),
    [
        ("fr", ["&Fichier", "&Dépistage", "&Relecture", "&Cas", "&Modèles", "&Affichage", "Aid&e"]),
        ("pt", ["&Arquivo", "&Triagem", "&Revisão", "&Caso", "&Modelos", "&Exibir", "Aj&uda"]),
    ],
)
def test_translation_menus_keep_one_key_per_entry(
    make_window: Any, desk_env: Path, lang: str, titles: list[str]
) -> None:
    """Translated menus keep every ``&`` key unique in each menu (and in the menu bar)."""
    from tests.desktop.conftest import window_args

    w = make_window([*window_args(desk_env), "--lang", lang])
    assert [a.text() for a in w.menuBar().actions()] == titles
    assert accelerator_clashes(w.menuBar()) == []
