"""Dev protocol 2's clinics, fine-tuned the old way: the whole trainer on the 40 labels.

Why: the issue's first measurement (+8 points on an outside collection) came from the classic
fine-tune (``trainer train`` from the model in use: 55% of the backbone trained, Adam 1e-4,
balanced sampler, early stopping on a fifth of the labels). The clinic fine-tune re-fits only the
head on cached features. This puts both on the same photos the parents never saw, so the
comparison is like for like: the same clinics, labelled photos, other photos and forgetting
photos as ``bench/dev2_adaptation.py`` (run that first: it writes the clinics' photos).

    python bench/dev2_full_finetune.py [--epochs 40] [--patience 10] [--parents A B]
Results: ``bench/results/adaptation_dev2_full_e<epochs>_p<patience>.json``.
Needs ``../shared`` and the dev parents and clinics in /tmp/dev2.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_adaptation as bench  # noqa: E402
import dev2_adaptation as dev2  # noqa: E402
import dev_adaptation as dev  # noqa: E402


def one_run(
    parent_file: Path, c: dev.Clinic, kind: str, epochs: int, patience: int, work: Path
) -> dict:
    """Fine-tune ``parent_file`` on the clinic's 40 labelled photos with the classic trainer;
    score it and the parent on the other photos, with and without the camera."""
    chosen, y = dev.labelled_set(c, 40, kind, 0)
    data = work / "data"
    shutil.rmtree(work, ignore_errors=True)
    for i, t in zip(chosen, y, strict=True):
        folder = data / c.classes[t]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(c.decoded[i].sample.path, folder)
    cmd = [sys.executable, "-m", "trainer", "train", "--data", str(data), "--no-register",
           "--init", str(parent_file), "--out", str(work / "run"), "--gate-fraction", "0",
           "--epochs", str(epochs), "--patience", str(patience),
           "--threads", os.environ.get("OMP_NUM_THREADS", "2"), "--no-progress-bar", "--db", str(work / "cases.db")]  # fmt: skip
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    fit_s = time.monotonic() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    picked = set(chosen)
    others = [i for i in range(len(c.y)) if i not in picked]
    camera = [(c.decoded[i].sample.path, c.classes[c.y[i]]) for i in others]
    plain = [(c.forget[0][i].sample.path, c.classes[c.y[i]]) for i in others]
    model = work / "run" / "model.safetensors"
    before = bench.score(parent_file, camera), bench.score(parent_file, plain)
    after = bench.score(model, camera), bench.score(model, plain)
    return {"clinic": c.name, "kind": kind, "other_before": before[0]["accuracy"],
            "other_after": after[0]["accuracy"],
            "gain": round(after[0]["accuracy"] - before[0]["accuracy"], 4),
            "forget_acc": round(after[1]["accuracy"] - before[1]["accuracy"], 4),
            "forget_f1": round(after[1]["macro_f1"] - before[1]["macro_f1"], 4),
            "fit_s": round(fit_s, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=10, help="early stopping (the recipe's 10)")
    ap.add_argument("--parents", nargs="+", default=list(dev2.PLAN))
    ap.add_argument("--kinds", nargs="+", default=["all", "noM"])
    args = ap.parse_args(argv)
    from engine.checkpoint import load_model

    runs = []
    for p in args.parents:
        parent_file = dev2.WORK / f"run_{p}" / "model.safetensors"
        _, meta = load_model(parent_file)
        for cam in dev2.PLAN[p]:
            c = dev2.clinic(p, cam, meta)
            for kind in args.kinds:
                r = one_run(parent_file, c, kind, args.epochs, args.patience, dev2.WORK / "full_ft")
                runs.append(r)
                print(json.dumps(r), flush=True)
    summary = {k: round(float(np.mean([r[k] for r in runs])), 4)
               for k in ("gain", "forget_acc", "forget_f1", "fit_s")}  # fmt: skip
    print("summary", json.dumps(summary))
    out = dev2.RESULTS / f"adaptation_dev2_full_e{args.epochs}_p{args.patience}.json"
    record = {"epochs": args.epochs, "patience": args.patience, "summary": summary, "runs": runs}
    out.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
