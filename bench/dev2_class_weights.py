"""Dev protocol 2, quick: the clinic head fitted with and without balanced class weights.

A diagnostic for docs/adaptation_dev.md (final model only, no Mpox offset; 4 clinics x label
orders 0 and 1 x all classes / Measles missing, 40 labels): accuracy gain and Mpox recall change
on the clinic's other photos, macro-F1 change on the same photos before the camera. "none"
weighs every labelled photo 1 (``AdaptRecipe.balance = False``). The cross-fitted comparison
is ``dev2_rule.py --variant unweighted``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import dev2_adaptation as d2  # noqa: E402
import dev_adaptation as dev  # noqa: E402

import trainer.adapt as adapt  # noqa: E402
from engine.checkpoint import load_model  # noqa: E402
from engine.recipe import ADAPT  # noqa: E402

RECIPES = {"balanced": ADAPT, "none": dataclasses.replace(ADAPT, balance=False)}


def one(c: dev.Clinic, model, parent_out, seed: int, kind: str) -> dict[str, dict[str, float]]:
    """Both variants on one clinic and label order."""
    p_clinic, p_forget = parent_out
    chosen, y = dev.labelled_set(c, 40, kind, seed)
    sub, other_maps, fcache, backbone = c.features(model, ADAPT, chosen)
    sub = adapt.FeatureCache(sub.features, sub.parent, y)
    others = np.array([i for i in range(len(c.y)) if i not in set(chosen)])
    oy, fy = c.y[others], c.forget[1][others]
    mpox = oy == c.classes.index("Monkeypox")

    out = {}
    for name, recipe in RECIPES.items():
        final = adapt.fit_head(backbone, sub, len(c.classes), recipe=recipe)
        after = adapt.head_logits(final, other_maps).numpy().argmax(1) == oy
        before = p_clinic[others].argmax(1) == oy
        plain = adapt.head_logits(final, fcache.features[dev.torch_index(others), 0]).numpy()
        out[name] = {"gain": after.mean() - before.mean(),
                     "mpox_recall": after[mpox].mean() - before[mpox].mean(),
                     "forget": dev._scores(fy, plain)[1] - dev._scores(fy, p_forget[others])[1]}  # fmt: skip
    return out


def main() -> int:
    torch.set_num_threads(2)
    runs: dict[str, list[dict[str, float]]] = {"balanced": [], "none": []}
    for p, cams in d2.PLAN.items():
        model, meta = load_model(d2.WORK / f"run_{p}" / "model.safetensors")
        for cam in cams:
            c = d2.clinic(p, cam, meta)
            parent_out = c.parent_plain(model.eval())
            for seed in (0, 1):
                for kind in ("all", "noM"):
                    for name, r in one(c, model, parent_out, seed, kind).items():
                        runs[name].append(r)
                        shown = {k: round(100 * v, 1) for k, v in r.items()}
                        print(c.name, seed, kind, name, shown, flush=True)
    for name, rs in runs.items():
        print(name, {k: round(100 * float(np.mean([r[k] for r in rs])), 1) for k in rs[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
