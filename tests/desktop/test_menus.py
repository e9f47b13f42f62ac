"""install_part2: the main window's part-2 entries are enabled and open the dialogs; closing the
window while a fine-tune runs asks first (cancel keeps the window open, stop stops the run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desktop.fixtures_models import part2_env  # noqa: F401 (fixture)

pytest.importorskip("pytestqt")


def _window(qtbot: Any, tmp: Path, with_actions: bool) -> Any:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMainWindow

    from engine.store import Store

    window = QMainWindow()
    window.store = Store.open(tmp / "case.db")
    if with_actions:  # what the desktop stream's main window leaves for part 2
        window.part2 = {
            t: QAction(t, window, enabled=False)
            for t in ("Fine-tune...", "Models...", "Export", "Print report...")
        }
    qtbot.addWidget(window)
    window.show()
    return window


def test_entries_enabled_and_dialogs_open(qtbot: Any, part2_env: Path) -> None:  # noqa: F811
    from desktop.part2 import install_part2

    window = _window(qtbot, part2_env, with_actions=True)
    part2 = install_part2(window)
    assert all(a.isEnabled() for a in window.part2.values())
    window.part2["Models..."].trigger()
    assert part2.models_dialog is not None and part2.models_dialog.isVisible()
    window.part2["Export"].trigger()
    assert part2.export_dialog.isVisible() and not part2.export_dialog.run_choice.isEnabled()
    window.part2["Fine-tune..."].trigger()
    assert part2.finetune_dialog.isVisible()
    qtbot.waitUntil(lambda: part2.finetune_dialog.plan is not None, timeout=20_000)
    window.store.close()


def test_without_entries_a_menu_is_added(qtbot: Any, part2_env: Path) -> None:  # noqa: F811
    from desktop.part2 import install_part2

    window = _window(qtbot, part2_env, with_actions=False)
    install_part2(window)
    titles = [a.text() for m in window.menuBar().actions() for a in m.menu().actions()]
    assert titles == ["Fine-tune...", "Models...", "Export", "Print report..."]
    window.store.close()


class _RunningDialog:
    """A fine-tune dialog whose run is going; records what the close asked of it."""

    def __init__(self, choice: str) -> None:
        self.choice, self.stopped = choice, False
        self.is_running = True
        self.proc = self

    def ask_close(self) -> str:
        return self.choice

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("choice", ["cancel", "stop", "background"])
def test_closing_while_training_asks(qtbot: Any, part2_env: Path, choice: str) -> None:  # noqa: F811
    from desktop.part2 import install_part2

    window = _window(qtbot, part2_env, with_actions=True)
    part2 = install_part2(window)
    part2.finetune_dialog = _RunningDialog(choice)
    window.close()
    assert window.isVisible() == (choice == "cancel")
    assert part2.finetune_dialog.stopped == (choice == "stop")
    window.store.close()


def test_part2_never_imports_the_trainer() -> None:
    """The GUI reaches the trainer only through a child process."""
    import subprocess
    import sys

    code = (
        "import sys, desktop.part2, desktop.training.finetune_dialog, desktop.training.compare_view, "
        "desktop.versions.models_dialog, desktop.reports.export_dialog, engine.report, engine.cases\n"
        "bad = sorted(m for m in sys.modules if m == 'trainer' or m.startswith('trainer.'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_main_window_wires_part2(qtbot: Any, make_window: Any) -> None:
    """The real main window: the part-2 entries are live and open the dialogs."""
    window = make_window()
    part2 = window.part2_dialogs
    assert all(a.isEnabled() for a in window.part2.values())
    window.part2["Models..."].trigger()
    assert part2.models_dialog.isVisible()
    window.part2["Print report..."].trigger()
    assert part2.export_dialog.isVisible()
    assert part2.export_dialog.flt is not None  # the gallery's filter is offered
    window.part2["Fine-tune..."].trigger()
    qtbot.waitUntil(lambda: part2.finetune_dialog.plan is not None, timeout=20_000)


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
