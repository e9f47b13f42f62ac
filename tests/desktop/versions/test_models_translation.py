"""The models view and the model card in French: no English msgid whose French differs, no
English words left, and the buttons are not cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.desktop.dialog_translation_support import english_left, french, visible_texts
from tests.desktop.models_support import screenshot
from tests.desktop.versions.test_models_dialog import _open, _store_with_lineage


def test_translation_models_view_and_card_speak_french(
    qtbot: Any, store_env: Path, active_for: Any
) -> None:
    store, _parent, _child = _store_with_lineage(store_env)
    with french():
        dialog = _open(qtbot, active_for(store))
        qtbot.waitUntil(lambda: dialog.history.text() != "", timeout=20_000)
        texts = visible_texts(dialog)
        assert "Modèles" in texts and "Revenir au modèle précédent" in texts
        assert any(t.startswith("\u25cf actif") for t in (
            dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())
        ))  # fmt: skip
        assert english_left(texts) == []
        assert dialog.minimumSizeHint().width() <= 1366, dialog.minimumSizeHint()  # a 1366 screen
        dialog.resize(1100, 700)
        qtbot.wait(50)
        for button in dialog.buttons.values():
            assert button.width() >= button.sizeHint().width(), button.text()
        screenshot(dialog, "models_view_fr")
        dialog.table.selectRow(0)
        dialog.show_card()
        card = dialog.card
        qtbot.addWidget(card)
        from PySide6.QtWidgets import QTextBrowser

        text = card.findChild(QTextBrowser).toPlainText()
        assert "Créé le" in text and "Aide au tri, pas un diagnostic." in text
        words = visible_texts(card) + text.splitlines()
        assert english_left(words) == []
    store.close()
