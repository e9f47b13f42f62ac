"""``make screenshots``: the real app on a sample folder, one PNG per screen, for the README.

Run as ``python -m desktop.screenshots [--photos DIR] [--out docs/screenshots]``. The sample
folder is built in a temporary directory from copies of the shared MSID photos (never put into
the repository; copies, because the screening walk rightly ignores links that leave the folder), plus two unreadable files for the errors panel; without the shared photos,
generated pictures are used. Everything (database, settings, log) lives in that temporary
directory, so the user's own case store is never touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = next(
    (
        p / "shared" / "datasets" / "msid"
        for p in (REPO.parent, REPO.parent.parent)
        if (p / "shared" / "datasets" / "msid").is_dir()
    ),
    REPO.parent / "shared" / "datasets" / "msid",
)
PER_CLASS = 30


def build_sample(root: Path, photos: Path) -> Path:
    """``root/clinic-0312`` with PER_CLASS copied photos per class and two bad files."""
    folder = root / "clinic-0312"
    folder.mkdir(parents=True)
    classes = sorted(p for p in photos.iterdir() if p.is_dir()) if photos.is_dir() else []
    for cls in classes:
        for src in sorted(cls.glob("*.png"))[:PER_CLASS]:
            shutil.copyfile(src, folder / f"{cls.name.lower()}-{src.name}")
    if not classes:
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        for i in range(4 * PER_CLASS):
            arr = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
            Image.fromarray(arr).save(folder / f"photo{i:03d}.png")
    (folder / "scan-notes.jpg").write_bytes(b"not a photo, a text file renamed" * 4)
    (folder / "IMG_0042.jpg").write_bytes(b"")
    return folder


def pump(seconds: float) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait_for(cond: Any, timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        pump(0.05)
    return False


def save(widget: Any, out: Path, name: str) -> None:
    pump(0.3)
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"saved {path}")


def label_a_few(window: Any) -> None:
    """Label some images (one agreement, one disagreement, one referral) for tile marks."""
    model = window.model
    items = [model.item(r) for r in range(min(model.rowCount(), 12))]
    others = {
        "Chickenpox": "Measles",
        "Measles": "Normal",
        "Monkeypox": "Chickenpox",
        "Normal": "Monkeypox",
    }
    for n, item in enumerate(items[:3]):
        label = [item.top_class, others.get(item.top_class, "Normal"), "refer"][n]
        window.store.label(item.sha256, label, who="Dr A. Okafor")
    window.refresh_all()


def shoot(out: Path, photos: Path) -> None:
    from desktop.app import build_window
    from desktop.shell.settings_dialog import SettingsDialog

    tmp = Path(os.environ["POXSCREEN_DATA_DIR"]).parent
    folder = build_sample(tmp, photos)
    window, _ = build_window(["--db", str(tmp / "case.db"), "--settings", str(tmp / "s.ini")])
    window.resize(1440, 900)
    window.show()
    wait_for(lambda: window.active.handle is not None)
    save(window, out, "01-empty-start")
    window.screen_folder(str(folder))
    wait_for(lambda: window.progress.bar.maximum() > 0 and window.progress.bar.value() >= 40)
    pump(0.8)
    save(window, out, "02-screening")
    wait_for(lambda: not window.screening.running)
    wait_for(lambda: not window.model.loading)
    label_a_few(window)
    pump(1.0)
    window.errors.hide()
    window.gallery.select_row(4)
    wait_for(lambda: window.thumbs.loaded >= min(window.model.rowCount(), 24), 30)
    pump(2.0)
    save(window, out, "03-gallery")
    window.errors.show()
    pump(0.5)
    save(window, out, "04-errors-panel")
    window.errors.hide()
    window.gallery.select_row(7)
    pump(0.5)
    window.review.wait_idle(60_000)
    pump(1.5)
    save(window, out, "05-review-overlay")
    dlg = SettingsDialog(window.settings, window.cases.current_rule, True, window)
    dlg.show()
    save(dlg, out, "06-settings")
    dlg.close()
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        from PySide6.QtGui import QGuiApplication

        shot = QGuiApplication.primaryScreen().grabWindow(0)
        shot.save(str(out / "07-x-server-screen.png"))
        print(f"saved {out / '07-x-server-screen.png'} (whole X screen)")
    window.close()


def shoot_language(out: Path, photos: Path, lang: str) -> None:
    """``main_window_<lang>.png``: the main window in ``lang`` on a 1366x768 screen, after a
    screening, with a photo and its Grad-CAM on show (text ~20% longer than English fits)."""
    from desktop.app import build_window

    tmp = Path(os.environ["POXSCREEN_DATA_DIR"]).parent
    folder = build_sample(tmp, photos)
    args = ["--db", str(tmp / "case.db"), "--settings", str(tmp / "s.ini"), "--lang", lang]
    window, _ = build_window(args)
    window.resize(1366, 768)
    window.show()
    window.screen_folder(str(folder))
    wait_for(lambda: not window.screening.running)
    wait_for(lambda: not window.model.loading)
    label_a_few(window)
    pump(1.0)
    window.errors.hide()  # the unreadable files have their own screenshot
    window.gallery.select_row(4)
    wait_for(lambda: window.thumbs.loaded >= min(window.model.rowCount(), 24), 30)
    window.review.wait_idle(60_000)
    pump(2.0)
    save(window, out, f"main_window_{lang}")
    window.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=Path, default=SHARED)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    p.add_argument("--lang", help="only the main window in this language (main_window_LANG.png)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="poxscreen-shots-"))
    os.environ["POXSCREEN_DATA_DIR"] = str(tmp / "data")
    os.environ["POXSCREEN_USER"] = "Dr A. Okafor"
    try:
        if args.lang:
            shoot_language(args.out.resolve(), args.photos, args.lang)
        else:
            shoot(args.out.resolve(), args.photos)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
