"""Dev protocol 2 for the promotion rule: out-of-fold answers kept, rules compared afterwards.

Why: the rule (``trainer.decision``) reads only the labels, the out-of-fold logits and the model
in use's logits, so one cross-fitted run per clinic, label order and kind can be judged by every
candidate rule without fitting again. Each run (``dev2_adaptation``'s clinics, the default
recipe) records those, and the final model's and the parent's logits on the clinic's other
photos and on the same photos before the camera, so a rule's Mpox offset can be applied to the
final model too (``trainer.mpox_point``).

    python bench/dev2_rule.py collect --seeds 0 --n 40 30      (about a minute per run)
    python bench/dev2_rule.py table                              (seed 0; markdown)
    python bench/dev2_rule.py collect --variant unweighted       (a recipe variant's runs)
    python bench/dev2_rule.py compare --seeds 0 1 --n 40 --variant default unweighted
Raw runs: ``$POXSCREEN_DEV2/rule_runs.jsonl`` (not committed: logits of every photo).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import dev2_adaptation as d2  # noqa: E402
import dev_adaptation as dev  # noqa: E402

RUNS = d2.WORK / "rule_runs.jsonl"
KINDS = ("all", "noM", "shuffled")
#: What a run may be collected with (``--variant``): changes to the default ``ADAPT`` recipe,
#: "folds" for the cross-fitting's k, and "bn_pool" for whose photos move the BatchNorms
#: ("all": 64 of the clinic's photos, labelled or not; the app uses the labelled ones).
VARIANTS: dict[str, dict] = {
    "default": {},
    "unweighted": {"balance": False},
    "k10": {"folds": 10},
    "bn_all": {"bn_pool": "all"},
}


def collect(seeds: list[int], sizes: list[int], variant: str = "default") -> None:
    """One cross-fitted run per (seed, N, kind, clinic) not yet in ``RUNS`` for ``variant``."""
    import torch

    from engine.checkpoint import load_model
    from engine.recipe import ADAPT, DECISION
    from trainer.adapt import FeatureCache, fit_head, head_logits
    from trainer.crossfit import assign_folds, cross_fit
    from trainer.splits import group_near_duplicates

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    changes = dict(VARIANTS[variant])
    k = changes.pop("folds", DECISION.folds)
    dev.BN_FROM[0] = changes.pop("bn_pool", "labelled")
    recipe = dataclasses.replace(ADAPT, **changes)
    clinics = []
    for p, cams in d2.PLAN.items():
        model, meta = load_model(d2.WORK / f"run_{p}" / "model.safetensors")
        for cam in cams:
            c = d2.clinic(p, cam, meta)
            clinics.append((model.eval(), c, c.parent_plain(model)))
    done = {(r["clinic"], r["n"], r["kind"], r["seed"]) for r in _runs(variant)}
    with RUNS.open("a", encoding="utf-8") as out:
        for seed in seeds:
            for n in sizes:
                for kind in KINDS:
                    for model, c, (p_clinic, p_forget) in clinics:
                        if (c.name, n, kind, seed) in done:
                            continue
                        t0 = time.monotonic()
                        chosen, y = dev.labelled_set(c, n, kind, seed)
                        sub, other_maps, fcache, backbone = c.features(model, recipe, chosen)
                        others = np.array([i for i in range(len(c.y)) if i not in set(chosen)])
                        sub = FeatureCache(sub.features, sub.parent, y)
                        groups = group_near_duplicates([c.decoded[i].hashes for i in chosen], 10)
                        folds = assign_folds(y, groups, k, DECISION.seed)
                        oof = cross_fit(backbone, sub, len(c.classes), folds, recipe=recipe)
                        final = fit_head(backbone, sub, len(c.classes), recipe=recipe)
                        f_maps = fcache.features[dev.torch_index(others), 0]
                        run = {
                            "clinic": c.name, "n": n, "kind": kind, "seed": seed,
                            "variant": variant,
                            "y": y.tolist(), "oof": oof.round(4).tolist(),
                            "active": p_clinic[chosen].round(4).tolist(),
                            "oy": c.y[others].tolist(),
                            "o_final": head_logits(final, other_maps).numpy().round(4).tolist(),
                            "o_parent": p_clinic[others].round(4).tolist(),
                            "fy": c.forget[1][others].tolist(),
                            "f_final": head_logits(final, f_maps).numpy().round(4).tolist(),
                            "f_parent": p_forget[others].round(4).tolist(),
                            "s": round(time.monotonic() - t0, 1),
                        }  # fmt: skip
                        out.write(json.dumps(run) + "\n")
                        out.flush()
                        print(c.name, n, kind, seed, run["s"], flush=True)


def _runs(variant: str = "default") -> list[dict]:
    """The kept runs of one recipe variant (runs before variants existed are "default")."""
    if not RUNS.exists():
        return []
    runs = [json.loads(line) for line in RUNS.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in runs if r.get("variant", "default") == variant]


def judge(run: dict, outcome: str, keep_mpox: bool) -> dict:
    """A rule on one run: the decision (the plain photos before the camera stand in for the
    reference set), and the final model's gain, Mpox recall change and forgetting."""
    from engine.recipe import DECISION
    from trainer.decision import ReferenceCheck, decide_on_clinic_photos
    from trainer.mpox_point import mpox_offset, shift_mpox

    classes = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
    y, oof, act = (np.array(run[k]) for k in ("y", "oof", "active"))
    offset = mpox_offset(y, oof, act, classes) if keep_mpox else 0.0
    fy, oy = np.array(run["fy"]), np.array(run["oy"])
    f_final = shift_mpox(np.array(run["f_final"]), classes, offset)
    o_final = shift_mpox(np.array(run["o_final"]), classes, offset)
    forget = dev._scores(fy, f_final)[1] - dev._scores(fy, np.array(run["f_parent"]))[1]
    ref = ReferenceCheck(0.9 + forget, 0.9, n=len(fy))
    rule = dataclasses.replace(DECISION, outcome=outcome)
    d = decide_on_clinic_photos(y, shift_mpox(oof, classes, offset), act, classes, ref,
                                active_version="parent", rule=rule)  # fmt: skip
    right_after, right_before = o_final.argmax(1) == oy, np.array(run["o_parent"]).argmax(1) == oy
    mpox = oy == classes.index("Monkeypox")
    failed = [k for k in ("learnt", "better", "mpox", "reference") if not d.checks[k]["passed"]]
    return {"promoted": d.activate, "failed": failed, "win": d.checks["better"]["win_share"],
            "offset": offset, "gain": float(right_after.mean() - right_before.mean()),
            "mpox_recall": float(right_after[mpox].mean() - right_before[mpox].mean()),
            "forget": forget}  # fmt: skip


