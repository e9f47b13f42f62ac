"""Dev protocol for choosing the clinic fine-tune recipe without touching the benchmark's data.

``bench/bench_adaptation.py`` is the final test: its clinic is the shipped model's recorded
*validation* part and its reference set the *test* part, so neither may choose a recipe. This
protocol uses only the recorded **training** part (432 MSID photos):
- a forgetting slice: 80 of them (seeded, stratified), never transformed, never labelled; a
  candidate's accuracy and macro-F1 on it stand in for the reference set (and its macro-F1 drop
  is what the decision's reference check reads here);
- three simulated clinics: the other 352 split into three disjoint, stratified parts, each seen
  through its own camera (``CAMERAS``), none the benchmark's: a cool fluorescent cast with soft
  focus and JPEG 35 framed close; a dim, noisy, low-resolution phone framed off-centre the other
  way; an over-exposed, washed-out photo, sharpened, JPEG 55, rotated a quarter turn.
In each clinic N photos are labelled (a seeded class-stratified order, two orders per clinic),
with every class and with Measles missing; a control labels N with the labels shuffled. Each run
goes through the app's own pieces (``trainer.adapt`` features, ``trainer.crossfit`` folds,
``trainer.decision`` rule, unchanged) and reports the gain in accuracy on that clinic's other
photos, the change on the forgetting slice, and whether the rule would promote.

Limitation: the shipped model trained on every photo here, with its labels. Its accuracy on the
transformed clinics is higher than on photos it never saw, the gains are smaller, and the
forgetting slice is photos it memorised: the protocol ranks recipes, it does not predict the
benchmark's figures. (The app itself would leave these photos out of the comparison as trained
on; the protocol compares them on purpose.)

Run: ``nice -n 15 OMP_NUM_THREADS=2 python bench/dev_adaptation.py --variants base l2sp ...``;
results go to ``bench/results/adaptation_dev.json`` (merged by variant).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance, ImageFilter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_adaptation import stratified_order  # noqa: E402  (the benchmark's label order)

SHARED = ROOT.parent / "shared" / "datasets" / "msid"
RESULTS = ROOT / "bench" / "results"
WORK = Path(os.environ.get("POXSCREEN_DEV_CACHE", "/tmp/poxscreen-dev-adaptation"))
MISSING = "Measles"
FORGET_N = 80
BN_FROM = ["labelled"]  # whose photos set the mixed BatchNorm statistics: "labelled" or "all"


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _gain(img: Image.Image, rgb: tuple[float, float, float], add: float) -> Image.Image:
    a = np.asarray(img.convert("RGB")).astype(np.float32) * np.array(rgb) + add
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def cam_fluorescent(img: Image.Image) -> Image.Image:
    """Cool cast, close framing (centre 78%), soft focus, JPEG 35."""
    w, h = img.size
    img = img.crop((int(0.11 * w), int(0.11 * h), int(0.89 * w), int(0.89 * h))).resize((w, h))
    img = _gain(img, (0.86, 1.04, 1.18), 0).filter(ImageFilter.GaussianBlur(1.4))
    return _jpeg(img, 35)


def cam_dim_phone(img: Image.Image) -> Image.Image:
    """Dark and noisy, low resolution (a third of the side, back up), framed off-centre left."""
    w, h = img.size
    img = img.crop((0, int(0.10 * h), int(0.84 * w), h)).resize((w, h))
    img = _gain(img, (0.72, 0.70, 0.66), -4)
    noise = np.random.default_rng(w * h).normal(0, 7, (h, w, 3))
    img = Image.fromarray((np.asarray(img) + noise).clip(0, 255).astype(np.uint8))
    img = img.resize((max(1, w // 3), max(1, h // 3)), Image.BILINEAR).resize((w, h))
    return _jpeg(img, 60)


def cam_washed_out(img: Image.Image) -> Image.Image:
    """Over-exposed, desaturated, sharpened, turned a quarter, JPEG 55."""
    img = ImageEnhance.Color(img.convert("RGB")).enhance(0.6)
    img = _gain(img, (1.0, 1.0, 1.0), 0)
    img = ImageEnhance.Brightness(img).enhance(1.25)
    img = ImageEnhance.Contrast(img).enhance(0.8).filter(ImageFilter.SHARPEN)
    return _jpeg(img.transpose(Image.Transpose.ROTATE_90), 55)


CAMERAS = {"fluorescent": cam_fluorescent, "dim_phone": cam_dim_phone, "washed_out": cam_washed_out}

#: Candidate recipes: AdaptRecipe overrides (``bn_share`` mixes BN statistics of all the clinic's
#: photos, labelled or not; ``unlabelled_distill`` uses the clinic's unlabelled photos).
VARIANTS: dict[str, dict[str, float | int]] = {
    "base": {},
    "lr1e-3": {"lr": 1e-3},
    "ep16": {"epochs": 16},
    "lr1e-3_ep16": {"lr": 1e-3, "epochs": 16},
    "distill0.3": {"distill": 0.3},
    "l2sp_lr1e-3": {"lr": 1e-3, "epochs": 16, "l2sp": 1e-3},
    "unlab": {"unlabelled_distill": 0.5},
    "unlab_lr1e-3": {"lr": 1e-3, "epochs": 16, "unlabelled_distill": 0.5},
    "bn0.5": {"bn_share": 0.5},
    "bn1.0": {"bn_share": 1.0},
    "bn0.25": {"bn_share": 0.25},
    "bn0.15": {"bn_share": 0.15},
    "bn0.25_lr1e-3": {"bn_share": 0.25, "lr": 1e-3},
    "bn0.25_d0.7": {"bn_share": 0.25, "distill": 0.7},
    "last_block": {"train_blocks": 1, "l2sp": 1e-3},
}


def stratified_parts(entries: list[dict], k: int, seed: int) -> list[list[dict]]:
    """``entries`` dealt into ``k`` parts, class by class, after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    parts: list[list[dict]] = [[] for _ in range(k)]
    for c in sorted({e["label"] for e in entries}):
        idx = [e for e in entries if e["label"] == c]
        rng.shuffle(idx)
        for i, e in enumerate(idx):
            parts[i % k].append(e)
    return parts


