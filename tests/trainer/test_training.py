"""Training runs end to end: learning, outputs, progress lines, determinism, clean stop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.checkpoint import load_model, read_meta
from tests.trainer.conftest import RecordingReporter, TrainedRun, quick_options
from tests.trainer.synth import make_folder
from trainer.cli import main as trainer_main
from trainer.progress import StopControl, StoppedEarly
from trainer.train import run_training


def test_short_run_learns_far_better_than_chance(trained_run: TrainedRun) -> None:
    report = trained_run.report
    val = report["splits"]["val"]["metrics"]
    assert val["n"] >= 12
    assert val["accuracy"] >= 0.8  # chance is 1/3
    assert val["macro_f1"] >= 0.75
    assert report["status"] == "finished"
    assert len(report["history"]) == 3


def test_run_folder_holds_model_split_report_and_figures(trained_run: TrainedRun) -> None:
    run = Path(trained_run.report["run_dir"])
    for name in (
        "model.safetensors",
        "best.safetensors",
        "split.json",
        "report.json",
        "training_curves.png",
        "val_confusion_matrix.png",
        "val_roc.png",
        "val_pr.png",
        "val_reliability.png",
    ):
        assert (run / name).is_file(), name
        assert (run / name).stat().st_size > 0
    model, meta = load_model(run / "model.safetensors")
    assert meta.trained and meta.classes == ["Blue", "Green", "Red"]
    assert meta.parent == trained_run.untrained_hash
    assert meta.temperature == trained_run.report["temperature"] > 0
    assert meta.input_size == 64 and meta.padding == "tf"
    assert (
        meta.metrics["val"]["accuracy"]
        == trained_run.report["splits"]["val"]["metrics"]["accuracy"]
    )
    split = json.loads((run / "split.json").read_text())
    val_shas = {row["sha256"] for row in split["splits"]["val"]}
    scored = {row["sha256"] for row in trained_run.report["splits"]["val"]["images"]}
    assert val_shas == scored  # the recorded validation split is what was scored
    train_shas = {row["sha256"] for row in split["splits"]["train"]}
    assert not (train_shas & val_shas)


def test_progress_lines_tell_the_whole_story(trained_run: TrainedRun) -> None:
    events = trained_run.events
    kinds = [e["event"] for e in events]
    assert kinds.index("start") < kinds.index("step") < kinds.index("epoch") < kinds.index("done")
    start = next(e for e in events if e["event"] == "start")
    assert start["n_train"] + start["n_val"] + start["n_gate"] == 90 and start["steps"] >= 2
    assert start["n_gate"] >= 30
    steps = [e for e in events if e["event"] == "step"]
    assert all({"epoch", "step", "steps", "loss", "eta_s"} <= set(e) for e in steps)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert all(e["val_accuracy"] is not None and e["eta_s"] >= 0 for e in epochs)
    done = events[-1]
    assert done["event"] == "done" and done["registered"] is True
    assert done["status"] == "finished"


def test_same_seed_gives_the_same_model_and_metrics(
    trained_run: TrainedRun,
    tmp_path: Path,
) -> None:
    again = run_training(
        quick_options(trained_run.data, tmp_path / "again", gate_fraction=0.4), RecordingReporter()
    )
    assert again["content_hash"] == trained_run.report["content_hash"]
    assert again["history"] == _without_times(trained_run.report["history"], again["history"])
    assert again["splits"]["val"]["metrics"] == trained_run.report["splits"]["val"]["metrics"]


def _without_times(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``a`` with the wall-clock fields taken from ``b`` (they differ run to run)."""
    timing = ("elapsed_s", "eta_s", "eta_patience_s")
    return [{**x, **{k: y[k] for k in timing}} for x, y in zip(a, b, strict=True)]


class _StopInEpoch(RecordingReporter):
    """Drops the STOP file at the first step of epoch 2: a stop in the middle of an epoch."""

    def __init__(self, stop_file: Path) -> None:
        super().__init__()
        self.stop_file = stop_file

    def emit(self, event: str, **fields: Any) -> None:
        super().emit(event, **fields)
        if event == "step" and fields["epoch"] == 2:
            self.stop_file.touch()


