"""Dev protocol 2: choose the clinic fine-tune's recipe on photos the parent never saw.

Why: ``bench/dev_adaptation.py`` simulates clinics from the shipped model's own training photos,
which it memorised, so it ranks recipes on recognition rather than adaptation. Here two *dev
parents* are trained with the shipped recipe (``trainer train --init imagenet``, 45% of the
backbone frozen, class-weighted loss, weight decay 1e-4, plateau schedule, 14 epochs) on the
recorded **training** part minus a dev hold-out of a third of it (144 photos, near-duplicate
groups whole, classes stratified) and minus a 36-photo validation slice; the recorded validation
and test parts (the benchmark's clinic and reference set) are never read. Each parent's hold-out
becomes clinics through two of ``dev_adaptation.CAMERAS``; in each clinic 40 photos are labelled
(seeded stratified order; all classes, Measles missing, and shuffled controls). Gain is measured
on the clinic's other ~104 photos; forgetting on the *same* other photos before the camera (the
parent never saw them, the candidate neither): a candidate's macro-F1 change there stands in for
the reference check, which reads it. The decision is ``trainer.decision``'s, unchanged.

Make the parents (about 3 min each, one thread), then run:
    python -m trainer train --data ../shared/datasets/msid --no-register --init imagenet \
        --split /tmp/dev2/split_A.json --out /tmp/dev2/run_A --epochs 14 --schedule plateau \
        --balance loss --weight-decay 1e-4 --freeze 0.45 --augmentation standard --threads 1
    python bench/dev2_adaptation.py --variants base ep16 ...   (splits: see ``make_splits``)
Results: ``bench/results/adaptation_dev2.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import dev_adaptation as dev  # noqa: E402

WORK = Path(os.environ.get("POXSCREEN_DEV2", "/tmp/dev2"))
RESULTS = ROOT / "bench" / "results"
FOLDS = [0]  # --folds: k of the cross-fitting (0: the rule's default)
#: which cameras each dev parent's hold-out goes through
PLAN = {"A": ["fluorescent", "dim_phone"], "B": ["washed_out", "fluorescent"]}

VARIANTS: dict[str, dict] = {
    **dev.VARIANTS,
    "ep16_lr1e-3": {"epochs": 16, "lr": 1e-3},
    "blocks1": {"train_blocks": 1},
    "blocks2": {"train_blocks": 2},
    "blocks2_l2sp": {"train_blocks": 2, "l2sp": 1e-3},
    "distill0.7": {"distill": 0.7},
    "views10": {"views": 10},
    "mask": {"mask_absent": True},
    "mask_ep16": {"mask_absent": True, "epochs": 16},
    "mask_d0.7": {"mask_absent": True, "distill": 0.7},
    "mask_blocks1": {"mask_absent": True, "train_blocks": 1},
    "mask_lr1e-3": {"mask_absent": True, "lr": 1e-3},
    "mask_ep16_lr1e-3": {"mask_absent": True, "lr": 1e-3, "epochs": 16},
    "mask_d0.85": {"mask_absent": True, "distill": 0.85},
    "mask_d0.7_blocks1": {"mask_absent": True, "distill": 0.7, "train_blocks": 1},
    "mask_d0.7_views10": {"mask_absent": True, "distill": 0.7, "views": 10},
    "mask_d0.7_bn0.25": {"mask_absent": True, "distill": 0.7, "bn_share": 0.25},
    "mask_d0.7_ep16": {"mask_absent": True, "distill": 0.7, "epochs": 16},
    "mask_d0.7_lr6e-4": {"mask_absent": True, "distill": 0.7, "lr": 6e-4},
    "mask_d0.85_lr6e-4": {"mask_absent": True, "distill": 0.85, "lr": 6e-4},
    "mask_d0.7_lr1.5e-4_ep16": {"mask_absent": True, "distill": 0.7, "lr": 1.5e-4, "epochs": 16},
    "mask_d0.7_bn0.1": {"mask_absent": True, "distill": 0.7, "bn_share": 0.1},
    "mask_d0.7_bn0.1_blocks2": {
        "mask_absent": True,
        "distill": 0.7,
        "bn_share": 0.1,
        "train_blocks": 2,
    },
    "mask_d0.7_bn0.15": {"mask_absent": True, "distill": 0.7, "bn_share": 0.15},
    "mask_d0.8_bn0.15": {"mask_absent": True, "distill": 0.8, "bn_share": 0.15},
    "mask_d0.7_bn0.1_views10": {"mask_absent": True, "distill": 0.7, "bn_share": 0.1, "views": 10},
    "mask_d0.7_bn0.1_ep12": {"mask_absent": True, "distill": 0.7, "bn_share": 0.1, "epochs": 12},
    # BatchNorms moved only from block ``bn_from`` on (the earlier blocks keep the parent's)
    "mask_d0.7_bn0.25_from10": {
        "mask_absent": True,
        "distill": 0.7,
        "bn_share": 0.25,
        "bn_from": 10,
    },
    "mask_d0.7_bn0.25_from14": {
        "mask_absent": True,
        "distill": 0.7,
        "bn_share": 0.25,
        "bn_from": 14,
    },
    "mask_d0.7_bn0.5_from14": {"mask_absent": True, "distill": 0.7, "bn_share": 0.5, "bn_from": 14},
}


def make_splits() -> None:
    """Dev parents' split files and hold-outs (see the module docstring)."""
    from collections import Counter

    from sklearn.model_selection import StratifiedGroupKFold

    d = json.loads((ROOT / "resources/models/msid_split.json").read_text())
    train = d["splits"]["train"]
    y = np.array([e["label"] for e in train])
    g = np.array([e["group"] for e in train])
    sg = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=2026)
    parts = [held for _, held in sg.split(np.zeros(len(y)), y, g)]
    WORK.mkdir(parents=True, exist_ok=True)
    for name, hi in zip("AB", [0, 1], strict=True):
        held = set(parts[hi].tolist())
        rest = [i for i in range(len(y)) if i not in held]
        sg2 = StratifiedGroupKFold(n_splits=8, shuffle=True, random_state=7)
        _, v = next(iter(sg2.split(np.zeros(len(rest)), y[rest], g[rest])))
        val = {rest[i] for i in v}
        new: dict[str, list] = {"train": [], "val": [], "test": []}
        for i, e in enumerate(train):
            new["test" if i in held else "val" if i in val else "train"].append(e)
        new["test"] += d["splits"]["val"] + d["splits"]["test"]
        out = {**d, "splits": new}
        out["counts"] = {k: len(v) for k, v in new.items()}
        (WORK / f"split_{name}.json").write_text(json.dumps(out, indent=1))
        hold = [train[i] for i in sorted(held)]
        (WORK / f"holdout_{name}.json").write_text(json.dumps(hold, indent=1))
        print(name, out["counts"], Counter(y[sorted(held)]))


