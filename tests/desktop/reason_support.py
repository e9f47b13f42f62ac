"""Answering the reason question (desktop.shell.confirm.ReasonDialog) in tests: a modal dialog
left unanswered would hang an offscreen test, so every test that reaches one answers it here."""

from __future__ import annotations

from typing import Any

import pytest


class Reasons:
    """Every reason question asked: (title, text, default button, action enabled before typing).
    Answers with the default button (Enter), or types ``reason`` and clicks the action."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, reason: str | None = None) -> None:
        from desktop.shell.confirm import ReasonDialog

        self.asked: list[tuple[str, str, str, bool]] = []
        self.dialogs: list[Any] = []
        self.reason = reason

        def fake_exec(dialog: ReasonDialog) -> int:
            default = next(b for b in (dialog.cancel, dialog.action) if b.isDefault())
            enabled = dialog.action.isEnabled()
            self.asked.append((dialog.windowTitle(), dialog.text.text(), default.text(), enabled))
            self.dialogs.append(dialog)
            if self.reason is None:
                default.click()
            else:
                dialog.reason.setPlainText(self.reason)
                dialog.action.click()
            return int(dialog.result())

        monkeypatch.setattr(ReasonDialog, "exec", fake_exec)
