"""The fine-tune dialog fits a 1366x768 screen (the data and recipe scroll, Advanced folded)
and keeps the recipe chosen last time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect

from tests.desktop.models_support import labelled_store

SMALL = QRect(0, 0, 1366, 728)  # a 1366x768 screen less its taskbar


def _dialog(qtbot: Any, store: Any, tmp: Path, settings: Any = None) -> Any:
    from PySide6.QtCore import QThreadPool

    from desktop.services.active_model import ActiveModel
    from desktop.training.finetune_dialog import FinetuneDialog

    active = ActiveModel(store, "cpu", QThreadPool.globalInstance())
    dialog = FinetuneDialog(active, run_root=tmp / "runs", app_settings=settings)
    qtbot.addWidget(dialog)
    return dialog


def test_the_dialog_fits_a_1366x768_screen_with_advanced_open_or_not(
    qtbot: Any, store_env: Path, monkeypatch: Any
) -> None:
    from PySide6.QtGui import QScreen

    from desktop.training import finetune_dialog

    monkeypatch.setattr(QScreen, "availableGeometry", lambda _self: SMALL)
    ls = labelled_store(store_env, {"Blue": 3, "Green": 12})
    dialog = _dialog(qtbot, ls.store, store_env)
    assert finetune_dialog.fitting_height(dialog) <= 700
    dialog.resize(1100, finetune_dialog.fitting_height(dialog))
    dialog.show()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=20_000)
    assert dialog.height() <= 700
    assert dialog.minimumSizeHint().height() <= 700
    assert dialog.sizeHint().height() <= 700
    assert dialog.curves.height() >= 150  # the curves keep room to be read
    assert dialog.start_button.isVisible()
    assert dialog.top_area.height() >= 200  # the data are not squashed
    assert dialog.top_area.geometry().bottom() < dialog.recipe.geometry().top()  # no overlap
    assert dialog.recipe.geometry().bottom() < dialog.progress.geometry().top()
    assert dialog.progress.geometry().bottom() < dialog.start_button.geometry().top()
    dialog.recipe.advanced_toggle.setChecked(True)
    qtbot.wait(50)
    assert dialog.height() <= 700 and dialog.minimumSizeHint().height() <= 700
    # Advanced's last row is reached by scrolling, not clipped
    dialog.top_area.ensureWidgetVisible(dialog.recipe.decision)
    qtbot.wait(50)
    assert dialog.recipe.decision.visibleRegion().boundingRect().height() >= (
        dialog.recipe.decision.height() - 1
    )
    dialog.grab().save(str(Path(os.environ.get("POXSCREEN_SHOT_DIR", "/tmp"))
                           / "state-polish-finetune-advanced.png"))  # fmt: skip
    dialog.top_area.verticalScrollBar().setValue(0)
    dialog.recipe.advanced_toggle.setChecked(False)
    qtbot.wait(50)
    out = os.environ.get("POXSCREEN_SHOT_DIR", "/tmp")
    dialog.grab().save(str(Path(out) / "state-polish-finetune-1366x768.png"))


def test_the_recipe_chosen_last_time_comes_back(qtbot: Any, store_env: Path) -> None:
    from desktop.settings import Settings
    from engine.recipe import RECIPE

    ls = labelled_store(store_env, {"Blue": 3, "Green": 12})
    settings = Settings(store_env / "settings.ini")
    first = _dialog(qtbot, ls.store, store_env, settings)
    assert first.recipe.values()["epochs"] == RECIPE.epochs
    first.recipe.epochs.setValue(7)
    first.recipe.lr.setValue(0.0005)
    first.recipe.monitor.setCurrentText("accuracy")
    first.recipe.decision.setCurrentIndex(first.recipe.decision.findData("gate"))
    chosen = first.recipe.values()
    settings.recipe = chosen  # what Start keeps
    again = _dialog(qtbot, ls.store, store_env, Settings(store_env / "settings.ini"))
    assert again.recipe.values() == chosen
    assert again.recipe.values()["epochs"] == 7


def test_start_keeps_the_recipe(qtbot: Any, store_env: Path, monkeypatch: Any) -> None:
    from desktop.services import training as backend
    from desktop.settings import Settings

    ls = labelled_store(store_env, {"Blue": 3, "Green": 12})
    settings = Settings(store_env / "settings.ini")
    dialog = _dialog(qtbot, ls.store, store_env, settings)
    started: list[Any] = []
    monkeypatch.setattr(backend, "start_training", lambda *a, **kw: started.append(a))
    monkeypatch.setattr(dialog, "_begin_watching", lambda _text: None)
    dialog.recipe.epochs.setValue(3)
    dialog.start()
    assert started and Settings(store_env / "settings.ini").recipe["epochs"] == 3
