"""The retrain loop as a new clinic lives it: label N photos, fine-tune, is the model promoted?

The clinic: the shipped model's recorded **validation part** of MSID (86 photos in
``resources/models/msid_split.json``; the model never trained on them; the reference set is
the *test* part and is not used here), each photo passed through one fixed "other camera":
- framing: the crop keeps x 12-94% and y 4-86% of the photo (off-centre), resized back;
- colour cast: warm light, red x1.12, blue x0.80, +6 on every channel;
- blur: Gaussian, radius 1.0 px at 224 px;
- JPEG quality 40.
The clinic first screens all its photos (``poxscreen screen`` into a store, once); for each N in
10, 20, 40, 80 (capped at the photos available) the first N photos of one seeded,
class-stratified order (``--seed``, 0 by default) are then labelled in a fresh copy of that
store, once with every class and once with Measles missing (the clinic has not seen any yet), and ``poxscreen train --from-store``'s
code path (``trainer.train.run_training``) runs from the shipped model, without force. Two
controls label N = 20 and 40 with the labels shuffled: both must be refused.
Reported per row: accuracy and macro-F1 (and Mpox recall) on the clinic's other photos and on
the reference set,
before (shipped model) and after (the fine-tuned model, promoted or not), the decision and its
reason, the wall time. Writes bench/results/adaptation.json. Needs ``../shared``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see trainer/__main__.py: before torch

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "datasets" / "msid"
RESULTS = ROOT / "bench" / "results"
MISSING = "Measles"


def other_camera(img: Image.Image) -> Image.Image:
    """The fixed "other camera" (module docstring)."""
    w, h = img.size
    img = img.crop((int(0.12 * w), int(0.04 * h), int(0.94 * w), int(0.86 * h)))
    img = img.resize((w, h), Image.BILINEAR)
    a = np.asarray(img.convert("RGB")).astype(np.float32) * np.array([1.12, 1.0, 0.80]) + 6
    img = Image.fromarray(a.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=40)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def clinic_photos(folder: Path) -> list[tuple[Path, str]]:
    """The clinic's photos: the validation part, through the other camera, as JPEG files."""
    split = json.loads((ROOT / "resources/models/msid_split.json").read_text())["splits"]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for entry in split["val"]:
        name = Path(entry["path"]).name
        target = folder / (Path(name).stem + ".jpg")
        if not target.exists():
            other_camera(Image.open(SHARED / entry["label"] / name)).save(target, quality=95)
        out.append((target, entry["label"]))
    return out


def stratified_order(labels: list[str], seed: int = 0) -> list[int]:
    """One seeded order in which every prefix holds the classes in their overall proportions."""
    rng = np.random.default_rng(seed)
    keyed = []
    for c in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == c]
        rng.shuffle(idx)
        keyed += [((k + rng.random()) / len(idx), i) for k, i in enumerate(idx)]
    return [i for _, i in sorted(keyed)]


def score(model_path: Path, photos: list[tuple[Path, str]]) -> dict[str, float]:
    """Accuracy and macro-F1 of a model file on labelled photos (the app's preprocessing)."""
    import torch

    from engine.checkpoint import load_model
    from trainer.data import Sample
    from trainer.evaluate import score_samples

    model, meta = load_model(model_path)
    samples = [Sample(path=p, label=c, sha256="", source="bench") for p, c in photos]
    m = score_samples(model, meta, samples, torch.device("cpu")).metrics
    mpox = m.get("per_class", {}).get("Monkeypox", {})
    return {"accuracy": round(m["accuracy"], 3), "macro_f1": round(m["macro_f1"], 3),
            "mpox_recall": round(mpox["recall"], 3) if mpox.get("support") else None}  # fmt: skip


def screened_store(folder: Path, work: Path) -> Path:
    """A store in which the clinic screened every photo of ``folder`` (the shipped model)."""
    from engine.cli import main as poxscreen

    db = work / "screened.db"
    code = poxscreen(["screen", str(folder), "--db", str(db), "--quiet"])
    if code != 0:
        raise SystemExit(f"screening the clinic's photos failed (exit {code})")
    return db


