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

import numpy as np

from engine.atomic import atomic_write_text
from engine.checkpoint import ModelMeta, read_meta
from engine.referral import DEFAULT_REFERRAL_RULE
from trainer.thresholds import rule_figures

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


UNMEASURED = """\
## Not measured
- **Skin tone, body site, age and sex**: MSID carries no such labels, so no figure in this card
  can be broken down by them; performance on darker skin, on genital or mucosal lesions and on
  children is unknown.
- **Real clinic photos**: every figure here is on web photos; no prospective evaluation exists."""

MPOX = DEFAULT_REFERRAL_RULE.mpox_class


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes of n (sound at 10 photos, unlike k/n +- 2se)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ci(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n:.3f} ({lo:.2f}-{hi:.2f})" if n else "n/a"


def trust_section(meta: ModelMeta, report: dict[str, Any]) -> list[str]:
    """Per-class figures with 95% CIs, Mpox sensitivity/specificity at the referral rule, and
    the out-of-scope guard's fitting facts."""
    m = report["metrics"]
    classes, cm = m["classes"], m["confusion_matrix"]
    lines = [
        "Per class, test split, with 95% Wilson intervals:",
        "",
        "| class | recall (95% CI) | precision (95% CI) |",
        "|---|---|---|",
    ]
    for i, c in enumerate(classes):
        tp, row, col = cm[i][i], sum(cm[i]), sum(r[i] for r in cm)
        lines.append(f"| {c} | {_ci(tp, row)} | {_ci(tp, col)} |")
    lines += _referral_lines(classes, report.get("images", []))
    g = meta.guard
    lines += [
        "",
        "## Out-of-scope guard",
        (
            f"Statistics of the pooled backbone features ({g.get('components')} principal "
            f"components + residual) from {g.get('n_fit')} training photos; threshold set on "
            f"{g.get('n_threshold')} {g.get('threshold_from')} so that at least "
            f"{g.get('pass_quantile', 0):.0%} pass ({g.get('val_flagged', 0):.1%} flagged)."
            if g and "components" in g
            else "Guard unavailable: this model file carries no out-of-scope statistics."
        ),
    ]
    return lines


def _referral_lines(classes: list[str], images: list[dict[str, Any]]) -> list[str]:
    """Mpox sensitivity and specificity of the app's default referral rule on these photos."""
    if MPOX not in classes or not images or "probabilities" not in images[0]:
        return []
    rule = DEFAULT_REFERRAL_RULE
    y = np.array([classes.index(im["label"]) for im in images])
    probs = np.array([im["probabilities"] for im in images], dtype=np.float64)
    fig = rule_figures(y, probs, classes.index(MPOX), rule.min_confidence, rule.mpox_above)
    n_pos = int((y == classes.index(MPOX)).sum())
    n_neg = len(y) - n_pos
    return [
        "",
        f"Mpox at the default referral rule (refer when P(Mpox) > {rule.mpox_above} or the top "
        f"confidence is below {rule.min_confidence}; thresholds chosen on out-of-fold validation "
        f"predictions, not on this split): sensitivity (Mpox photos referred) "
        f"{_ci(round(fig.mpox_sensitivity * n_pos), n_pos)}, specificity (other photos not "
        f"referred) {_ci(round(fig.mpox_specificity * n_neg), n_neg)}; "
        f"{fig.referred:.0%} of photos referred, accuracy of the rest {fig.unreferred_accuracy:.3f}.",
    ]


def _ms(x: dict[str, float]) -> str:
    return f"{x['mean']:.3f} ± {x['sd']:.3f}"


