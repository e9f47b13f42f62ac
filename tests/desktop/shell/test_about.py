"""Help > About shows the app's version, the model version in use and the data credits."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from PySide6.QtWidgets import QMessageBox


def test_about_names_app_version_model_version_and_credits(
    make_window: Any, qtbot: Any, monkeypatch: Any
) -> None:
    w = make_window()
    w.active.load()
    qtbot.waitUntil(lambda: w.active.handle is not None, timeout=60_000)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", lambda _parent, _title, text: shown.append(text))
    w.menus.act_about.trigger()
    [text] = shown
    assert f"PoxScreen {metadata.version('poxscreen')}" in text
    assert f"Model in use: {w.active.handle.version}" in text
    assert "MSID" in text and "Bala" in text and "CC BY 4.0" in text


def test_about_before_the_model_has_loaded_says_so(monkeypatch: Any) -> None:
    from desktop import dialogs

    def missing(_name: str) -> str:
        raise metadata.PackageNotFoundError("poxscreen")

    monkeypatch.setattr(dialogs.metadata, "version", missing)
    text = dialogs.about_text(None)
    assert "PoxScreen dev<br>Model in use: not loaded yet" in text