def clinic(parent_name: str, camera: str, meta) -> dev.Clinic:
    """One dev clinic: the parent's hold-out through ``camera``; its 'forgetting slice' is the
    same photos before the camera, in the same order."""
    from trainer.clinic_run import _decode
    from trainer.data import Sample

    hold = json.loads((WORK / f"holdout_{parent_name}.json").read_text())
    folder = WORK / f"{parent_name}_{camera}"
    folder.mkdir(parents=True, exist_ok=True)
    photos, plain = [], []
    for e in hold:
        src = dev.SHARED / e["label"] / Path(e["path"]).name
        target = folder / (Path(e["path"]).stem + ".jpg")
        if not target.exists():
            dev.CAMERAS[camera](Image.open(src)).save(target, quality=95)
        photos.append((target, e["label"]))
        plain.append((src, e["label"]))
    fd, _ = _decode([Sample(path=p, label=c, sha256="", source="dev") for p, c in plain], meta)
    fy = np.array([list(meta.classes).index(x.sample.label) for x in fd])
    c = dev.Clinic(f"{parent_name}:{camera}", photos, meta, (fd, fy))
    assert len(c.decoded) == len(fd), "a photo failed to decode in one copy only"
    return c


def one_run(c: dev.Clinic, parent, recipe, n: int, kind: str, seed: int, quick: bool) -> dict:
    """As ``dev_adaptation.one_run``, with forgetting read on the other photos before the
    camera (never seen by parent or candidate)."""
    from engine.recipe import DECISION
    from trainer.adapt import FeatureCache, fit_head, head_logits
    from trainer.crossfit import assign_folds, cross_fit
    from trainer.decision import ReferenceCheck, decide_on_clinic_photos
    from trainer.splits import group_near_duplicates

    p_clinic, p_forget = c.parent_plain(parent)
    chosen, y = dev.labelled_set(c, n, kind, seed)
    sub, other_maps, fcache, backbone = c.features(parent, recipe, chosen)
    others = np.array([i for i in range(len(c.y)) if i not in set(chosen)])
    sub = FeatureCache(sub.features, sub.parent, y)
    groups = group_near_duplicates([c.decoded[i].hashes for i in chosen], 10)
    folds = assign_folds(y, groups, FOLDS[0] or DECISION.folds, DECISION.seed)
    k = len(c.classes)
    t0 = time.monotonic()
    oof = None if quick else cross_fit(backbone, sub, k, folds, recipe=recipe)
    final = fit_head(backbone, sub, k, recipe=recipe)
    fit_s = time.monotonic() - t0
    fy = c.forget[1][others]
    f_before = dev._scores(fy, p_forget[others])
    f_maps = fcache.features[dev.torch_index(others), 0]
    f_after = dev._scores(fy, head_logits(final, f_maps, recipe).double().numpy())
    o_before = dev._scores(c.y[others], p_clinic[others])
    o_after = dev._scores(c.y[others], head_logits(final, other_maps, recipe).double().numpy())
    run = {"clinic": c.name, "n": n, "kind": kind, "seed": seed, "promoted": None, "win": None,
           "failed": None}  # fmt: skip
    if oof is not None:
        ref = ReferenceCheck(f_after[1], f_before[1], n=len(fy))  # the plain photos stand in
        d = decide_on_clinic_photos(
            y, oof, p_clinic[chosen], c.classes, ref, active_version="parent"
        )
        failed = [x for x in ("learnt", "better", "mpox", "reference") if not d.checks[x]["passed"]]
        run.update(promoted=d.activate, win=d.checks["better"]["win_share"], failed=failed,
                   oof_acc=d.new_value, in_use_acc=d.active_value, reason=d.reason)  # fmt: skip
    return {**run, "other_before": o_before[0], "other_after": o_after[0],
            "gain": o_after[0] - o_before[0], "f1_before": o_before[1], "f1_after": o_after[1],
            "forget_acc": f_after[0] - f_before[0], "forget_f1": f_after[1] - f_before[1],
            "fit_s": round(fit_s, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--make-splits", action="store_true")
    ap.add_argument("--variants", nargs="+", default=["base"])
    ap.add_argument("--n", type=int, nargs="+", default=[40])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--kinds", nargs="+", default=["all", "noM"])
    ap.add_argument("--parents", nargs="+", default=list(PLAN))
    ap.add_argument("--quick", action="store_true", help="final model only: no cross-fitting")
    ap.add_argument("--tag", default="")
    ap.add_argument("--folds", type=int, default=0, help="k of the cross-fitting (0: default)")
    args = ap.parse_args(argv)
    FOLDS[0] = args.folds
    if args.make_splits:
        make_splits()
        return 0
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    from engine.checkpoint import load_model
    from engine.recipe import ADAPT

    out_path = RESULTS / "adaptation_dev2.json"
    saved = json.loads(out_path.read_text()) if out_path.exists() else {}
    parents = {}
    clinics = []
    for p in args.parents:
        model, meta = load_model(WORK / f"run_{p}" / "model.safetensors")
        parents[p] = model.eval()
        clinics += [(p, clinic(p, cam, meta)) for cam in PLAN[p]]
    for name in args.variants:
        recipe = dataclasses.replace(ADAPT, **VARIANTS[name])
        runs = []
        for p, c in clinics:
            for n in args.n:
                for seed in args.seeds:
                    for kind in args.kinds:
                        r = one_run(c, parents[p], recipe, n, kind, seed, args.quick)
                        runs.append(r)
                        print(json.dumps(r), flush=True)
        key = name + args.tag + ("_quick" if args.quick else "")
        dev.save_variant(out_path, saved, key, VARIANTS[name], runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
