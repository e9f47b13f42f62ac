"""The fine-tune dialog's recipe: defaults and choices are the engine's RECIPE (the trainer's
command line offers the same), and every setting reaches the trainer's arguments."""

from __future__ import annotations

from typing import Any

from desktop.services import training
from desktop.training.recipe_form import RecipeForm
from engine.recipe import BALANCING, MONITORS, RECIPE, SCHEDULES


def _choices(combo: Any) -> tuple[str, ...]:
    return tuple(combo.itemText(i) for i in range(combo.count()))


def test_defaults_and_choices_come_from_the_recipe(qtbot: Any) -> None:
    form = RecipeForm()
    qtbot.addWidget(form)
    values = form.values()
    for key in ("epochs", "batch_size", "lr", "patience", "seed", "freeze", "val_fraction"):
        assert values[key] == getattr(RECIPE, key), key
    assert (values["schedule"], values["balance"], values["monitor"]) == (
        RECIPE.schedule, RECIPE.balance, RECIPE.monitor,
    )  # fmt: skip
    assert _choices(form.schedule) == SCHEDULES
    assert _choices(form.balance) == BALANCING
    assert _choices(form.monitor) == MONITORS


def test_every_setting_reaches_the_trainer(qtbot: Any) -> None:
    form = RecipeForm()
    qtbot.addWidget(form)
    form.monitor.setCurrentText("accuracy")
    args = training.training_args(form.values(), [], use_store=True)
    assert args[0] == "--from-store"
    pairs = dict(zip(args[1::2], args[2::2], strict=False))
    assert pairs["--epochs"] == str(RECIPE.epochs) and pairs["--lr"] == str(RECIPE.lr)
    assert pairs["--monitor"] == "accuracy" and pairs["--balance"] == RECIPE.balance
    assert pairs["--decision"] == "auto"  # cross-fitting on every label unless the gate is chosen
    form.decision.setCurrentIndex(form.decision.findData("gate"))
    gate = training.training_args(form.values(), [], use_store=True)
    assert dict(zip(gate[1::2], gate[2::2], strict=False))["--decision"] == "gate"


def test_lab_confirmed_only_reaches_the_trainer_only_with_the_store() -> None:
    assert "--lab-confirmed-only" in training.training_args({}, [], True, lab_only=True)
    assert "--lab-confirmed-only" not in training.training_args({}, [], True)
    assert "--lab-confirmed-only" not in training.training_args({}, [], False, lab_only=True)