def protocol_photos() -> tuple[list[tuple[Path, str]], dict[str, list[tuple[Path, str]]]]:
    """The forgetting slice (untransformed) and each camera's clinic (transformed JPEGs)."""
    split = json.loads((ROOT / "resources/models/msid_split.json").read_text())["splits"]
    train = sorted(split["train"], key=lambda e: e["sha256"])
    frac = FORGET_N / len(train)
    rng = np.random.default_rng(11)
    forget, rest = [], []
    for c in sorted({e["label"] for e in train}):
        idx = [e for e in train if e["label"] == c]
        rng.shuffle(idx)
        cut = round(frac * len(idx))
        forget += idx[:cut]
        rest += idx[cut:]
    source = lambda e: SHARED / e["label"] / Path(e["path"]).name  # noqa: E731
    clinics = {}
    for (name, cam), part in zip(CAMERAS.items(), stratified_parts(rest, 3, 12), strict=True):
        folder = WORK / name
        folder.mkdir(parents=True, exist_ok=True)
        photos = []
        for e in part:
            target = folder / (Path(e["path"]).stem + ".jpg")
            if not target.exists():
                cam(Image.open(source(e))).save(target, quality=95)
            photos.append((target, e["label"]))
        clinics[name] = photos
    return [(source(e), e["label"]) for e in forget], clinics


