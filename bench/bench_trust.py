"""Benchmark: the out-of-scope guard's and the photo-quality check's rates and cost per image.

Rates: guard flags on pictures that are not skin photos (``tests/ood_pictures.py`` plus the
shared ImageNet samples, portrait excluded) and on the held-out test part of MSID; quality flags
on the shared photos as they are and degraded on purpose (blur sigma 3 px at 224 px, darkened to
a fifth, brightened 2.5x), with the shipped model's accuracy on degraded held-out photos that
were flagged versus not. Cost: guard scoring per image, quality check per image (224 px and a
reduced 12 MP decode), OpenCV's import.

Run from the repository root: ``.venv/bin/python bench/bench_trust.py`` (needs ../shared; set
POXSCREEN_SHARED otherwise). Prints a table, writes ``bench/results/trust.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.images import load_image, sha256_file  # noqa: E402
from engine.paths import default_model_path  # noqa: E402
from engine.predictor import Predictor  # noqa: E402
from engine.quality import check_quality  # noqa: E402
from tests.ood_pictures import generated, imagenet_samples  # noqa: E402

SHARED = Path(os.environ.get("POXSCREEN_SHARED", ROOT.parent / "shared"))
RESULTS = ROOT / "bench" / "results" / "trust.json"
DEGRADE = {
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(3 * min(im.size) / 224)),
    "dark": lambda im: Image.fromarray((np.asarray(im).astype(float) / 5).astype(np.uint8)),
    "bright": lambda im: Image.fromarray(
        np.clip(np.asarray(im).astype(float) * 2.5, 0, 255).astype(np.uint8)
    ),
}


def predict(pr: Predictor, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    probs, feats = [], []
    for i in range(0, len(images), 32):
        p, f = pr.predict_with_features(
            torch.stack([pr.transform(im) for im in images[i : i + 32]])
        )
        probs.append(p.numpy())
        feats.append(f)
    return np.concatenate(probs), np.concatenate(feats)


def guard_rates(pr: Predictor, held_out: list[Image.Image]) -> dict[str, object]:
    kinds, pictures = [], []
    for kind, im in generated(per_kind=15):
        kinds.append(kind)
        pictures.append(im)
    for kind, path in imagenet_samples(SHARED / "weights" / "imagenet_samples"):
        kinds.append(kind)
        pictures.append(load_image(path))
    _, feats = predict(pr, pictures)
    flags = pr.guard.score(feats) > 1.0  # type: ignore[union-attr]
    per_kind = {k: float(np.mean(flags[np.array(kinds) == k])) for k in dict.fromkeys(kinds)}
    _, held_feats = predict(pr, held_out)
    t0 = time.perf_counter()
    for _ in range(20):
        pr.guard.score(held_feats)  # type: ignore[union-attr]
    per_image_us = (time.perf_counter() - t0) / 20 / len(held_feats) * 1e6
    return {
        "not_skin_flagged": float(flags.mean()),
        "not_skin_n": len(flags),
        "per_kind": per_kind,
        "held_out_flagged": float(np.mean(pr.guard.score(held_feats) > 1.0)),  # type: ignore[union-attr]
        "held_out_n": len(held_feats),
        "score_us_per_image": per_image_us,
    }


def quality_rates(pr: Predictor, photos, held_out, labels) -> dict[str, object]:
    out: dict[str, object] = {"photos": len(photos)}
    out["flagged_original"] = float(np.mean([bool(check_quality(im).issues) for im in photos]))
    classes = pr.classes
    for name, fn in DEGRADE.items():
        out[f"flagged_{name}"] = float(
            np.mean([bool(check_quality(fn(im)).issues) for im in photos])
        )
        degraded = [fn(im) for im in held_out]
        flagged = np.array([bool(check_quality(im).issues) for im in degraded])
        probs, _ = predict(pr, degraded)
        right = np.array([classes[i] for i in probs.argmax(1)]) == np.array(labels)
        out[f"accuracy_{name}"] = {
            "all": float(right.mean()),
            "flagged": float(right[flagged].mean()) if flagged.any() else None,
            "unflagged": float(right[~flagged].mean()) if (~flagged).any() else None,
            "n_flagged": int(flagged.sum()),
            "n": len(right),
        }
    probs, _ = predict(pr, held_out)
    out["accuracy_original"] = float(
        np.mean(np.array([classes[i] for i in probs.argmax(1)]) == np.array(labels))
    )
    return out


def cost() -> dict[str, float]:
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
    big = Image.fromarray(rng.integers(0, 255, (750, 1000, 3), dtype=np.uint8))  # 12 MP at 1/4
    res = {}
    for name, im in (("quality_ms_224", small), ("quality_ms_1000x750", big)):
        check_quality(im)
        t0 = time.perf_counter()
        for _ in range(50):
            check_quality(im)
        res[name] = (time.perf_counter() - t0) / 50 * 1e3
    code = "import time; t=time.perf_counter(); import cv2; print(time.perf_counter()-t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(3)]
    res["opencv_import_s"] = min(runs)
    return res


def main() -> int:
    msid = SHARED / "datasets" / "msid"
    if not msid.is_dir():
        print(f"{msid} not found: set POXSCREEN_SHARED", file=sys.stderr)
        return 1
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    pr = Predictor.from_file(default_model_path(), device="cpu")
    split = json.loads((ROOT / "resources" / "models" / "msid_split.json").read_text())
    held = {e["sha256"]: part for part in ("val", "test") for e in split["splits"][part]}
    paths = sorted(msid.rglob("*.png"))
    photos = [load_image(p) for p in paths]
    parts = [held.get(sha256_file(p)) for p in paths]
    test = [im for im, part in zip(photos, parts, strict=True) if part == "test"]
    held_out = [im for im, part in zip(photos, parts, strict=True) if part]
    labels = [p.parent.name for p, part in zip(paths, parts, strict=True) if part]
    results = {
        "model": pr.version,
        "guard": guard_rates(pr, test),
        "quality": quality_rates(pr, photos, held_out, labels),
        "cost": cost(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    g, q, c = results["guard"], results["quality"], results["cost"]
    print(f"{'measure':48s} value")
    print(
        f"{'guard: not-skin pictures flagged':48s} {g['not_skin_flagged']:.3f} (n={g['not_skin_n']})"
    )
    print(
        f"{'guard: held-out test photos flagged':48s} {g['held_out_flagged']:.3f} (n={g['held_out_n']})"
    )
    print(f"{'guard: scoring cost per image (us)':48s} {g['score_us_per_image']:.1f}")
    for k in ("original", "blur", "dark", "bright"):
        print(f"{'quality: flagged, ' + k:48s} {q['flagged_' + k]:.3f}")
    for k in ("blur", "dark", "bright"):
        a = q["accuracy_" + k]
        print(
            f"{'accuracy on degraded held-out, ' + k:48s} all {a['all']:.3f}  flagged "
            f"{a['flagged']}  unflagged {a['unflagged']}  ({a['n_flagged']}/{a['n']} flagged)"
        )
    print(f"{'accuracy on held-out as they are':48s} {q['accuracy_original']:.3f}")
    for k, v in c.items():
        print(f"{'cost: ' + k:48s} {v:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
