"""Choosing the default model's recipe by grouped, stratified k-fold cross-validation.

One validation split of ~86 photos is noisier than the differences between recipes, so recipes
are compared on k folds of every photo outside the recorded test part (near-duplicate groups
stay whole, classes stay balanced: ``StratifiedGroupKFold`` on the recorded group ids). The
test part is in no fold and no choice; the final training reports it once.

Resumable: each (recipe, fold) run writes ``<out>/<recipe>/fold<i>/report.json`` last, and a run
whose report exists is not repeated, so the folds can be spread over sessions (or machines).

    python -m trainer.cv run --data DIR --split resources/models/msid_split.json --out runs/cv
    python -m trainer.cv summary --out runs/cv
    python -m trainer.cv final --data DIR --split resources/models/msid_split.json --out runs/cv
    python -m trainer.cv gate --data DIR --split resources/models/msid_split.json --out runs/cv
    python -m trainer.cv flips --out runs/cv [--recipe NAME]   # test-time flips, measured

``final`` trains the chosen recipe on the recorded train part for the median best epoch of its
folds (the last epoch is kept), with the recorded validation part as the calibration and gate
part (temperature, guard threshold, later promotion gates), and reports the test part.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from engine.atomic import atomic_write_text
from engine.recipe import RECIPE
from trainer.fit import FitConfig
from trainer.splits import Split

#: 30 epochs (patience 10): the shipped run's best epoch was 16 of 28, and 2 recipes x 5 folds
#: must fit in about an hour of two CPU cores (one thread per recipe, run side by side).
_BASE = {
    "epochs": 30,
    "patience": RECIPE.patience,
    "lr": RECIPE.lr,
    "batch_size": RECIPE.batch_size,
    "balance": "loss",
    "weight_decay": 1e-4,
}
#: At most three recipes (compute is tight). "shipped" is the recipe of the shipped model.
RECIPES: dict[str, dict[str, Any]] = {
    "shipped": {"fit": {**_BASE, "schedule": "plateau"}, "augmentation": "standard"},
    "phone-smooth-ema": {
        "fit": {
            **_BASE,
            "schedule": "cosine",
            "warmup_epochs": 2,
            "label_smoothing": 0.1,
            "ema_decay": 0.99,
        },
        "augmentation": "phone",
    },
    # the shipped recipe with half the batches mixed (MixUp or CutMix): its folds peaked by
    # epoch 4-12, and mixing is the usual remedy for a small set learnt that fast
    "shipped-mix": {
        "fit": {**_BASE, "schedule": "plateau", "mix": 0.5},
        "augmentation": "standard",
    },
}
FREEZE = RECIPE.freeze


def fold_splits(split: Split, folds: int, seed: int = 0) -> list[Split]:
    """``folds`` splits of the non-test photos (train/val), the test part kept as recorded."""
    shas = sorted(s for s, part in split.assignment.items() if part != "test")
    labels = np.array([split.labels[s] for s in shas])
    groups = np.array([split.groups.get(s, i) for i, s in enumerate(shas)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sgkf = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        held = [val for _, val in sgkf.split(np.zeros(len(shas)), labels, groups)]
    out = []
    for val in held:
        assignment = dict.fromkeys(shas, "train")
        assignment.update({shas[i]: "val" for i in val})
        assignment.update({s: "test" for s, p in split.assignment.items() if p == "test"})
        out.append(
            dataclasses.replace(
                split,
                assignment=assignment,
                fractions={"val": 1 / folds, "test": split.fractions.get("test", 0.0)},
            )
        )
    return out


def _options(recipe: str, data: Path, split_file: Path, out: Path, epochs: int | None) -> Any:
    from trainer.train import TrainOptions

    spec = RECIPES[recipe]
    fit = FitConfig(**spec["fit"])
    if epochs is not None:
        fit = dataclasses.replace(fit, epochs=epochs)
    return TrainOptions(
        data_dirs=[data],
        register=False,
        init="imagenet",
        out=out,
        split_file=split_file,
        freeze=FREEZE,
        augmentation=spec["augmentation"],
        name=f"cv-{recipe}",
        fit=fit,
    )


def run_folds(
    data: Path,
    split_file: Path,
    out: Path,
    folds: int = 5,
    recipes: list[str] | None = None,
    only_folds: list[int] | None = None,
    epochs: int | None = None,
) -> None:
    """Run every missing (recipe, fold); finished ones (report.json present) are skipped."""
    from trainer.progress import Reporter
    from trainer.train import run_training

    splits = fold_splits(Split.load(split_file), folds)
    record = out / "folds" / "folds.json"
    if record.exists() and json.loads(record.read_text())["folds"] != folds:
        raise SystemExit(f"{out} holds a different number of folds; use another --out")
    atomic_write_text(record, json.dumps({"folds": folds, "split": str(split_file)}))
    for i, fold in enumerate(splits):
        path = out / "folds" / f"fold{i}.json"
        if not path.exists():
            fold.save(path)
    for recipe in recipes or list(RECIPES):
        for i in only_folds if only_folds is not None else range(folds):
            run_dir = out / recipe / f"fold{i}"
            if (run_dir / "report.json").exists():
                continue
            opts = _options(recipe, data, out / "folds" / f"fold{i}.json", run_dir, epochs)
            run_training(opts, Reporter(bar=False))


def _fold_row(report: dict[str, Any]) -> dict[str, Any]:
    val = report["splits"]["val"]["metrics"]
    per_class = val.get("per_class", {})
    return {
        "macro_f1": val["macro_f1"],
        "accuracy": val["accuracy"],
        "best_epoch": report["best_epoch"],
        "recall": {c: v.get("recall") for c, v in per_class.items()},
    }


def summarise(out: Path) -> dict[str, Any]:
    """Per recipe: mean and spread (sample s.d.) over finished folds of validation figures."""
    table: dict[str, Any] = {}
    for recipe in RECIPES:
        rows = [
            _fold_row(json.loads(p.read_text()))
            for p in sorted((out / recipe).glob("fold*/report.json"))
        ]
        if not rows:
            continue

        def ms(values: list[float]) -> dict[str, float]:
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            return {"mean": statistics.fmean(values), "sd": sd}

        classes = sorted(rows[0]["recall"])
        table[recipe] = {
            "folds": len(rows),
            "macro_f1": ms([r["macro_f1"] for r in rows]),
            "accuracy": ms([r["accuracy"] for r in rows]),
            "recall": {c: ms([r["recall"][c] for r in rows]) for c in classes},
            "best_epochs": [r["best_epoch"] for r in rows],
        }
    chosen = max(table, key=lambda r: table[r]["macro_f1"]["mean"]) if table else None
    summary = {"recipes": table, "chosen": chosen, "chosen_by": "mean validation macro-F1"}
    if chosen is not None:
        summary["referral"] = choose_referral(out, chosen)
    atomic_write_text(out / "cv_summary.json", json.dumps(summary, indent=1))
    return summary


def out_of_fold(out: Path, recipe: str) -> tuple[list[str], list[int], np.ndarray]:
    """Every non-test photo's validation prediction from the fold that held it out."""
    classes: list[str] = []
    y: list[int] = []
    probs: list[list[float]] = []
    for path in sorted((out / recipe).glob("fold*/report.json")):
        report = json.loads(path.read_text())
        classes = list(report.get("classes", []))
        for image in report["splits"]["val"].get("images", []):
            y.append(classes.index(image["label"]))
            probs.append(image["probabilities"])
    return classes, y, np.asarray(probs, dtype=np.float64).reshape(len(y), len(classes))