def cv_section(summary: dict[str, Any]) -> list[str]:
    """The recipe comparison (grouped stratified k-fold, mean ± s.d.) and the referral choice."""
    table = summary.get("recipes", {})
    if not table:
        return []
    classes = sorted(next(iter(table.values()))["recall"])
    lines = [
        "## How the recipe was chosen: grouped, stratified cross-validation",
        f"Each recipe was trained on k-1 folds of the non-test photos and validated on the k-th "
        f"(near-duplicate groups whole, classes balanced; the test split is in no fold). Chosen "
        f"by {summary.get('chosen_by', 'mean validation macro-F1')}: "
        f"**{summary.get('chosen')}**. Mean ± sample s.d. over folds:",
        "",
        "| recipe | folds | macro-F1 | accuracy | "
        + " | ".join(f"recall {c}" for c in classes)
        + " | best epochs |",
        "|---" * (5 + len(classes)) + "|",
    ]
    for name, r in table.items():
        mark = f"**{name}**" if name == summary.get("chosen") else name
        recalls = " | ".join(_ms(r["recall"][c]) for c in classes)
        lines.append(
            f"| {mark} | {r['folds']} | {_ms(r['macro_f1'])} | {_ms(r['accuracy'])} | "
            f"{recalls} | {', '.join(str(e) for e in r['best_epochs'])} |"
        )
    chosen = (summary.get("referral") or {}).get("chosen")
    if chosen:
        crit = summary["referral"]["criteria"]
        lines += [
            "",
            f"Referral thresholds, chosen on the chosen recipe's {summary['referral']['n']} "
            f"out-of-fold predictions: the rule referring the fewest photos while referring at "
            f"least {crit['min_mpox_sensitivity']:.0%} of Mpox photos and keeping the unreferred "
            f"photos at least {crit['min_unreferred_accuracy']:.0%} right: refer when the top "
            f"confidence is below {chosen['min_confidence']} or P(Mpox) > {chosen['mpox_above']} "
            f"(out of fold: {chosen['referred']:.0%} referred, Mpox sensitivity "
            f"{chosen['mpox_sensitivity']:.3f}, specificity {chosen['mpox_specificity']:.3f}, "
            f"unreferred accuracy {chosen['unreferred_accuracy']:.3f})."
            + (
                ""
                if summary["referral"].get("criteria_met", True)
                else " No rule on the grid kept both promises: this is the closest one."
            ),
        ]
    return lines + [""]


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


def _header(meta: ModelMeta, classes: list[str]) -> list[str]:
    return [
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
        "with PoxScreen, except the held-out test photos (below), shipped in "
        "`resources/reference/` as a check that fine-tuned models keep what this one knew "
        "(never trained on).",
        "",
    ]


def _split_table(split: dict[str, Any] | None, classes: list[str]) -> list[str]:
    if not split:
        return []
    lines = [
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
    return lines + [
        "",
        f"Grouped, stratified split (seed {split.get('seed')}; near-duplicates by "
        f"perceptual hash incl. mirror images, Hamming distance <= {split.get('threshold')})"
        ", recorded in `resources/models/msid_split.json`. Validation chose the epoch and "
        "fitted the temperature; the test split was used only for the figures below.",
        "",
    ]


def _results(meta: ModelMeta, m: dict[str, Any], cal: dict[str, Any]) -> list[str]:
    classes = m["classes"]
    lines = [
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
    return lines


def _reproduce(meta: ModelMeta) -> list[str]:
    return [
        "## Reproduce",
        "```bash",
        "make evaluate            # test-split figures of the shipped model (needs ../shared)",
        "python -m trainer train --data ../shared/datasets/msid --init imagenet \\",
        "    --split resources/models/msid_split.json --no-register --out runs/msid \\",
        "    " + _train_flags(meta.training),
        "```",
        "",
    ]


def render(
    meta: ModelMeta,
    report: dict[str, Any],
    split: dict[str, Any] | None,
    notes: str = "",
    cv: dict[str, Any] | None = None,
) -> str:
    """The card's Markdown: header and data, split, recipe and test figures, trust, limits."""
    m = report["metrics"]
    classes = m["classes"]
    lines = _header(meta, classes) + _split_table(split, classes)
    lines += _results(meta, m, report.get("calibration", {}))
    lines += ["", *trust_section(meta, report), "", LIMITATIONS, "", UNMEASURED, ""]
    lines += cv_section(cv or {})
    lines += _reproduce(meta)
    if notes.strip():  # how the model was chosen, measured checks: written by people
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m trainer.model_card``: write the model card from a run's files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("report")
    parser.add_argument("out")
    parser.add_argument("--split")
    parser.add_argument("--notes", help="Markdown file to include (e.g. how the model was chosen)")
    parser.add_argument("--cv", help="cv_summary.json of `python -m trainer.cv` (recipe table)")
    args = parser.parse_args(argv)
    meta = read_meta(args.model)
    report = json.loads(Path(args.report).read_text())
    split = json.loads(Path(args.split).read_text()) if args.split else None
    notes = Path(args.notes).read_text(encoding="utf-8") if args.notes else ""
    cv = json.loads(Path(args.cv).read_text()) if args.cv else None
    atomic_write_text(args.out, render(meta, report, split, notes, cv))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