class Clinic:
    """One simulated clinic's decoded photos and, per backbone (BN share), cached features."""

    def __init__(self, name: str, photos: list[tuple[Path, str]], meta, forget) -> None:
        from trainer.clinic_run import _decode
        from trainer.data import Sample

        self.name, self.meta = name, meta
        self.classes = list(meta.classes)
        idx = {c: i for i, c in enumerate(self.classes)}
        samples = [Sample(path=p, label=c, sha256="", source="dev") for p, c in photos]
        self.decoded, _ = _decode(samples, meta)
        self.y = np.array([idx[d.sample.label] for d in self.decoded])
        self.forget = forget  # (decoded, y) of the forgetting slice
        self._feats: dict[tuple, object] = {}

    def backbone(self, parent, recipe, pick: list[int]):
        """The parent as the app adapts it (``trainer.adapt.adapted_backbone``: its BatchNorms
        moved ``recipe.bn_share`` towards the photos ``pick``)."""
        from trainer.adapt import adapted_backbone

        return adapted_backbone(parent, [self.decoded[i] for i in pick], self.meta, recipe)

    def features(self, parent, recipe, chosen: list[int]):
        """(labelled photos' cache with recipe.views, the other photos' plain maps, the
        forgetting slice's plain cache, the backbone): with ``BN_FROM == "labelled"`` the
        BatchNorm statistics are mixed from the labelled photos only (the app's way)."""
        from trainer.adapt import cache_features

        everyone = list(np.random.default_rng(5).permutation(len(self.decoded)))
        per_run = recipe.bn_share > 0 and BN_FROM[0] == "labelled"
        key = (
            recipe.bn_share,
            recipe.bn_from,
            recipe.views,
            recipe.train_blocks,
            tuple(chosen) if per_run else None,
        )
        if key not in self._feats:
            model = self.backbone(parent, recipe, list(chosen) if per_run else everyone[:64])
            photos = chosen if per_run else list(range(len(self.decoded)))
            cache = cache_features(
                model, [self.decoded[i] for i in photos], self.y[photos], self.meta, recipe=recipe
            )
            one = dataclasses.replace(recipe, views=1)
            rest = [i for i in range(len(self.decoded)) if i not in set(chosen)] if per_run else []
            rest_cache = cache_features(
                model, [self.decoded[i] for i in rest], self.y[rest], self.meta, recipe=one
            ) if rest else None  # fmt: skip
            fd, fy = self.forget
            fcache = cache_features(model, fd, fy, self.meta, recipe=one)
            self._feats[key] = (cache, rest_cache, fcache, model, photos, rest)
        cache, rest_cache, fcache, model, photos, rest = self._feats[key]
        pos = {p: i for i, p in enumerate(photos)}
        lab = cache.subset([pos[i] for i in chosen])
        others = [i for i in range(len(self.decoded)) if i not in set(chosen)]
        if rest_cache is not None:
            other_maps = rest_cache.features[:, 0]
        else:
            other_maps = cache.features[torch_index(np.array([pos[i] for i in others])), 0]
        return lab, other_maps, fcache, model

    def parent_plain(self, parent):
        """The shipped model's plain-view logits on the clinic and on the forgetting slice."""
        from engine.recipe import ADAPT

        base = dataclasses.replace(ADAPT, views=1, train_blocks=0, bn_share=0.0)
        cache, _, fcache, _ = self.features(parent, base, list(range(len(self.decoded))))
        return cache.parent[:, 0].double().numpy(), fcache.parent[:, 0].double().numpy()


