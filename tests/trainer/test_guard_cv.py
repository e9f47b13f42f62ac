"""The trainer's out-of-scope guard fitted by every run, the new recipe options, and the
resumable grouped cross-validation driver."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoint import load_model_and_guard
from engine.paths import resources_dir
from tests.trainer.conftest import RecordingReporter, TrainedRun, quick_options
from trainer.cv import RECIPES, fold_splits, summarise
from trainer.fit import FitConfig, make_scheduler
from trainer.guard import GuardError, extract_features, fit_guard, guard_threshold
from trainer.promote import MIN_GATE_IMAGES
from trainer.splits import Split
from trainer.thresholds import choose_rule
from trainer.train import run_training


def _features(rng: np.random.Generator, means: np.ndarray, n: int) -> tuple[np.ndarray, list[int]]:
    labels = rng.integers(0, len(means), n)
    x = means[labels] + rng.normal(0, 0.1, (n, means.shape[1]))
    return np.square(np.clip(x, 0, None)), labels.tolist()  # the guard takes sqrt of features


def test_fit_guard_passes_its_own_kind_and_flags_other_pictures() -> None:
    rng = np.random.default_rng(0)
    means = rng.uniform(0.5, 1.5, (3, 64))
    x_train, y_train = _features(rng, means, 300)
    x_val, _ = _features(rng, means, 100)
    guard, info = fit_guard(x_train, y_train, x_val, components=16)
    assert info["val_flagged"] <= 0.05 and info["n_threshold"] == 100
    x_new, _ = _features(rng, means, 400)
    assert np.mean(guard.score(x_new) > 1) <= 0.10
    other = np.square(rng.uniform(0.0, 2.0, (100, 64)))  # not drawn from the classes at all
    assert np.mean(guard.score(other) > 1) >= 0.95


def test_too_few_validation_photos_means_no_guard() -> None:
    rng = np.random.default_rng(0)
    x, y = _features(rng, rng.uniform(0.5, 1.5, (2, 16)), 50)
    with pytest.raises(GuardError, match="validation photos"):
        fit_guard(x, y, x[:5])


def test_every_run_writes_a_guard_fitted_on_its_own_photos(trained_run: TrainedRun) -> None:
    model, meta, guard = load_model_and_guard(trained_run.report["model"])
    assert guard is not None
    assert meta.guard["threshold_from"] == "validation photos" and meta.guard["n_fit"] > 0
    split = Split.load(Path(trained_run.report["run_dir"]) / "split.json")
    from trainer.data import scan_image_folder

    samples, _ = scan_image_folder(trained_run.data)
    val = [s for s in samples if split.assignment.get(s.sha256) == "val"]
    feats, _ = extract_features(model, meta, val)
    assert np.mean(guard.score(feats) <= 1.0) >= 0.95  # the threshold's promise on its own data


def test_warmup_then_cosine_schedule() -> None:
    import torch

    o = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = make_scheduler(o, FitConfig(schedule="cosine", epochs=6, warmup_epochs=2))
    lrs = []
    for _ in range(6):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        sched.step()
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1e-3)
    assert lrs[2] > lrs[3] > lrs[4] > lrs[5]
    with pytest.raises(ValueError, match="warm-up"):
        FitConfig(schedule="plateau", warmup_epochs=2).validate()
    with pytest.raises(ValueError, match="smoothing"):
        FitConfig(label_smoothing=1.0).validate()


def test_new_recipe_options_run_end_to_end(tmp_path: Path, trained_run: TrainedRun) -> None:
    opts = quick_options(
        trained_run.data, tmp_path / "run", epochs=2, augmentation="phone", freeze=1.0
    )
    opts.fit.label_smoothing, opts.fit.ema_decay, opts.fit.keep_last = 0.1, 0.9, True
    report = run_training(opts, RecordingReporter())
    assert report["best_epoch"] == 2  # keep_last: the last epoch is the model
    assert report["params"]["augmentation"] == "phone"
    assert report["params"]["fit_ema_decay"] == 0.9


def test_folds_keep_groups_whole_and_never_touch_the_test_part() -> None:
    recorded = Split.load(resources_dir() / "models" / "msid_split.json")
    folds = fold_splits(recorded, 5)
    test = {s for s, p in recorded.assignment.items() if p == "test"}
    seen: Counter[str] = Counter()
    for fold in folds:
        assert {s for s, p in fold.assignment.items() if p == "test"} == test
        val = [s for s, p in fold.assignment.items() if p == "val"]
        seen.update(val)
        val_groups = {recorded.groups[s] for s in val}
        train_groups = {recorded.groups[s] for s, p in fold.assignment.items() if p == "train"}
        assert not val_groups & train_groups  # near-duplicates never straddle train and val
        counts = Counter(recorded.labels[s] for s in val)
        assert all(counts[c] >= 10 for c in ("Chickenpox", "Measles", "Monkeypox", "Normal"))
    assert set(seen) == set(recorded.assignment) - test and set(seen.values()) == {1}


def test_summary_reports_mean_and_spread_and_chooses_on_validation(tmp_path: Path) -> None:
    def report(recipe: str, fold: int, f1: float, epoch: int) -> None:
        per_class = {c: {"recall": f1} for c in ("A", "B")}
        val = {"macro_f1": f1, "accuracy": f1, "per_class": per_class}
        test = {"macro_f1": 1.0 - f1}  # never read: choosing on the test part is not allowed
        body = {"best_epoch": epoch, "splits": {"val": {"metrics": val}, "test": test}}
        path = tmp_path / recipe / f"fold{fold}" / "report.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(body))

    names = list(RECIPES)
    for i, f1 in enumerate((0.80, 0.90)):
        report(names[0], i, f1, 10 + i)
    for i, f1 in enumerate((0.86, 0.88)):
        report(names[1], i, f1, 20)
    summary = summarise(tmp_path)
    first = summary["recipes"][names[0]]
    assert first["macro_f1"]["mean"] == pytest.approx(0.85)
    assert first["macro_f1"]["sd"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    assert summary["chosen"] == names[1] and first["best_epochs"] == [10, 11]
    assert json.loads((tmp_path / "cv_summary.json").read_text())["chosen"] == names[1]


def test_referral_thresholds_come_from_every_folds_held_out_photos(tmp_path: Path) -> None:
    classes = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
    recipe = list(RECIPES)[0]
    rng = np.random.default_rng(1)
    pooled = []
    for fold in range(3):
        images = []
        for _ in range(20):
            k = int(rng.integers(0, 4))
            p = rng.dirichlet(np.ones(4)) * 0.3
            p[k] += 0.7
            images.append({"label": classes[k], "probabilities": p.tolist()})
        pooled += images
        val = {"metrics": {"macro_f1": 0.9, "accuracy": 0.9, "per_class": {}}, "images": images}
        body = {"best_epoch": 5, "classes": classes, "splits": {"val": val}}
        path = tmp_path / recipe / f"fold{fold}" / "report.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(body))
    referral = summarise(tmp_path)["referral"]
    assert referral["n"] == 60  # every fold's held-out photos, each once
    y = [classes.index(im["label"]) for im in pooled]
    probs = np.array([im["probabilities"] for im in pooled])
    assert referral == choose_rule(y, probs, classes)


def test_guard_threshold_keeps_boundary_photos_on_their_side() -> None:
    raw = np.arange(1.0, 41.0)  # 40 validation scores: the 39th is the last to pass
    t = guard_threshold(raw, 0.95)
    assert np.mean(raw <= t) >= 0.95 and 39.0 < t < 40.0
    assert np.mean(raw * (1 + 1e-6) <= t) == np.mean(raw <= t)  # rounding moves nobody


def test_gate_compares_final_and_incumbent_on_the_validation_part(
    tmp_path: Path, trained_run: TrainedRun
) -> None:
    import shutil

    from trainer.cv import gate

    run_dir = Path(trained_run.report["run_dir"])
    (tmp_path / "final").mkdir()
    shutil.copy(trained_run.report["model"], tmp_path / "final" / "model.safetensors")
    split = run_dir / "split.json"
    n_val = sum(1 for p in Split.load(split).assignment.values() if p == "val")
    # the trained model against its untrained start: it scores higher, but ~22 photos are
    # too few for the gate to decide (MIN_GATE_IMAGES), so only a forced promotion would do
    record = gate(trained_run.data, split, tmp_path, trained_run.untrained)
    assert record["final"]["n"] == n_val == record["incumbent_scores"]["n"] < MIN_GATE_IMAGES
    assert record["final"]["macro_f1"] > record["incumbent_scores"]["macro_f1"]
    assert record["decision"]["passed"] is False and "gate photos" in record["decision"]["reason"]
    assert json.loads((tmp_path / "final" / "gate.json").read_text()) == record
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("trainer.promote.MIN_GATE_IMAGES", 5)
        assert gate(trained_run.data, split, tmp_path, trained_run.untrained)["decision"]["passed"]
        shutil.copy(trained_run.untrained, tmp_path / "final" / "model.safetensors")
        reverse = gate(trained_run.data, split, tmp_path, Path(trained_run.report["model"]))
        assert reverse["decision"]["passed"] is False


def test_mixed_batches_train_end_to_end(tmp_path: Path, trained_run: TrainedRun) -> None:
    from trainer.fit import make_mixer

    mixer = make_mixer(FitConfig(mix=1.0), 3)
    x, y = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    mixed, target = mixer(x, y)
    assert target.shape == (4, 3) and torch.allclose(target.sum(1), torch.ones(4))
    assert make_mixer(FitConfig(), 3) is None
    with pytest.raises(ValueError, match="mix"):
        FitConfig(mix=1.5).validate()
    opts = quick_options(trained_run.data, tmp_path / "run", epochs=2)
    opts.fit.mix, opts.fit.balance = 1.0, "loss"  # soft targets with class weights
    report = run_training(opts, RecordingReporter())
    assert report["params"]["fit_mix"] == 1.0 and report["best_epoch"] in (1, 2)


def test_flips_without_flipping_reproduce_the_folds_validation(
    tmp_path: Path, trained_run: TrainedRun
) -> None:
    import shutil

    from trainer.cv import flips

    for fold in range(2):
        d = tmp_path / "r" / f"fold{fold}"
        d.mkdir(parents=True)
        shutil.copy(trained_run.report["model"], d / "model.safetensors")
        (d / "report.json").write_text(json.dumps(trained_run.report))
    result = flips(tmp_path, "r")
    val_f1 = trained_run.report["splits"]["val"]["metrics"]["macro_f1"]
    assert result["none"]["folds"] == pytest.approx([val_f1, val_f1])
    assert set(result) == {"none", "horizontal", "four"}
