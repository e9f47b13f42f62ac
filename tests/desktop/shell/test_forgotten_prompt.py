"""Screening a folder again keeps its forgotten photos out, unless the clinician says Yes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.services import store as ea
from desktop.shell.forgotten_prompt import readd_question
from tests.desktop.conftest import wait_screening
from tests.engine.store.conftest import sha_of


def test_screening_again_asks_before_adding_a_forgotten_photo(
    screened_window: Any, photos: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = screened_window
    photo = sorted(p for p in photos.iterdir() if p.suffix == ".png")[0]
    sha = sha_of(photo)
    ea.forget_case(w.store, sha)
    asked: list[str] = []
    reply = [QMessageBox.StandardButton.No]

    def question(_parent: Any, _title: str, text: str, *_a: Any) -> Any:
        asked.append(text)
        return reply[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    w.screen_folder(str(photos))
    wait_screening(qtbot, w)
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    assert "1 photo in this folder had been forgotten" in asked[0]
    assert not w.screening.running
    assert w.store.image(sha).path is None and sha in w.store.forgotten_hashes()

    reply[0] = QMessageBox.StandardButton.Yes
    w.screen_folder(str(photos))
    wait_screening(qtbot, w)  # the first run, then the one that adds it again
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=10_000)
    qtbot.waitUntil(lambda: not w.screening.running, timeout=120_000)
    assert w.store.image(sha).path == str(photo.resolve())
    assert sha not in w.store.forgotten_hashes()


def test_the_question_counts_photos() -> None:
    assert readd_question(3).startswith("3 photos in this folder")