def test_stop_mid_epoch_keeps_the_best_checkpoint(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", per_class=10)
    run = tmp_path / "run"
    reporter = _StopInEpoch(run / "STOP")
    report = run_training(
        quick_options(data, run, epochs=20, freeze=1.0), reporter, StopControl(run / "STOP")
    )
    assert report["status"] == "stopped" and report["stop_reason"] == "stop file"
    assert len(report["history"]) == 1 and report["best_epoch"] == 1
    epoch2_steps = [e for e in reporter.events() if e["event"] == "step" and e["epoch"] == 2]
    assert len(epoch2_steps) == 1  # stopped after the step in flight
    best, final = read_meta(run / "best.safetensors"), read_meta(run / "model.safetensors")
    assert final.weights_hash == best.weights_hash  # the final model is the best checkpoint
    assert final.content_hash != best.content_hash  # ... calibrated: another identity
    assert final.training["status"] == "stopped"


def test_evaluate_command_writes_report_and_plots(
    trained_run: TrainedRun, tmp_path: Path, capsys: Any
) -> None:
    fresh = make_folder(tmp_path / "fresh", per_class=6, seed=11)
    out = tmp_path / "eval"
    model = Path(trained_run.report["model"])
    assert (
        trainer_main(["evaluate", str(model), str(fresh), "--out", str(out), "--device", "cpu"])
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["n"] == 18
    assert report["metrics"]["accuracy"] >= 0.7
    assert report["model"]["content_hash"] == trained_run.report["content_hash"]
    for name in report["figures"]:
        assert (out / name).stat().st_size > 1000
    assert {"eval_confusion_matrix.png", "eval_roc.png", "eval_pr.png"} <= set(report["figures"])
    assert "macro-F1" in capsys.readouterr().out


def test_evaluate_one_part_of_a_recorded_split(trained_run: TrainedRun, tmp_path: Path) -> None:
    run = Path(trained_run.report["run_dir"])
    out = tmp_path / "eval"
    assert (
        trainer_main(
            [
                "evaluate",
                str(run / "model.safetensors"),
                str(trained_run.data),
                "--split",
                str(run / "split.json"),
                "--subset",
                "val",
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert report["split"]["found"] == report["split"]["recorded"] == report["metrics"]["n"]
    assert (
        report["metrics"]["accuracy"] == trained_run.report["splits"]["val"]["metrics"]["accuracy"]
    )


def test_evaluate_reports_a_bad_folder_as_one_line(
    tmp_path: Path, capsys: Any, trained_run: TrainedRun
) -> None:
    code = trainer_main(["evaluate", trained_run.report["model"], str(tmp_path / "nope")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_stop_before_training_keeps_nothing_and_stale_stop_files_are_ignored(
    tmp_path: Path,
) -> None:
    data = make_folder(tmp_path / "data", per_class=6)
    run = tmp_path / "run"
    stop = StopControl(None)
    stop.request("test")
    with pytest.raises(StoppedEarly, match="nothing was trained"):
        run_training(quick_options(data, run), RecordingReporter(), stop)
    assert not (run / "model.safetensors").exists()
    assert not (run / "best.safetensors").exists()
    (run / "STOP").touch()  # left over from that run: the next run in this folder must train
    report = run_training(quick_options(data, run, epochs=1, freeze=1.0), RecordingReporter())
    assert report["status"] == "finished"


def test_learning_rate_schedules() -> None:
    import torch

    from trainer.fit import FitConfig, make_scheduler

    def opt() -> torch.optim.Optimizer:
        return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)

    assert make_scheduler(opt(), FitConfig()) is None  # the recipe: constant
    o = opt()
    plateau = make_scheduler(o, FitConfig(schedule="plateau", patience=6))  # waits 2 epochs
    for score in (0.5, 0.5, 0.5):
        plateau.step(score)
    assert o.param_groups[0]["lr"] == pytest.approx(1e-3)
    plateau.step(0.5)
    assert o.param_groups[0]["lr"] == pytest.approx(5e-4)
    o = opt()
    cosine = make_scheduler(o, FitConfig(schedule="cosine", epochs=4))
    for _ in range(4):
        o.step()
        cosine.step()
    assert o.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="schedule"):
        FitConfig(schedule="wavy").validate()
