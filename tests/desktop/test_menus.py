"""The main window's menus and dialogs: every entry enabled from the start and opening its
dialog; closing the window while a fine-tune runs asks first (cancel keeps the window open, stop
stops the run); the GUI never imports the trainer."""

from __future__ import annotations

from typing import Any

import pytest


def test_entries_enabled_from_the_start_and_dialogs_open(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    menus, dialogs = window.menus, window.dialogs
    entries = (menus.act_finetune, menus.act_models, menus.act_export, menus.act_report)
    assert all(a.isEnabled() and a.toolTip() for a in entries)
    menus.act_models.trigger()
    assert dialogs.models_dialog is not None and dialogs.models_dialog.isVisible()
    menus.act_report.trigger()
    assert dialogs.export_dialog is not None and dialogs.export_dialog.isVisible()
    assert dialogs.export_dialog.flt is not None  # the gallery's filter is offered
    assert not dialogs.export_dialog.run_choice.isEnabled()  # no run selected
    menus.act_finetune.trigger()
    assert dialogs.finetune_dialog is not None and dialogs.finetune_dialog.isVisible()
    qtbot.waitUntil(lambda: dialogs.finetune_dialog.plan is not None, timeout=20_000)


def test_menu_order(make_window: Any) -> None:
    window = make_window()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&Screen", "&Review", "&Case", "&Models", "&View", "&Help"]
    models = [a.text() for a in window.menus.models_menu.actions()]
    assert models == ["Fine-tune...", "Models..."]


class _RunningDialog:
    """A fine-tune dialog whose run is going; records what the close asked of it."""

    def __init__(self, choice: str) -> None:
        self.choice, self.stopped = choice, False
        self.is_running = True

    def ask_close(self) -> str:
        return self.choice

    def stop_now(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("choice", ["cancel", "stop", "background"])
def test_closing_while_training_asks(make_window: Any, choice: str) -> None:
    window = make_window()
    running = _RunningDialog(choice)
    window.dialogs.finetune_dialog = running  # type: ignore[assignment]
    window.close()
    assert window.isVisible() == (choice == "cancel")
    assert running.stopped == (choice == "stop")
    if choice == "cancel":
        window.dialogs.finetune_dialog = None
        window.close()


def test_the_gui_never_imports_the_trainer() -> None:
    """The GUI reaches the trainer only through a child process."""
    import subprocess
    import sys

    code = (
        "import sys, desktop.main_window, desktop.dialogs, desktop.training.finetune_dialog, "
        "desktop.training.compare_view, desktop.versions.models_dialog, "
        "desktop.reports.export_dialog\n"
        "bad = sorted(m for m in sys.modules if m == 'trainer' or m.startswith('trainer.'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_answer_for_a_deleted_dialog_is_dropped(qtbot: Any) -> None:
    """A worker finishing after its dialog was closed must not touch the deleted widgets."""
    import threading

    import shiboken6
    from PySide6.QtWidgets import QLabel

    from desktop.services.tasks import run_in_pool

    class Dialog(QLabel):
        def failed(self, exc: BaseException) -> None:
            self.setText(str(exc))

    dialog, release = Dialog(), threading.Event()
    run_in_pool(lambda: release.wait(10) and "answer", lambda r: dialog.setText(r), dialog.failed)
    shiboken6.delete(dialog)  # the user closed it while the query ran
    release.set()
    qtbot.wait(500)  # the answer arrives: pytest-qt fails the test on any exception in a slot
    assert not shiboken6.isValid(dialog)
