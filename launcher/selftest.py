"""``PoxScreen --self-test``: prove a build (or a checkout) works end to end, offline, in seconds.

Loads the shipped model, screens a few generated photos (and one broken file) into a temporary
case store, computes one Grad-CAM overlay, writes a one-page report when the engine can, checks
the bundled resources and (when the GUI is part of the build) that Qt starts offscreen. Every
step prints one line with its time; the exit status is 0 only when every step passed. Nothing is
written outside a temporary folder (removed afterwards unless ``--keep``) and any network use
fails the run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

N_PHOTOS = 6
DEV_ONLY_DESKTOP_MODULES = frozenset({"__main__", "screenshots"})  # not part of the app
REQUIRED_RESOURCES = (
    "models/default.safetensors",
    "MODEL_CARD.md",
    "icons/poxscreen.png",
    "imagenet/mobilenet_v2_imagenet.safetensors",
    "reference/manifest.json",
)


def available(module: str) -> bool:
    """Whether ``module`` is part of this build (a missing parent package counts as absent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class SelfTestError(RuntimeError):
    """A step found the build broken; the message says what is wrong."""


@dataclass
class Context:
    """State shared by the steps (the temporary folder, the store, the model...)."""

    root: Path
    values: dict[str, Any] = field(default_factory=dict)


def make_photos(folder: Path, n: int = N_PHOTOS, bad: bool = True) -> list[Path]:
    """``n`` generated skin-toned photos (PNG and JPEG) and, if ``bad``, one truncated JPEG."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    paths = []
    for i in range(n):
        blobs = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(blobs).resize((240 + 8 * i, 200), Image.Resampling.BICUBIC)
        skin = Image.new("RGB", img.size, (205, 150, 125))
        path = folder / f"photo_{i}.{'png' if i % 2 else 'jpg'}"
        Image.blend(skin, img, 0.35).save(path)
        paths.append(path)
    if bad:
        whole = paths[0].read_bytes()
        (folder / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    return paths


TRAIN_TINTS = {
    "Chickenpox": (1.0, 0.45, 0.4),
    "Measles": (0.45, 1.0, 0.4),
    "Monkeypox": (0.4, 0.45, 1.0),
    "Normal": (1.0, 0.9, 0.45),
}


def make_training_folder(root: Path, per_class: int = 10, size: int = 64) -> Path:
    """``root/<class>/NN.png``: small generated photos, one tint per class (learnable)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(2)
    for name, tint in TRAIN_TINTS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            grey = Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8))
            g = np.asarray(grey.resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255
            rgb = 0.15 + 0.45 * np.array(tint, np.float32) + 0.35 * g[..., None]
            img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
            img.save(root / name / f"{i:02d}.png")
    return root


def step_resources(ctx: Context) -> str:
    """The bundle carries every resource file the app reads."""
    from engine.paths import resources_dir

    root = resources_dir()
    missing = [r for r in REQUIRED_RESOURCES if not (root / r).is_file()]
    if missing:
        raise SelfTestError(f"missing from {root}: {', '.join(missing)}")
    return f"{root}"


def step_model(ctx: Context) -> str:
    """The shipped, trained model opens (not the untrained fallback)."""
    from engine.store import open_store

    store = open_store(str(ctx.root / "selftest.db"))
    ctx.values["store"] = store
    from engine.session import open_active_model

    active = open_active_model(store, device="cpu")
    model, meta = active.model, active.meta
    if not meta.trained:
        raise SelfTestError("the shipped default model is missing: got the untrained fallback")
    ctx.values.update(model=model, meta=meta)
    return f"{meta.version} ({', '.join(meta.classes)})"


def step_screen(ctx: Context) -> str:
    """A few generated photos screen end to end, into the store and a CSV."""
    from engine.predictor import Predictor
    from engine.screening import ScreeningJob

    folder = ctx.root / "photos"
    photos = make_photos(folder)
    ctx.values["photos"] = photos
    predictor = Predictor(ctx.values["model"], ctx.values["meta"], device="cpu", batch_size=4)
    csv_path = ctx.root / "results.csv"
    summary = ScreeningJob(predictor, folder, csv_path=csv_path, store=ctx.values["store"]).run()
    if summary.predicted != len(photos) or len(summary.errors) != 1:
        raise SelfTestError(
            f"expected {len(photos)} screened and 1 unreadable, got {summary.predicted} "
            f"screened and errors {summary.errors}"
        )
    bad_path, reason = summary.errors[0]
    rows = csv_path.read_text(encoding="utf-8").splitlines()
    if len(rows) != len(photos) + 2:
        raise SelfTestError(f"CSV has {len(rows)} lines, expected {len(photos) + 2}")
    _check_photo_quality(photos[0])
    return f"{summary.predicted} photos screened; {Path(bad_path).name}: {reason}"


def _check_photo_quality(photo: Path) -> None:
    """The photo-quality check needs OpenCV in the build; screening would quietly skip it."""
    from engine.images import load_image
    from engine.quality import check_quality

    try:
        check_quality(load_image(photo))
    except ImportError as exc:
        raise SelfTestError(f"the photo-quality check cannot run: {exc}") from exc


def step_gradcam(ctx: Context) -> str:
    """One photo as the review panel shows it (engine.explain.Explainer: prediction + Grad-CAM)."""
    import numpy as np

    from engine.explain import Explainer

    explainer = Explainer(ctx.values["model"], ctx.values["meta"], device="cpu")
    ex = explainer.explain(ctx.values["photos"][1], max_side=400)
    heat = np.asarray(ex.heatmap, dtype=np.float32)
    if not np.isfinite(heat).all() or heat.min() < 0 or heat.max() > 1 or heat.max() == 0:
        raise SelfTestError("Grad-CAM heatmap is not finite, within [0, 1] and non-empty")
    if ex.overlay.size != ex.image.size:
        raise SelfTestError(f"overlay {ex.overlay.size} does not match the photo {ex.image.size}")
    out = ctx.root / "gradcam_overlay.png"
    ex.overlay.save(out)
    ctx.values["overlay"] = out
    return f"{ex.top_class} {ex.confidence:.2f}, heatmap {tuple(heat.shape)} -> {out.name}"


def step_report(ctx: Context) -> str:
    """The PDF report of that screening can be written."""
    if not available("engine.report"):
        return "SKIPPED: engine.report is not part of this build"
    from engine.report import ReportOptions, write_report

    store = ctx.values["store"]
    run_id = store.runs(limit=1)[0].id
    out = ctx.root / "report.pdf"
    options = ReportOptions(gradcam=True, device="cpu")
    summary = write_report(store, out, run_id, options=options)
    if not out.is_file() or summary.size_bytes == 0 or summary.problems:
        raise SelfTestError(f"report {out.name}: {summary.problems or 'not written'}")
    head = out.read_bytes()[:5]
    if head != b"%PDF-":
        raise SelfTestError(f"report {out.name} is not a PDF (starts {head!r})")
    return (
        f"{out.name}: {summary.pages} page(s), {summary.images} images, {summary.size_bytes} bytes"
    )


def _import_desktop_modules() -> int:
    """Import every module of the desktop package in this build: a module whose dependencies
    were left out of the bundle fails here rather than when a clinician opens that view."""
    import pkgutil

    import desktop

    names = [m.name for m in pkgutil.iter_modules(desktop.__path__, "desktop.")]
    for name in names:
        if name.rsplit(".", 1)[-1] not in DEV_ONLY_DESKTOP_MODULES:
            importlib.import_module(name)
    return len(names)


def step_qt(ctx: Context) -> str:
    """Qt reads the icon and a PNG, and every desktop module imports (a missing plugin fails here)."""
    if not available("desktop.app"):
        return "SKIPPED: the desktop GUI is not part of this build"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QIcon, QImage
    from PySide6.QtWidgets import QApplication

    from engine.paths import resources_dir

    app = QApplication.instance() or QApplication(["PoxScreen", "-platform", "offscreen"])
    icon = QIcon(str(resources_dir() / "icons" / "poxscreen.png"))
    shown = QImage(str(ctx.values["overlay"]))
    if icon.isNull() or shown.isNull():
        raise SelfTestError("Qt could not read the app icon or a PNG (image plugins missing?)")
    count = _import_desktop_modules()
    return f"Qt {app.platformName()} platform, icon and PNG read, {count} desktop modules import"


def step_training(ctx: Context) -> str:
    """What the GUI's Fine-tune does: the trainer as a detached child of this very executable
    (engine.training.TrainingProcess), one epoch, progress read from its progress file."""
    if not ctx.values.get("train"):
        return "SKIPPED (add --train: a one-epoch fine-tune in a child process, ~1 min)"
    from engine.training import TrainingProcess, trainer_command

    data = make_training_folder(ctx.root / "train")
    args = ["--data", str(data), "--epochs", "1", "--device", "cpu"]
    proc = TrainingProcess.start(args, db=ctx.root / "selftest.db", run_dir=ctx.root / "run")
    if not proc.wait(timeout=900):
        proc.stop(grace_s=5)
        raise SelfTestError("the training child did not finish within 15 minutes")
    result = proc.result()
    if result is None or not result.registered or not result.model_version:
        log = (ctx.root / "run" / "stderr.log").read_text(encoding="utf-8", errors="replace")
        raise SelfTestError(f"training child: {result}\n{log[-2000:]}")
    known = {m.version for m in ctx.values["store"].models()}
    if result.model_version not in known:
        raise SelfTestError(f"{result.model_version} is not in the registry {sorted(known)}")
    events = len(proc.events)
    cmd = trainer_command()
    child = " ".join([Path(cmd[0]).name, *cmd[1:], "train"])
    return f"{result.status}: {result.model_version} registered ({events} events, child {child})"


STEPS: tuple[tuple[str, Callable[[Context], str]], ...] = (
    ("resources", step_resources),
    ("model", step_model),
    ("screen", step_screen),
    ("gradcam", step_gradcam),
    ("report", step_report),
    ("qt", step_qt),
    ("training", step_training),
)


def run_steps(ctx: Context) -> bool:
    """Run every step, one line each; later steps are skipped after a failure."""
    ok = True
    for name, fn in STEPS:
        if not ok:
            print(f"[self-test] {name:9s} not run")
            continue
        t0 = time.perf_counter()
        try:
            detail = fn(ctx)
        except Exception as exc:  # report any failure as a line, the trace after it
            ok = False
            print(f"[self-test] {name:9s} FAILED: {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stdout)
            continue
        print(f"[self-test] {name:9s} ok   {time.perf_counter() - t0:6.2f} s  {detail}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the self-test; 0 when every step passed, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="PoxScreen --self-test")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--train", action="store_true", help="also fine-tune in a child process")
    args = parser.parse_args(argv)
    from launcher.netguard import NetworkGuard

    guard = NetworkGuard.install()
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="poxscreen-selftest-"))
    os.environ["POXSCREEN_DATA_DIR"] = str(root / "data")  # never the clinic's own data
    print(f"[self-test] PoxScreen {version()} frozen={bool(getattr(sys, 'frozen', False))}")
    ctx = Context(root, {"train": args.train})
    try:
        ok = run_steps(ctx)
    finally:
        store = ctx.values.get("store")
        if store is not None:
            store.close()
        if args.keep:
            print(f"[self-test] kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if guard.violations:
        ok = False
        print(guard.describe())
    verdict = "PASSED" if ok else "FAILED"
    print(f"[self-test] {verdict} in {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 1


def version() -> str:
    """The installed package version (bundled metadata in the frozen app)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("poxscreen")
    except PackageNotFoundError:
        return "unknown"