def _scores(y: np.ndarray, logits: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    pred = logits.argmax(1)
    f1 = f1_score(y, pred, average="macro", labels=np.unique(y), zero_division=0)
    return float((pred == y).mean()), float(f1)


def labelled_set(clinic: Clinic, n: int, kind: str, seed: int) -> tuple[list[int], np.ndarray]:
    """The first ``n`` photos of a seeded stratified order (Measles left out for "noM"), and
    their labels (permuted for "shuffled")."""
    order = stratified_order([clinic.classes[t] for t in clinic.y], seed)
    pool = [i for i in order if not (kind == "noM" and clinic.classes[clinic.y[i]] == MISSING)]
    chosen = pool[:n]
    y = clinic.y[chosen].copy()
    if kind == "shuffled":
        y = np.random.default_rng(seed + 1).permutation(y)
    return chosen, y


def one_run(
    clinic: Clinic, parent, recipe, n: int, kind: str, seed: int, quick: bool = False
) -> dict:
    """One clinic fine-tune through the app's pieces; its figures and the rule's verdict."""
    from engine.recipe import DECISION
    from trainer.adapt import FeatureCache, fit_head, head_logits
    from trainer.crossfit import assign_folds, cross_fit
    from trainer.decision import ReferenceCheck, decide_on_clinic_photos
    from trainer.splits import group_near_duplicates

    p_clinic, p_forget = clinic.parent_plain(parent)
    chosen, y = labelled_set(clinic, n, kind, seed)
    sub, other_maps, fcache, backbone = clinic.features(parent, recipe, chosen)
    others = np.array([i for i in range(len(clinic.y)) if i not in set(chosen)])
    sub = FeatureCache(sub.features, sub.parent, y)
    pool = None
    if recipe.unlabelled_distill > 0:
        with_logits = head_logits(backbone, other_maps, recipe)[:, None]
        pool = FeatureCache(other_maps[:, None], with_logits, clinic.y[others])
    groups = group_near_duplicates([clinic.decoded[i].hashes for i in chosen], 10)
    folds = assign_folds(y, groups, DECISION.folds, DECISION.seed)
    t0 = time.monotonic()
    k = len(clinic.classes)
    oof = None if quick else cross_fit(backbone, sub, k, folds, recipe=recipe, unlabelled=pool)
    final = fit_head(backbone, sub, k, recipe=recipe, unlabelled=pool)
    fit_s = time.monotonic() - t0
    fy = clinic.forget[1]
    f_before = _scores(fy, p_forget)
    f_after = _scores(fy, head_logits(final, fcache.features[:, 0], recipe).double().numpy())
    o_before = _scores(clinic.y[others], p_clinic[others])
    after = head_logits(final, other_maps, recipe).double().numpy()
    o_after = _scores(clinic.y[others], after)
    ref = ReferenceCheck(f_after[1], f_before[1], n=len(fy))
    run = {"clinic": clinic.name, "n": n, "kind": kind, "seed": seed, "promoted": None,
           "win": None, "failed": None}  # fmt: skip
    if oof is not None:
        d = decide_on_clinic_photos(
            y, oof, p_clinic[chosen], clinic.classes, ref, active_version="shipped"
        )
        failed = [c for c in ("learnt", "better", "mpox", "reference") if not d.checks[c]["passed"]]
        run.update(promoted=d.activate, win=d.checks["better"]["win_share"], failed=failed,
                   oof_acc=d.new_value, in_use_acc=d.active_value)  # fmt: skip
    return {
        **run, "other_before": o_before[0],
        "other_after": o_after[0], "gain": o_after[0] - o_before[0],
        "forget_acc": f_after[0] - f_before[0], "forget_f1": f_after[1] - f_before[1],
        "fit_s": round(fit_s, 1),
    }  # fmt: skip


def torch_index(idx: np.ndarray):
    import torch

    return torch.as_tensor(idx, dtype=torch.long)


def summarise(runs: list[dict]) -> dict:
    """Per variant: mean gain and forgetting of the real runs, promotions, shuffled promotions."""
    real = [r for r in runs if r["kind"] != "shuffled"]
    shuf = [r for r in runs if r["kind"] == "shuffled"]

    def mean(key: str, rs: list[dict]) -> float | None:
        vals = [r[key] for r in rs if r[key] is not None]
        return round(float(np.mean(vals)), 4) if vals else None

    out = {
        "gain": mean("gain", real), "forget_acc": mean("forget_acc", real),
        "forget_f1": mean("forget_f1", real), "win": mean("win", real),
        "promoted": f"{sum(bool(r['promoted']) for r in real)}/{len(real)}",
        "shuffled_promoted": f"{sum(bool(r['promoted']) for r in shuf)}/{len(shuf)}",
        "fit_s": mean("fit_s", runs),
    }  # fmt: skip
    for kind in sorted({r["kind"] for r in real}):
        rs = [r for r in real if r["kind"] == kind]
        out[kind] = {"gain": mean("gain", rs), "forget_f1": mean("forget_f1", rs),
                     "promoted": sum(bool(r["promoted"]) for r in rs)}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["base"])
    ap.add_argument("--n", type=int, nargs="+", default=[40])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--kinds", nargs="+", default=["all", "noM", "shuffled"])
    ap.add_argument("--clinics", nargs="+", default=list(CAMERAS))
    ap.add_argument("--bn-from", choices=["labelled", "all"], default="labelled")
    ap.add_argument("--quick", action="store_true", help="final model only: no cross-fitting")
    ap.add_argument("--tag", default="", help="suffix of the saved variant names")
    args = ap.parse_args(argv)
    BN_FROM[0] = args.bn_from
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    from engine import paths
    from engine.checkpoint import load_model
    from engine.recipe import ADAPT
    from trainer.clinic_run import _decode
    from trainer.data import Sample

    parent, meta = load_model(paths.default_model_path())
    parent.eval()
    forget_photos, clinic_photos = protocol_photos()
    fd, _ = _decode(
        [Sample(path=p, label=c, sha256="", source="dev") for p, c in forget_photos], meta
    )
    fy = np.array([list(meta.classes).index(d.sample.label) for d in fd])
    clinics = [Clinic(c, clinic_photos[c], meta, (fd, fy)) for c in args.clinics]
    out_path = RESULTS / "adaptation_dev.json"
    saved = json.loads(out_path.read_text()) if out_path.exists() else {}
    for name in args.variants:
        recipe = dataclasses.replace(ADAPT, **VARIANTS[name])
        runs = []
        for clinic in clinics:
            for n in args.n:
                for seed in args.seeds:
                    for kind in args.kinds:
                        r = one_run(clinic, parent, recipe, n, kind, seed, args.quick)
                        runs.append(r)
                        print(json.dumps(r), flush=True)
        save_variant(out_path, saved, name + args.tag, VARIANTS[name], runs)
    return 0


def save_variant(out_path: Path, saved: dict, key: str, recipe: dict, runs: list[dict]) -> None:
    """Record one variant's runs and summary in ``out_path`` (merged with earlier variants)."""
    saved[key] = {"recipe": recipe, "summary": summarise(runs), "runs": runs}
    print(key, json.dumps(saved[key]["summary"]), flush=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    sys.exit(main())
