"""Desktop fixtures: an isolated data folder and settings file, generated photos, the real window.

Every test runs offscreen (QT_QPA_PLATFORM=offscreen, set here when unset) against a fresh case
store in tmp_path, so nothing touches the user's own database, settings or log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shiboken6
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

N_GOOD = 24
BAD = {"empty.jpg": b"", "notes.png": b"patient notes, not an image\n" * 5}


def make_photos(folder: Path, n: int = N_GOOD, bad: bool = True) -> Path:
    """``n`` small random photos (one sub-folder) and, with ``bad``, two unreadable files."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
        target = folder / ("sub" if i % 5 == 4 else "") / f"img{i:02d}.png"
        Image.fromarray(arr).save(target)
    if bad:
        for name, data in BAD.items():
            (folder / name).write_bytes(data)
    return folder


@pytest.fixture()
def desk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POXSCREEN_DATA_DIR (database default, log, thumbnails) and settings in tmp_path."""
    data = tmp_path / "data"
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(data))
    monkeypatch.delenv("POXSCREEN_DB", raising=False)
    monkeypatch.delenv("POXSCREEN_SETTINGS", raising=False)
    monkeypatch.setenv("POXSCREEN_USER", "dr-test")
    monkeypatch.setenv("LANGUAGE", "en")  # the window in English, whatever the machine's locale
    return tmp_path


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    return make_photos(tmp_path / "photos")


def window_args(tmp: Path) -> list[str]:
    return ["--db", str(tmp / "case.db"), "--settings", str(tmp / "settings.ini")]


@pytest.fixture()
def make_window(qtbot: Any, desk_env: Path) -> Iterator[Any]:
    """Build the real main window (shown); several may be made (restart tests)."""
    from desktop.app import build_window

    made: list[Any] = []

    def make(args: list[str] | None = None, **kw: Any) -> Any:
        window, reporter = build_window(args or window_args(desk_env), **kw)
        assert window is not None
        qtbot.addWidget(window)
        window.show()
        window.test_reporter = reporter
        made.append(window)
        return window

    yield make
    for w in made:
        if shiboken6.isValid(w) and w.isVisible():  # a language change deletes its window
            w.close()


@pytest.fixture()
def slow_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Screen in batches of 4 with a pause after each, so a test can watch the job run."""
    from desktop.services.model import ActiveModelHandle

    real = ActiveModelHandle.predictor

    def predictor(self: Any, batch_size: int = 16) -> Any:
        pred = real(self, batch_size=4)
        inner = pred.predict_paths

        def slow(*a: Any, **kw: Any) -> Any:
            for batch in inner(*a, **kw):
                time.sleep(0.25)
                yield batch

        pred.predict_paths = slow
        return pred

    monkeypatch.setattr(ActiveModelHandle, "predictor", predictor)


def wait_screening(qtbot: Any, window: Any, timeout: int = 120_000) -> None:
    """Until the screening started in ``window`` has finished and the gallery is reloaded."""
    qtbot.waitUntil(lambda: not window.screening.running, timeout=timeout)
    qtbot.waitUntil(lambda: not window.model.loading, timeout=10_000)


# --- the review panel: a small random model and a store it screened --------------------------


@pytest.fixture(scope="session")
def review_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.desktop.review_support import make_model

    return make_model(tmp_path_factory.mktemp("model") / "test.safetensors")


@pytest.fixture()
def review_env(
    tmp_path: Path, review_model: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    from tests.desktop.review_support import build_env

    yield from build_env(tmp_path, review_model, monkeypatch)


# --- model versions and fine-tuning: a store with a small 3-class model and labels ------------


@pytest.fixture()
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POXSCREEN_DATA_DIR and the clinician in tmp_path (no window, no settings)."""
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POXSCREEN_USER", "dr-test")
    monkeypatch.delenv("POXSCREEN_DB", raising=False)
    return tmp_path


@pytest.fixture()
def trained_store(store_env: Path) -> Iterator[Any]:
    """30 labelled photos of three learnable classes and a small active model."""
    from tests.desktop.models_support import labelled_store

    ls = labelled_store(store_env, {"Blue": 10, "Green": 10, "Red": 10})
    yield ls
    ls.store.close()


@pytest.fixture()
def active_for(qtbot: Any) -> Iterator[Any]:
    """``active_for(store)``: the ActiveModel a dialog changes the model through (CPU)."""
    from PySide6.QtCore import QThreadPool

    from desktop.services.active_model import ActiveModel

    pool = QThreadPool()
    made: list[Any] = []

    def make(store: Any) -> Any:
        active = ActiveModel(store, "cpu", pool)
        made.append(active)
        return active

    yield make
    pool.waitForDone(60_000)


# --- windows and stores with known contents ---------------------------------------------------


@pytest.fixture()
def photos4(desk_env: Path) -> Path:
    """Four readable photos (a quick screening)."""
    return make_photos(desk_env / "photos", n=4, bad=False)


@pytest.fixture()
def filled(make_window: Any, desk_env: Path, qtbot: Any) -> tuple[Any, dict[str, str]]:
    """The window on a case store with known results (tests/desktop/casefill.py); the shas."""
    from tests.desktop.casefill import CASES, fill_store

    shas = fill_store(desk_env / "case.db", desk_env / "cases")
    w = make_window()
    qtbot.waitUntil(lambda: w.model.rowCount() == len(CASES), timeout=10_000)
    return w, shas


#: Labelled in ``filled_labelled``, so the store keeps a copy of each.
LABELLED = ("charlie.png", "delta.png")


@pytest.fixture()
def filled_labelled(make_window: Any, desk_env: Path, qtbot: Any) -> tuple[Any, dict[str, str]]:
    """As ``filled``, with LABELLED labelled Measles before the window opens."""
    from engine.store import Store
    from tests.desktop.casefill import CASES, fill_store

    shas = fill_store(desk_env / "case.db", desk_env / "cases")
    with Store.open(desk_env / "case.db") as store:
        for name in LABELLED:
            store.label(shas[name], "Measles", who="dr-test")
    w = make_window()
    qtbot.waitUntil(lambda: w.model.rowCount() == len(CASES), timeout=10_000)
    return w, shas


@pytest.fixture()
def screened_window(make_window: Any, qtbot: Any, photos: Path) -> Any:
    """The window after screening ``photos`` (N_GOOD readable, two unreadable)."""
    w = make_window()
    w.screen_folder(str(photos))
    wait_screening(qtbot, w)
    assert w.model.rowCount() == N_GOOD
    return w


@pytest.fixture()
def screened_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Five photos screened by a small model into a store (no window), two of them labelled."""
    from tests.desktop.models_support import save_model_file
    from tests.engine.cases_setup import CLASSES, screened_store

    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "data"))
    model = tmp_path / "m.safetensors"
    save_model_file(model, CLASSES, "export-model")
    sc = screened_store(tmp_path, model, n=5)
    sc.store.label(sc.photos[0], "Measles", who="dr a", note="checked twice", classes=CLASSES)
    sc.store.label(sc.photos[3], "Normal", who="dr b", classes=CLASSES)
    yield sc
    sc.store.close()


@pytest.fixture(autouse=True)
def _unanswered_reason_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reason question no test answers fails at once instead of hanging (see reason_support)."""
    from desktop.shell.confirm import ReasonDialog

    def refuse(dialog: ReasonDialog) -> int:
        raise AssertionError(f"unanswered question {dialog.windowTitle()!r}: use Reasons")

    monkeypatch.setattr(ReasonDialog, "exec", refuse)
