"""Benchmark: what restoring the last session's gallery state adds to opening the window.

Why: a clinician reopening PoxScreen gets the filter, sort, selected run and current photo of
the last session back; that must add no more than 0.5 s to the start.

The same case store (N screened images, one run) is opened in one process, alternately with a
settings file that holds no gallery state (a first start: all runs, no photo) and with one that
holds a class filter, a sort, the run and a photo: timed from ``build_window`` to the gallery
answered and the status counts shown (and, restored, the photo on show in the review panel).

Run from the repository root: ``QT_QPA_PLATFORM=offscreen .venv/bin/python
bench/bench_restore_state.py [--images N] [--repeats R]``. Prints the figures and writes
``bench/results/restore_state.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("POXSCREEN_USER", "bench")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
RESULTS = REPO / "bench" / "results" / "restore_state.json"
LIMIT_S = 0.5


def _open(db: Path, ini: Path, want_photo: str | None) -> tuple[float, Any]:
    """Seconds from building the window to usable (and the saved photo shown, if any)."""
    from bench_gui import pump_until

    from desktop.app import build_window

    t0 = time.perf_counter()
    w, _ = build_window(["--db", str(db), "--settings", str(ini)])
    w.show()

    def ready() -> bool:
        if w.model.loading or w.model.rowCount() == 0 or not w.status.counts_label.text():
            return False
        item = w.review.current_item()
        return want_photo is None or (item is not None and item.sha256 == want_photo)

    pump_until(ready)
    return time.perf_counter() - t0, w


def _save_state(db: Path, ini: Path) -> str:
    """Leave a session with a filter, a sort, the run and a photo chosen; its SHA-256."""
    from bench_gui import pump_until

    _s, w = _open(db, ini, None)
    w.filters.select_run(w.store.runs()[0].id)
    w.filters.set_class("Monkeypox")
    w.filters.set_sort("name")
    pump_until(lambda: not w.model.loading and w.model.rowCount() > 20)
    w.gallery.select_row(15)
    pump_until(lambda: w.review.current_item() is not None)
    sha = w.review.current_item().sha256
    w.close()
    return sha


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    from bench_gui import fill_store, make_photos

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["POXSCREEN_DATA_DIR"] = str(tmp / "data")
        db = tmp / "case.db"
        fill_store(db, make_photos(tmp / "photos", args.images, files=200))
        saved = tmp / "saved.ini"
        sha = _save_state(db, saved)
        fresh, restored = [], []
        for i in range(args.repeats):
            first = tmp / f"fresh{i}.ini"
            shutil.copy(saved, first)
            for key in ("show", "sort", "class", "by_label", "run", "photo"):
                _remove_key(first, key)
            again = tmp / f"again{i}.ini"
            shutil.copy(saved, again)
            secs, w = _open(db, first, None)
            fresh.append(secs)
            w.close()
            secs, w = _open(db, again, sha)
            restored.append(secs)
            w.close()
    added = statistics.median(restored) - statistics.median(fresh)
    out = {
        "images": args.images,
        "open_fresh_s_median": round(statistics.median(fresh), 3),
        "open_restored_s_median": round(statistics.median(restored), 3),
        "restore_added_s": round(added, 3),
        "limit_s": LIMIT_S,
        "fresh_s_all": [round(s, 3) for s in fresh],
        "restored_s_all": [round(s, 3) for s in restored],
    }
    for key, value in out.items():
        print(f"{key:26} {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0 if added <= LIMIT_S else 1


def _remove_key(ini: Path, key: str) -> None:
    """Drop gallery/<key> from a QSettings INI file (a first start's settings)."""
    from PySide6.QtCore import QSettings

    qs = QSettings(str(ini), QSettings.Format.IniFormat)
    qs.remove(f"gallery/{key}")
    qs.sync()


if __name__ == "__main__":
    sys.exit(main())
