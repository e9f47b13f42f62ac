"""The first-start name prompt: asked once, kept in the settings, shown in the status bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop.settings import Settings
from desktop.shell.name_prompt import NamePrompt

SHOTS = Path("/tmp/shots-audit")


def test_prompt_needs_a_name_and_keeps_both_names(qtbot: Any, tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    prompt = NamePrompt(settings)
    qtbot.addWidget(prompt)
    prompt.show()
    assert not prompt.ok.isEnabled()
    prompt.accept()  # a blank name is never accepted
    assert prompt.result() == 0 and prompt.isVisible()
    qtbot.keyClicks(prompt.clinician, "  Dr A. Mensah ")
    qtbot.keyClicks(prompt.clinic, "Kumasi North")
    assert prompt.ok.isEnabled()
    if SHOTS.parent.is_dir():
        SHOTS.mkdir(exist_ok=True)
        prompt.grab().save(str(SHOTS / "name_prompt.png"))
    qtbot.mouseClick(prompt.ok, Qt.MouseButton.LeftButton)
    assert prompt.result() == NamePrompt.DialogCode.Accepted
    again = Settings(tmp_path / "s.ini")
    assert (again.clinician, again.clinic) == ("Dr A. Mensah", "Kumasi North")


def test_first_start_asks_and_quitting_opens_nothing(
    desk_env: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.app import build_window

    monkeypatch.delenv("POXSCREEN_USER")
    asked: list[Settings] = []
    args = ["--db", str(desk_env / "case.db"), "--settings", str(desk_env / "s.ini")]
    window, _ = build_window(args, ask_who=lambda s: asked.append(s) or False)
    assert window is None and len(asked) == 1
    assert not (desk_env / "case.db").exists()


def test_first_start_answer_reaches_the_status_bar_and_is_not_asked_again(
    make_window: Any, desk_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POXSCREEN_USER")
    args = ["--db", str(desk_env / "case.db"), "--settings", str(desk_env / "s.ini")]

    def answer(s: Settings) -> bool:
        s.clinician, s.clinic = "Dr B. Osei", "Tamale Clinic"
        return True

    w = make_window(args, ask_who=answer)
    assert w.status.who_label.text() == "Dr B. Osei · Tamale Clinic"
    assert w.settings.clinician == "Dr B. Osei"

    def never(_s: Settings) -> bool:
        raise AssertionError("asked again")

    w2 = make_window(args, ask_who=never)
    w2.settings.clinic = ""
    w2.settings.clinician = "Dr C. Adu"
    w2.dialogs.apply_settings({"clinician", "clinic"}, (0.5, 0.5))
    assert w2.status.who_label.text() == "Dr C. Adu"
    (event,) = w2.store.events(kinds=["settings"])  # the change is in the audit trail
    assert event.who == "Dr C. Adu" and event.details == {"clinician": "Dr C. Adu", "clinic": ""}
