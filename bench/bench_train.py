"""Training throughput on this machine (CPU): images per second at 224x224, batch 32, for the
recipe's frozen backbone (first 45% of blocks frozen) against nothing frozen.

Each setting runs the trainer's real step: augmentation of cached training copies, forward,
cross-entropy, backward, Adam. Photos are MSID when ``../shared`` is present, else generated.
Run with ``make bench`` or ``python bench/bench_train.py [--steps N]``; writes
bench/results/train.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see trainer/__main__.py: before torch

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.bn import freeze_backbone, reestimate_bn  # noqa: E402
from trainer.data import (  # noqa: E402
    TrainDataset,
    cache_size_for,
    decode_samples,
    merge_samples,
    scan_image_folder,
    train_transform,
)
from trainer.fit import FitConfig, make_train_loader  # noqa: E402
from trainer.initial_model import imagenet_model  # noqa: E402
from trainer.splits import phash_pair  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MSID = ROOT.parent / "shared" / "datasets" / "msid"


def generated_folder(root: Path, per_class: int = 24) -> Path:
    for c in ("Chickenpox", "Measles", "Monkeypox", "Normal"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng(hash((c, i)) % 2**32)
            small = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
            Image.fromarray(small).resize((224, 224), Image.BICUBIC).save(root / c / f"{i}.png")
    return root


def measure(freeze: float, data: TrainDataset, steps: int, batch: int) -> dict[str, float]:
    model, _ = imagenet_model(["Chickenpox", "Measles", "Monkeypox", "Normal"], seed=0)
    reestimate_bn(model, [torch.stack([data[i][0] for i in range(min(64, len(data)))])])
    freeze_backbone(model, freeze)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    cfg = FitConfig(batch_size=batch, seed=0)
    times: list[float] = []
    done = 0
    while done < steps + 1:
        for x, y in make_train_loader(data, data.targets, 4, cfg):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
            dt = time.perf_counter() - t0
            if done > 0:  # the first step warms up allocators and kernels
                times.append(dt / len(y))
            done += 1
            if done >= steps + 1:
                break
    # with the loader: augmentation cost included (one full timed pass over `steps` batches)
    t0 = time.perf_counter()
    seen = 0
    for k, (x, y) in enumerate(make_train_loader(data, data.targets, 4, cfg)):
        if k >= steps:
            break
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        seen += len(y)
    total = time.perf_counter() - t0
    trainable = sum(p.numel() for p in params)
    return {
        "freeze": freeze,
        "trainable_params": trainable,
        "step_images_per_s": 1.0 / statistics.median(times),
        "with_augmentation_images_per_s": seen / total,
        "steps": steps,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = MSID if MSID.is_dir() else generated_folder(Path(tmp) / "gen")
        samples, _ = merge_samples(scan_image_folder(folder)[0])
        _, meta = imagenet_model(["a", "b"], seed=0)
        samples = samples[:: max(1, len(samples) // 160)]  # ~160 photos are plenty for timing
        decoded, _ = decode_samples(samples, cache_size_for(meta), phash_pair)
        classes = sorted({d.sample.label for d in decoded})
        data = TrainDataset(decoded, {c: i for i, c in enumerate(classes)}, train_transform(meta))
        rows = [measure(f, data, args.steps, args.batch) for f in (0.45, 0.0)]
    frozen, unfrozen = rows
    result = {
        "device": "cpu",
        "input_size": 224,
        "batch": args.batch,
        "steps": args.steps,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_1m": os.getloadavg()[0],
        "data": "MSID" if MSID.is_dir() else "generated",
        "rows": rows,
        "speedup_frozen_vs_unfrozen": frozen["step_images_per_s"] / unfrozen["step_images_per_s"],
        "epoch_seconds_510_photos": {
            f"freeze {r['freeze']}": 510 / r["with_augmentation_images_per_s"] for r in rows
        },
    }
    print(
        f"{'backbone':<22}{'trainable':>12}{'img/s (step)':>14}{'img/s (+aug)':>14}"
        f"{'s/epoch (510)':>15}"
    )
    for r in rows:
        name = "45% frozen" if r["freeze"] else "nothing frozen"
        print(
            f"{name:<22}{r['trainable_params']:>12,}{r['step_images_per_s']:>14.1f}"
            f"{r['with_augmentation_images_per_s']:>14.1f}"
            f"{510 / r['with_augmentation_images_per_s']:>15.1f}"
        )
    print(
        f"frozen/unfrozen speed-up: {result['speedup_frozen_vs_unfrozen']:.2f}x "
        f"({result['threads']} threads, load average {result['load_average_1m']:.1f})"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
