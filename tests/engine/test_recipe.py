"""The recipe's defaults are valid choices (the trainer and the dialog both start from them)."""

from engine.recipe import BALANCING, BN_MODES, MONITORS, RECIPE, SCHEDULES


def test_defaults_are_among_the_choices():
    assert RECIPE.monitor in MONITORS
    assert RECIPE.balance in BALANCING
    assert RECIPE.schedule in SCHEDULES
    assert RECIPE.bn in BN_MODES
    assert RECIPE.epochs >= 1 and RECIPE.lr > 0 and 0 <= RECIPE.freeze <= 1
    assert 0 < RECIPE.val_fraction + RECIPE.gate_fraction < 1
