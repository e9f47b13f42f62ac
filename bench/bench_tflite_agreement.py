"""How closely the committed PyTorch ImageNet MobileNetV2 reproduces the TFLite original.

On every MSID photo (../shared/datasets/msid/*/*.png) and the four ImageNet samples: top-1
agreement, top-5 (TFLite's top-1 among PyTorch's five best) and the mean per-image Pearson
correlation of the 1000 logits, for TF "SAME" padding and for stock symmetric padding, against
TFLite run with its builtin (reference) kernels and with the default XNNPACK delegate (their
int8 rounding differs slightly). Needs ../shared and ai-edge-litert (dev dependency).

    python bench/bench_tflite_agreement.py [--shared DIR]

Writes bench/results/tflite_agreement.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.model.backbone import set_padding_mode  # noqa: E402
from engine.model.imagenet import load_imagenet_classifier  # noqa: E402
from engine.model.tflite_reference import (  # noqa: E402
    TFLiteClassifier,
    agreement,
    load_pixels,
    torch_logits,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TFLITE = "tf2_mobilenet_v2_1.0_224_ptq.tflite"
KERNELS = ("builtin", "xnnpack")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    tflite = args.shared / "weights" / TFLITE
    photos = sorted((args.shared / "datasets" / "msid").glob("*/*.png"))
    samples = sorted((args.shared / "weights" / "imagenet_samples").glob("*"))
    if not tflite.is_file() or not photos:
        print(f"needs {tflite} and MSID photos under {args.shared}", file=sys.stderr)
        return 1

    model, info = load_imagenet_classifier()
    labels = info["labels"]
    pixels = [load_pixels(p) for p in photos]
    sample_pixels = [load_pixels(p) for p in samples]

    refs, ref_samples, report = {}, {}, {"photos": len(photos), "tflite": TFLITE}
    report["machine"] = platform.platform()
    for kernels in KERNELS:
        ref_model = TFLiteClassifier(tflite, delegates=kernels == "xnnpack")
        start = time.perf_counter()
        refs[kernels] = np.stack([ref_model.logits(p) for p in pixels])
        report[f"tflite_{kernels}_seconds"] = round(time.perf_counter() - start, 2)
        ref_samples[kernels] = np.stack([ref_model.logits(p) for p in sample_pixels])
    print(f"{len(photos)} MSID photos")
    print(f"{'padding':<10} {'TFLite kernels':<15} {'top-1':>7} {'top-5':>7} {'corr':>7}")
    report["modes"] = {}
    for mode in ("tf", "symmetric"):
        set_padding_mode(model.features, mode)
        start = time.perf_counter()
        ours = torch_logits(model, pixels, args.batch_size)
        entry: dict = {"torch_seconds": round(time.perf_counter() - start, 2)}
        ours_samples = torch_logits(model, sample_pixels)
        for kernels in KERNELS:
            stats = agreement(ours, refs[kernels])
            entry[kernels] = stats
            print(
                f"{mode:<10} {kernels:<15} {stats['top1']:>7.1%} {stats['top5']:>7.1%}"
                f" {stats['corr']:>7.4f}"
            )
        entry["samples"] = {
            p.name: {"torch": labels[int(o.argmax())]}
            | {f"tflite_{k}": labels[int(ref_samples[k][i].argmax())] for k in KERNELS}
            for i, (p, o) in enumerate(zip(samples, ours_samples, strict=True))
        }
        report["modes"][mode] = entry
    # The int8 noise floor: how far two TFLite kernel sets agree with each other.
    floor = agreement(refs["xnnpack"], refs["builtin"])
    report["tflite_xnnpack_vs_builtin"] = floor
    print(
        f"{'(TFLite xnnpack vs builtin)':<26} {floor['top1']:>7.1%} {floor['top5']:>7.1%}"
        f" {floor['corr']:>7.4f}"
    )
    for mode, entry in report["modes"].items():
        for name, pred in entry["samples"].items():
            print(f"  [{mode}] {name}: " + ", ".join(f"{k} {v!r}" for k, v in pred.items()))

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "tflite_agreement.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