def choose_referral(out: Path, recipe: str) -> dict[str, Any] | None:
    """Default referral thresholds chosen on the recipe's out-of-fold predictions (None when
    the reports hold no per-image predictions or no Mpox class)."""
    from engine.referral import MPOX_CLASS
    from trainer.thresholds import choose_rule

    classes, y, probs = out_of_fold(out, recipe)
    if not y or MPOX_CLASS not in classes:
        return None
    return choose_rule(y, probs, classes)


def final(data: Path, split_file: Path, out: Path, recipe: str | None = None) -> dict[str, Any]:
    """Train the chosen recipe on the recorded split for the CV-chosen epoch count."""
    from trainer.progress import Reporter
    from trainer.train import run_training

    summary = summarise(out)
    recipe = recipe or summary["chosen"]
    if recipe is None:
        raise SystemExit(f"{out}: no finished folds; run `python -m trainer.cv run` first")
    epochs = int(statistics.median(summary["recipes"][recipe]["best_epochs"]))
    opts = _options(recipe, data, split_file, out / "final", epochs)
    opts.fit = dataclasses.replace(opts.fit, keep_last=True)
    opts.name = "poxscreen-msid-v2"
    return run_training(opts, Reporter(bar=False))


def gate(data: Path, split_file: Path, out: Path, incumbent: Path) -> dict[str, Any]:
    """The app's own promotion gate (``trainer.promote.decide``): the final model against the
    model it would replace, both scored on the recorded validation part (the calibration and
    gate part). Written to ``<out>/final/gate.json``; replacing the shipped file stays a person's
    step, taken only when the gate passes."""
    from engine.checkpoint import read_meta
    from trainer.evaluate import evaluate_folder
    from trainer.promote import decide

    scores = {}
    for name, model in (("final", out / "final" / "model.safetensors"), ("incumbent", incumbent)):
        report = evaluate_folder(
            model, [data], out / "final" / f"gate-{name}", split_file=split_file, subset="val"
        )
        scores[name] = report["metrics"]
    decision = decide(scores["final"], scores["incumbent"], read_meta(incumbent).version)
    record = {
        "incumbent": str(incumbent),
        "final": {k: scores["final"].get(k) for k in ("n", "accuracy", "macro_f1")},
        "incumbent_scores": {k: scores["incumbent"].get(k) for k in ("n", "accuracy", "macro_f1")},
        "decision": decision.gate(),
    }
    atomic_write_text(out / "final" / "gate.json", json.dumps(record, indent=1))
    return record