def _summary(judged: list[tuple[dict, dict]]) -> dict[str, float | int]:
    """Promotions (real runs, those that gained >= 5 points, shuffled controls) and the real
    runs' mean gain, Mpox recall change and forgetting, in points."""
    real = [j for r, j in judged if r["kind"] != "shuffled"]
    big = [j for j in real if j["gain"] >= 0.05]
    shuffled = [j for r, j in judged if r["kind"] == "shuffled"]

    def mean(k: str) -> float:
        return 100 * float(np.mean([j[k] for j in real])) if real else float("nan")

    return {"real": len(real), "real_promoted": sum(j["promoted"] for j in real),
            "big": len(big), "big_promoted": sum(j["promoted"] for j in big),
            "shuffled": len(shuffled), "shuffled_promoted": sum(j["promoted"] for j in shuffled),
            "gain": mean("gain"), "mpox_recall": mean("mpox_recall"), "forget": mean("forget")}  # fmt: skip


def table(seed: int) -> None:
    """The old rule (right/wrong, no offset) against the new default, per run, in markdown."""
    runs = sorted((r for r in _runs() if r["seed"] == seed), key=lambda r: (-r["n"], r["kind"]))
    print("| clinic | N | labels | old rule | offset | win share | new rule | gain | Mpox recall | "
          "forgetting F1 |\n|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    summary: dict[str, list] = {"old": [], "new": []}
    for r in runs:
        old, new = judge(r, "accuracy", False), judge(r, "brier", True)
        summary["old"].append((r, old))
        summary["new"].append((r, new))
        words = [("**promoted**" if j["promoted"] else "kept: " + ", ".join(j["failed"]))
                 for j in (old, new)]  # fmt: skip
        print(f"| {r['clinic']} | {r['n']} | {r['kind']} | {words[0]} | {new['offset']:.2f} | "
              f"{new['win']:.2f} | {words[1]} | {100 * new['gain']:+.1f} | "
              f"{100 * new['mpox_recall']:+.1f} | {100 * new['forget']:+.1f} |")  # fmt: skip
    for name, rows in summary.items():
        m = _summary(rows)
        print(f"{name}: promoted {m['real_promoted']} of {m['real']} real runs, "
              f"{m['big_promoted']} of the {m['big']} that gained >= 5 points; "
              f"shuffled promoted {m['shuffled_promoted']} of {m['shuffled']}; "
              f"mean gain {m['gain']:+.1f}, Mpox recall {m['mpox_recall']:+.1f}")  # fmt: skip


def compare(seeds: list[int], sizes: list[int], variants: list[str]) -> None:
    """The default rule on each recipe variant's runs of the same clinics, label orders and N:
    per run, then promotions, gain, Mpox recall and forgetting over them (markdown)."""
    keys = None
    for v in variants:  # only the runs every variant has
        have = {(r["clinic"], r["n"], r["kind"], r["seed"]) for r in _runs(v)
                if r["seed"] in seeds and r["n"] in sizes}  # fmt: skip
        keys = have if keys is None else keys & have
    print("| variant | real promoted | of those that gained >= 5 | shuffled promoted | mean gain | "
          "Mpox recall | forgetting F1 | runs |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for v in variants:
        judged = [(r, judge(r, "brier", True)) for r in _runs(v)
                  if (r["clinic"], r["n"], r["kind"], r["seed"]) in (keys or set())]  # fmt: skip
        m = _summary(judged)
        print(f"| {v} | {m['real_promoted']} of {m['real']} | {m['big_promoted']} of {m['big']} | "
              f"{m['shuffled_promoted']} of {m['shuffled']} | {m['gain']:+.1f} | "
              f"{m['mpox_recall']:+.1f} | {m['forget']:+.1f} | {len(judged)} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("collect", "table", "compare"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--n", type=int, nargs="+", default=[40, 30])
    ap.add_argument("--variant", nargs="+", default=["default"], choices=sorted(VARIANTS))
    args = ap.parse_args(argv)
    if args.what == "collect":
        for v in args.variant:
            collect(args.seeds, args.n, v)
    elif args.what == "compare":
        compare(args.seeds, args.n, args.variant)
    else:
        table(args.seeds[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