def one_run(
    photos: list[tuple[Path, str]],
    labelled: list[int],
    shuffle: bool,
    work: Path,
    screened: Path,
    recipe: dict[str, object],
) -> dict[str, object]:
    """Label ``labelled`` in a fresh copy of the screened store, fine-tune through the app's
    path, report."""
    import dataclasses
    import shutil

    from engine.recipe import ADAPT
    from engine.store import Store
    from trainer.class_plan import NotEnoughLabels
    from trainer.progress import Reporter
    from trainer.train import TrainOptions, run_training

    db = work / "case.db"
    shutil.copyfile(screened, db)
    labels = [photos[i][1] for i in labelled]
    if shuffle:
        labels = list(np.random.default_rng(1).permutation(labels))
    with Store.open(db) as store:
        for i, label in zip(labelled, labels, strict=True):
            store.label(photos[i][0], label, who="bench")
    t0 = time.monotonic()
    with open(work / "progress.jsonl", "w", encoding="utf-8") as log:
        try:
            report = run_training(
                TrainOptions(
                    from_store=True,
                    db=str(db),
                    out=work / "run",
                    adapt=dataclasses.replace(ADAPT, **recipe),  # type: ignore[arg-type]
                ),  # fmt: skip
                Reporter(log, bar=False),
            )
        except NotEnoughLabels as exc:  # the command's exit 2: nothing trained, nothing changed
            return {"model": None, "promoted": False, "reason": f"refused (exit 2): {exc}",
                    "plain": [], "wall_s": round(time.monotonic() - t0, 1), "classes": []}  # fmt: skip
    wall = time.monotonic() - t0
    promo = report["promotion"]
    return {"model": report["model"], "promoted": bool(promo["activate"]), "reason": promo["reason"],
            "plain": promo.get("plain", []), "wall_s": round(wall, 1), "classes": report["classes"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40, 80])
    ap.add_argument("--no-controls", action="store_true")
    ap.add_argument("--seed", type=int, default=0, help="of the labelled photos' order")
    ap.add_argument(
        "--bn-share", type=float, default=None,
        help="informational: the recipe with this BatchNorm share instead of the default",
    )  # fmt: skip
    ap.add_argument(
        "--bn-pool", choices=("clinic", "labelled"), default=None,
        help="informational: whose photos set the BatchNorm statistics, instead of the default",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found (the benchmark needs MSID)")
        return 0
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from engine import paths
    from engine.reference import reference_set

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos = clinic_photos(Path(tmp) / "clinic")
        screened = screened_store(Path(tmp) / "clinic", Path(tmp))
        recipe = {k: v for k, v in (("bn_share", args.bn_share), ("bn_pool", args.bn_pool))
                  if v is not None}  # fmt: skip
        reference = reference_set()
        shipped = paths.default_model_path()
        ref_before = score(shipped, reference)
        order = stratified_order([c for _, c in photos], args.seed)
        plans = [(n, "all classes", False) for n in args.sizes]
        plans += [(n, f"no {MISSING}", False) for n in args.sizes]
        plans += [] if args.no_controls else [(20, "shuffled", True), (40, "shuffled", True)]
        for k, (n, kind, shuffle) in enumerate(plans):
            pool = [i for i in order if not (kind.startswith("no ") and photos[i][1] == MISSING)]
            labelled = pool[:n]
            others = [photos[i] for i in range(len(photos)) if i not in set(labelled)]
            work = Path(tmp) / f"run{k}"
            work.mkdir()
            run = one_run(photos, labelled, shuffle, work, screened, recipe)
            after = Path(run["model"]) if run["model"] else shipped  # refused: nothing changed
            row = {"n": len(labelled), "kind": kind, "n_other": len(others), **run,
                   "other_before": score(shipped, others), "other_after": score(after, others),
                   "reference_before": ref_before, "reference_after": score(after, reference)}  # fmt: skip
            rows.append(row)
            print(
                f"N={row['n']:3d} {kind:12s} other {row['other_before']['accuracy']:.3f}->"
                f"{row['other_after']['accuracy']:.3f} (F1 {row['other_before']['macro_f1']:.3f}->"
                f"{row['other_after']['macro_f1']:.3f}, {len(others)} photos)  reference "
                f"{ref_before['accuracy']:.3f}->{row['reference_after']['accuracy']:.3f}  Mpox recall "
                f"{row['other_before']['mpox_recall']}->{row['other_after']['mpox_recall']}  "
                f"{'PROMOTED' if row['promoted'] else 'kept'}  {row['wall_s']:.0f}s  {row['reason']}",
                flush=True,
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "adaptation.json" if args.bn_share is None else f"adaptation_bn{args.bn_share}.json"
    name = name if args.bn_pool is None else name.replace(".json", f"_{args.bn_pool}.json")
    name = name if args.seed == 0 else name.replace(".json", f"_seed{args.seed}.json")
    (RESULTS / name).write_text(json.dumps({"rows": rows}, indent=2, default=str))
    bad = [r for r in rows if r["kind"] == "shuffled" and r["promoted"]]
    if bad:
        print(f"FAILED: a shuffled-label control was promoted ({len(bad)})", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