def flips(out: Path, recipe: str) -> dict[str, Any]:
    """Test-time flips, measured on each fold model's held-out photos: validation macro-F1
    (mean and s.d. over folds) without flips, with the horizontal flip, with all four flips."""
    import torch

    from engine.checkpoint import load_model
    from engine.images import load_image
    from engine.preprocess import make_transform
    from trainer.metrics import classification_metrics

    scores: dict[str, list[float]] = {"none": [], "horizontal": [], "four": []}
    for path in sorted((out / recipe).glob("fold*/report.json")):
        model, meta = load_model(path.parent / "model.safetensors")
        model.eval()
        images = json.loads(path.read_text())["splits"]["val"]["images"]
        transform, size = make_transform(meta), int(meta.input_size)
        x = torch.stack(
            [transform(load_image(Path(im["path"]), target_size=size)) for im in images]
        )
        y = np.array([meta.classes.index(im["label"]) for im in images])
        with torch.no_grad():
            p = [
                torch.softmax(model(v) / (meta.temperature or 1.0), 1).numpy()
                for v in (x, x.flip(3), x.flip(2), x.flip(2).flip(3))
            ]
        for name, probs in (
            ("none", p[0]),
            ("horizontal", (p[0] + p[1]) / 2),
            ("four", sum(p) / 4),
        ):
            scores[name].append(classification_metrics(y, probs, meta.classes)["macro_f1"])
    return {
        k: {"mean": statistics.fmean(v), "sd": statistics.stdev(v), "folds": v}
        for k, v in scores.items()
        if len(v) > 1
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: run | summary | final (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m trainer.cv", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("run", "summary", "final", "gate", "flips"))
    p.add_argument("--data", type=Path, default=Path("../shared/datasets/msid"))
    p.add_argument("--split", type=Path, default=Path("resources/models/msid_split.json"))
    p.add_argument("--out", type=Path, default=Path("runs/cv"))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--recipes", nargs="+", choices=sorted(RECIPES))
    p.add_argument("--only-folds", nargs="+", type=int, help="run just these folds (resumable)")
    p.add_argument("--epochs", type=int, help="override the recipes' epoch limit (quick runs)")
    p.add_argument("--recipe", help="final: train this recipe instead of the chosen one")
    p.add_argument(
        "--incumbent",
        type=Path,
        default=Path("resources/models/default.safetensors"),
        help="gate: the model the final one would replace",
    )
    p.add_argument("--threads", type=int, help="CPU threads for this process (default: torch's)")
    a = p.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.command == "run":
        run_folds(a.data, a.split, a.out, a.folds, a.recipes, a.only_folds, a.epochs)
        a.command = "summary"
    if a.command == "summary":
        print(json.dumps(summarise(a.out), indent=1))
    elif a.command == "flips":
        print(json.dumps(flips(a.out, a.recipe or summarise(a.out)["chosen"]), indent=1))
    elif a.command == "gate":
        record = gate(a.data, a.split, a.out, a.incumbent)
        verdict = "passes" if record["decision"]["passed"] else "does not pass"
        print(f"final model {verdict} the gate: {record['decision']['reason']}")
    else:
        report = final(a.data, a.split, a.out, a.recipe)
        print(f"final model: {report['model']} ({report['version']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
