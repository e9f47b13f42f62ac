"""The trainer's defaults are the recipe's: ``train`` with no options, TrainOptions() and
FitConfig() all describe the same run (engine.recipe, which the fine-tune dialog reads too)."""

from __future__ import annotations

from engine.recipe import RECIPE
from trainer.cli import build_parser, train_options
from trainer.fit import FitConfig
from trainer.train import TrainOptions


def test_the_command_line_defaults_are_the_train_options_defaults() -> None:
    args = build_parser().parse_args(["train"])
    assert train_options(args) == TrainOptions()


def test_the_train_options_defaults_are_the_recipe() -> None:
    opts, fit = TrainOptions(), FitConfig()
    assert (fit.epochs, fit.batch_size, fit.lr, fit.patience) == (
        RECIPE.epochs,
        RECIPE.batch_size,
        RECIPE.lr,
        RECIPE.patience,
    )
    assert (fit.monitor, fit.balance, fit.schedule, fit.weight_decay, fit.seed) == (
        RECIPE.monitor,
        RECIPE.balance,
        RECIPE.schedule,
        RECIPE.weight_decay,
        RECIPE.seed,
    )
    assert (opts.freeze, opts.bn, opts.val_fraction, opts.gate_fraction) == (
        RECIPE.freeze,
        RECIPE.bn,
        RECIPE.val_fraction,
        RECIPE.gate_fraction,
    )
    assert (opts.min_delta, opts.promote_metric, opts.hash_threshold) == (
        RECIPE.min_delta,
        RECIPE.promote_metric,
        RECIPE.hash_threshold,
    )


def test_the_rule_s_settings_reach_the_train_options_from_the_command_line() -> None:
    from engine.recipe import DECISION

    assert (DECISION.outcome, DECISION.keep_mpox) == ("brier", True)
    args = build_parser().parse_args(
        ["train", "--outcome", "accuracy", "--no-mpox-offset", "--level", "0.9"]
    )
    rule = train_options(args).rule
    assert (rule.outcome, rule.keep_mpox, rule.level) == ("accuracy", False, 0.9)
