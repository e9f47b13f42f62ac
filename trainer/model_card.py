"""Render a model card (Markdown) from a model file and its evaluation report.

Usage: ``python -m trainer.model_card MODEL REPORT_JSON OUT_MD [--split SPLIT_JSON]``. The figures
come straight from the evaluation report, so the card never drifts from what ``make evaluate``
reproduces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.checkpoint import ModelMeta, read_meta

INTENDED_USE = """\
## Intended use
A **screening aid, not a diagnosis**. PoxScreen sorts skin photos into Chickenpox, Measles,
Monkeypox (Mpox) or Normal skin so a clinician can prioritise review; every result needs a
clinician's judgement, and the Grad-CAM overlay shows which part of the photo drove it. Do not
use it to rule a disease in or out, on patients or lesions unlike the training photos, or
without clinical examination and, where indicated, laboratory confirmation (PCR for Mpox)."""

LIMITATIONS = """\
## Known limitations
- **Web-scraped photos.** MSID was collected from the internet: image quality, framing and
  compression differ from a clinic's camera. Expect lower accuracy on real clinic photos until
  the model is fine-tuned on locally corrected cases.
- **The Normal class is mostly stock and portrait photos** rather than close-ups of healthy skin,
  so a model can separate Normal by photo style; normal-skin close-ups may be misread.
- **Small data.** 605 photos in all, 84 Chickenpox and 72 Measles; the test split is small, so
  each per-class figure in this card has a wide confidence interval (one photo of 10 Measles = 0.10 recall).
- **No skin-tone analysis.** The data set records no skin type; performance across skin tones
  is unknown and may be uneven.
- **Four classes only.** Other rashes (e.g. herpes zoster, hand-foot-and-mouth, scabies, drug
  eruptions) will be forced into one of the four classes; use "refer / uncertain".
- Near-duplicates (re-encodes, mirror images) were grouped so that none straddles splits."""


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _train_flags(t: dict[str, Any]) -> str:
    """The trainer flags that re-run this model's recipe."""
    flags = {
        "--epochs": t.get("fit_epochs"),
        "--patience": t.get("fit_patience"),
        "--lr": t.get("fit_lr"),
        "--batch-size": t.get("fit_batch_size"),
        "--freeze": t.get("freeze"),
        "--balance": t.get("fit_balance"),
        "--weight-decay": t.get("fit_weight_decay"),
        "--schedule": t.get("fit_schedule"),
        "--seed": t.get("fit_seed"),
    }
    return " ".join(f"{k} {v}" for k, v in flags.items() if v is not None)


def render(
    meta: ModelMeta, report: dict[str, Any], split: dict[str, Any] | None, notes: str = ""
) -> str:
    m = report["metrics"]
    cal = report.get("calibration", {})
    classes = m["classes"]
    lines = [
        f"# Model card: {meta.name} (`{meta.content_hash[:12]}`)",
        "",
        "MobileNetV2-MSCA-PFR (3,680,260 parameters, ~727 MFLOPs per 224x224 image), fine-tuned "
        "from an ImageNet MobileNetV2 backbone (converted from Google's TFLite model, Apache-2.0).",
        "",
        f"- File: `resources/models/default.safetensors` (identity `{meta.content_hash}`: "
        f"weights `{meta.weights_hash}` plus the output-changing metadata)",
        f"- Classes (in output order): {', '.join(classes)}",
        f"- Input: {meta.input_size}x{meta.input_size} RGB, whole photo resized (no crop), "
        f"mean {meta.mean}, std {meta.std}, TF-style padding",
        f"- Created: {meta.created_at}; temperature (calibration) {meta.temperature:.3f}",
        "",
        INTENDED_USE,
        "",
        "## Training data",
        "Monkeypox Skin Images Dataset (MSID), D. Bala and M. S. Hossain, Mendeley Data V6, "
        "doi:10.17632/r9bfpnvyxr.6, licensed **CC BY 4.0** (cite Bala & Hossain, 2023). A "
        "de-duplicated subset of 605 photos (224x224) was used; the images are not distributed "
        "with PoxScreen.",
        "",
    ]
    if split:
        lines += [
            "| split | " + " | ".join(classes) + " | total |",
            "|---|" + "---|" * (len(classes) + 1),
        ]
        for name in ("train", "val", "test"):
            c = split["counts"].get(name, {})
            lines.append(
                f"| {name} | "
                + " | ".join(str(c.get(k, 0)) for k in classes)
                + f" | {sum(c.values())} |"
            )
        lines += [
            "",
            f"Grouped, stratified split (seed {split.get('seed')}; near-duplicates by "
            f"perceptual hash incl. mirror images, Hamming distance <= {split.get('threshold')})"
            ", recorded in `resources/models/msid_split.json`. Validation chose the epoch and "
            "fitted the temperature; the test split was used only for the figures below.",
            "",
        ]
    lines += [
        "## Training recipe",
        "```json",
        json.dumps(
            {k: v for k, v in meta.training.items() if k != "split_counts"},
            indent=1,
            sort_keys=True,
        ),
        "```",
        "",
        f"## Results on the held-out test split (n = {m['n']})",
        "",
        f"- Accuracy **{_f(m['accuracy'])}**, macro-F1 **{_f(m['macro_f1'])}**, "
        f"weighted-F1 {_f(m['weighted_f1'])}, MCC {_f(m['mcc'])}, "
        f"balanced accuracy {_f(m['balanced_accuracy'])}, macro ROC-AUC {_f(m.get('macro_roc_auc'))}",
        f"- Calibration: ECE {_f(cal.get('ece_calibrated', m.get('ece')))} with temperature "
        f"{meta.temperature:.2f} (ECE {_f(cal.get('ece_uncalibrated'))} at T = 1), "
        f"NLL {_f(m.get('nll'))}",
        "",
        "| class | precision | recall | F1 | ROC-AUC | AP | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in classes:
        pc = m["per_class"][c]
        lines.append(
            f"| {c} | {_f(pc['precision'])} | {_f(pc['recall'])} | {_f(pc['f1'])} | "
            f"{_f(pc.get('roc_auc'))} | {_f(pc.get('average_precision'))} | "
            f"{pc['support']} |"
        )
    lines += [
        "",
        "Confusion matrix (rows: true class, columns: predicted):",
        "",
        "| true \\ predicted | " + " | ".join(classes) + " |",
        "|---|" + "---|" * len(classes),
    ]
    for c, row in zip(classes, m["confusion_matrix"], strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    lines += [
        "",
        LIMITATIONS,
        "",
        "## Reproduce",
        "```bash",
        "make evaluate            # test-split figures of the shipped model (needs ../shared)",
        "python -m trainer train --data ../shared/datasets/msid --init imagenet \\",
        "    --split resources/models/msid_split.json --no-register --out runs/msid \\",
        "    " + _train_flags(meta.training),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("report")
    parser.add_argument("out")
    parser.add_argument("--split")
    parser.add_argument("--notes", help="Markdown file to include (e.g. how the model was chosen)")
    args = parser.parse_args(argv)
    meta = read_meta(args.model)
    report = json.loads(Path(args.report).read_text())
    split = json.loads(Path(args.split).read_text()) if args.split else None
    notes = Path(args.notes).read_text(encoding="utf-8") if args.notes else ""
    Path(args.out).write_text(render(meta, report, split, notes), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
