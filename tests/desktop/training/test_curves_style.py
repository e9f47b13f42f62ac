"""Each training curve differs by marker and line style as well as colour: a one-epoch run
draws one dot per curve, and those dots must be told apart without colour."""

from __future__ import annotations

from typing import Any

from desktop.training.curves import TrainingCurves

EPOCH = {"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.6, "val_macro_f1": 0.55}


def test_a_one_epoch_run_draws_four_dots_with_four_markers(qtbot: Any) -> None:
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(900, 260)
    curves.add_epoch(EPOCH)
    items = curves._curves
    assert all(len(item.getData()[0]) == 1 for item in items.values())
    symbols = [item.opts["symbol"] for item in items.values()]
    assert len(set(symbols)) == 4, symbols
    for first, second in (("train_loss", "val_loss"), ("val_accuracy", "val_macro_f1")):
        a, b = items[first].opts["pen"], items[second].opts["pen"]
        assert a.style() != b.style(), (first, second)  # the lines differ in one plot
    for item in items.values():  # each dot is filled with its line's colour
        assert item.opts["symbolBrush"].color() == item.opts["pen"].color()
    curves.show()
    qtbot.wait(50)
    curves.grab().save("/tmp/state-polish-curves-one-epoch.png")
