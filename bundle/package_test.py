"""Smoke test of the built one-folder app (``make package-test``; the build itself takes minutes).

Runs the packaged executable the way a clinic would, in a throw-away home folder:

1. ``PoxScreen --self-test --train`` offscreen (model, screening into a temporary store,
   Grad-CAM, report when the engine has one, Qt, and a one-epoch fine-tune started the GUI's way:
   a detached child of the executable itself), with the no-network audit hook;
2. ``PoxScreen screen`` on a folder with a broken file, checking the CSV;
3. a one-epoch ``PoxScreen train`` on generated photos, checking a model was registered;
4. the self-test again inside a network namespace without interfaces (``unshare -n``), where
   this machine allows it;
5. the GUI's start-up time to a shown window, when the GUI is part of the build;
6. that nothing was written inside the application folder.

Prints one line per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from launcher.selftest import TRAIN_TINTS, make_training_folder

CLASSES = tuple(TRAIN_TINTS)
TINTS = tuple(TRAIN_TINTS.values())


class CheckFailed(AssertionError):
    """One check of the bundle failed; the message says which and why."""


def executable(app: Path) -> Path:
    for name in ("PoxScreen", "PoxScreen.exe"):
        if (app / name).is_file():
            return app / name
    raise CheckFailed(f"no PoxScreen executable in {app} (run make package)")


def snapshot(app: Path) -> dict[str, tuple[int, int]]:
    """Every path under the app folder with its size and modification time."""
    out = {}
    for path in app.rglob("*"):
        st = path.lstat()
        out[str(path.relative_to(app))] = (st.st_size, st.st_mtime_ns)
    return out


def clean_env(root: Path) -> dict[str, str]:
    """A home, data and temp folder of our own; no Python environment leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    for sub in ("home", "data", "tmp", "config", "cache"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(root / "home"),
        POXSCREEN_DATA_DIR=str(root / "data"),
        TMPDIR=str(root / "tmp"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_DATA_HOME=str(root / "data"),
        QT_QPA_PLATFORM="offscreen",
        POXSCREEN_NO_NETWORK="1",
        OMP_WAIT_POLICY="PASSIVE",
    )
    env.pop("POXSCREEN_DB", None)
    return env


def run(cmd: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str, float]:
    """Run one command; (exit status, stdout+stderr, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


def photo(rng: np.random.Generator, tint: tuple[float, float, float], size: int) -> Image.Image:
    grey = Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8))
    g = np.asarray(grey.resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255.0
    rgb = 0.15 + 0.45 * np.array(tint, np.float32) + 0.35 * g[..., None]
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def make_screen_folder(folder: Path) -> int:
    """4 photos and one file that is not an image; returns the number of good photos."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(4):
        photo(rng, TINTS[i], 160).save(folder / f"case_{i}.{'jpg' if i % 2 else 'png'}")
    (folder / "notes.jpg").write_text("not a photo\n", encoding="utf-8")
    return 4


def check_self_test(exe: Path, env: dict[str, str]) -> str:
    rc, out, secs = run([str(exe), "--self-test", "--train"], env)
    print(out.rstrip())
    if rc != 0 or "[self-test] PASSED" not in out:
        raise CheckFailed(f"self-test exited {rc}")
    return f"self-test passed ({secs:.1f} s wall, cold process)"


def check_screen(exe: Path, env: dict[str, str], root: Path) -> str:
    good = make_screen_folder(root / "photos")
    out_csv = root / "results.csv"
    cmd = [str(exe), "screen", str(root / "photos"), "--out", str(out_csv), "-q"]
    rc, out, secs = run(cmd + ["--db", str(root / "case.db")], env)
    if rc != 0:
        raise CheckFailed(f"screen exited {rc}:\n{out}")
    with out_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    errors = {Path(r["path"]).name: r.get("error", "") for r in rows if r.get("error")}
    predicted = [r for r in rows if not r.get("error")]
    if len(rows) != good + 1 or list(errors) != ["notes.jpg"]:
        raise CheckFailed(f"CSV: {len(rows)} rows, errors {errors}")
    if any(r["predicted_class"] not in CLASSES for r in predicted):
        raise CheckFailed(f"CSV: unexpected classes {[r['predicted_class'] for r in predicted]}")
    if "notes.jpg" not in out:
        raise CheckFailed("screen did not name the unreadable file on stderr")
    return (
        f"screen: {len(predicted)} predicted, notes.jpg -> {errors['notes.jpg']!r} ({secs:.1f} s)"
    )


def _models(exe: Path, env: dict[str, str], db: Path) -> list[str]:
    rc, out, _ = run([str(exe), "models", "list", "--db", str(db)], env)
    if rc != 0:
        raise CheckFailed(f"models list exited {rc}:\n{out}")
    return [line for line in out.splitlines() if "@" in line]


def check_train(exe: Path, env: dict[str, str], root: Path) -> str:
    data = make_training_folder(root / "train")
    db = root / "case.db"
    before = _models(exe, env, db)
    cmd = [str(exe), "train", "--data", str(data), "--epochs", "1", "--device", "cpu"]
    rc, out, secs = run(cmd + ["--db", str(db), "--out", str(root / "run")], env)
    if rc != 0:
        raise CheckFailed(f"train exited {rc}:\n{out[-3000:]}")
    if '"event": "done"' not in out or '"registered": true' not in out:
        raise CheckFailed(f"train did not report a registered model:\n{out[-2000:]}")
    after = _models(exe, env, db)
    if len(after) != len(before) + 1:
        raise CheckFailed(f"models before {before}, after {after}")
    new = sorted(set(after) - set(before))
    return f"train: 1 epoch in {secs:.1f} s; registered {new[0].strip()}"


def check_unshare(exe: Path, env: dict[str, str]) -> str:
    unshare = shutil.which("unshare")
    probe = [unshare, "-n", "true"] if unshare else None
    if probe is None or subprocess.run(probe, capture_output=True).returncode != 0:
        probe_user = [unshare, "-r", "-n", "true"] if unshare else None
        if probe_user is None or subprocess.run(probe_user, capture_output=True).returncode:
            return "unshare -n: SKIPPED (no network namespaces allowed on this machine)"
        prefix = [unshare, "-r", "-n"]
    else:
        prefix = [unshare, "-n"]
    rc, out, secs = run([*prefix, str(exe), "--self-test"], env)
    if rc != 0:
        raise CheckFailed(f"self-test without any network interface exited {rc}:\n{out}")
    return (
        f"self-test inside `{' '.join(prefix[1:])}` (no network interfaces) passed ({secs:.1f} s)"
    )


def check_gui_start(exe: Path, env: dict[str, str]) -> str:
    """Launch to a shown window with a running event loop (launcher/startup_probe.py), twice:
    the first launch reads the bundle from disk, the second mostly from the page cache."""
    lines = []
    for attempt in ("first", "second"):
        rc, out, secs = run([str(exe)], {**env, "POXSCREEN_STARTUP_PROBE": "1"}, timeout=300)
        if "No module named 'desktop" in out:
            return "GUI start-up: SKIPPED (the desktop GUI is not part of this build)"
        marks = [line for line in out.splitlines() if line.startswith("[startup]")]
        if rc != 0 or not marks:
            raise CheckFailed(f"GUI did not show a window (exit {rc}):\n{out[-3000:]}")
        lines.append(f"{attempt} launch {secs:.2f} s to exit ({marks[0]})")
    return "GUI start-up: " + "; ".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="smoke-test the built PoxScreen app")
    parser.add_argument("app", type=Path, nargs="?", default=Path("dist/PoxScreen"))
    args = parser.parse_args(argv)
    app = args.app.resolve()
    root = Path(tempfile.mkdtemp(prefix="poxscreen-package-test-"))
    try:
        exe = executable(app)
        before = snapshot(app)
        env = clean_env(root)
        checks = (
            lambda: check_self_test(exe, env),
            lambda: check_screen(exe, env, root),
            lambda: check_train(exe, env, root),
            lambda: check_unshare(exe, env),
            lambda: check_gui_start(exe, env),
        )
        for check in checks:
            print(f"[package-test] ok   {check()}", flush=True)
        changed = sorted(k for k, v in snapshot(app).items() if before.get(k) != v)
        changed += sorted(set(before) - set(snapshot(app)))
        if changed:
            raise CheckFailed(f"written inside the application folder: {changed[:20]}")
        print(f"[package-test] ok   application folder unchanged ({len(before)} entries)")
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        print(f"[package-test] FAILED: {exc}", flush=True)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("[package-test] PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
