"""Start-up, settings, databases and error reporting of the real app."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from desktop.shell.settings_dialog import SettingsDialog
from tests.desktop.conftest import wait_screening, window_args


def test_settings_and_splitters_persist_across_a_restart(
    make_window: Any, desk_env: Path, qtbot: Any
) -> None:
    w = make_window()
    dlg = SettingsDialog(w.settings, w.cases.current_rule, True, w)
    dlg.clinician.setText("Dr Amara Okafor")
    dlg.min_conf.setValue(0.55)
    dlg.mpox_above.setValue(0.25)
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))
    dlg.colormap.setCurrentText("viridis")
    dlg.opacity.setValue(60)
    dlg.thumb.setCurrentIndex(dlg.thumb.findData(200))
    changed = dlg.apply()
    assert changed == {"clinician", "device", "colormap", "opacity", "thumb_size", "referral"}
    w.dialogs.apply_settings(changed, dlg.rule_values())
    assert w.gallery.delegate.thumb_size == 200
    # the referral rule goes to the case store (shared with the CLI and reports), not QSettings
    qtbot.waitUntil(lambda: w.cases.current_rule.min_confidence == 0.55, timeout=10_000)
    rule = w.store.referral_rule()
    assert (rule.min_confidence, rule.mpox_above) == (0.55, 0.25)
    assert "referral" not in Path(w.settings.file).read_text(encoding="utf-8").lower()
    w.resize(760, 540)  # fits the offscreen screen, so the restored geometry is the same
    w.splitter.setSizes([200, 300, 240])
    sizes = w.splitter.sizes()
    w.close()  # saves window geometry and splitter sizes
    w2 = make_window()
    s = w2.settings
    assert (s.clinician, s.device, s.colormap, s.opacity, s.thumb_size) == (
        "Dr Amara Okafor",
        "cpu",
        "viridis",
        0.6,
        200,
    )
    assert w2.gallery.delegate.thumb_size == 200
    restored = w2.splitter.sizes()  # a restore may round a pane by a pixel
    assert all(abs(a - b) <= 2 for a, b in zip(restored, sizes, strict=True)), (restored, sizes)
    assert w2.active.device == "cpu"
    # the last case store is remembered: no --db this time
    w3 = make_window(["--settings", str(desk_env / "settings.ini")])
    assert Path(w3.store.location) == (desk_env / "case.db").resolve()


def _db_at_revision_0002(path: Path) -> None:
    """A case store as the previous PoxScreen left it: schema 0002 with one screened image."""
    from alembic import command
    from sqlalchemy.engine import URL

    from engine.store.db import _alembic_config, create_store_engine, writer

    engine = create_store_engine(URL.create("sqlite", database=str(path)))
    with writer(engine).begin() as conn:
        command.upgrade(_alembic_config(conn), "0002")
    engine.dispose()
    now = "2026-01-05 10:00:00"
    probs = json.dumps({"Chickenpox": 0.1, "Measles": 0.1, "Monkeypox": 0.7, "Normal": 0.1})
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "INSERT INTO models (id, content_hash, name, meta, metrics, created_at, active) "
            "VALUES (1, ?, 'old', '{}', '{}', ?, 1)",
            ("cd" * 32, now),
        )
        con.execute(
            "INSERT INTO images (id, sha256, path, first_seen_at, last_seen_at) VALUES (1, ?, ?, ?, ?)",
            ("ef" * 32, "/clinic/old.jpg", now, now),
        )
        con.execute(
            "INSERT INTO predictions (image_id, model_id, probabilities, top_class, confidence, "
            "entropy, created_at) VALUES (1, 1, ?, 'Monkeypox', 0.7, 0.94, ?)",
            (probs, now),
        )
    con.close()


def test_opens_a_database_from_the_previous_version(
    make_window: Any, desk_env: Path, qtbot: Any
) -> None:
    from engine.store import head_revision

    db = desk_env / "case.db"
    _db_at_revision_0002(db)
    asked: list[Any] = []
    w = make_window(window_args(desk_env), ask=lambda *a: asked.append(a) or ("quit", None))
    assert asked == []
    qtbot.waitUntil(lambda: w.model.rowCount() == 1, timeout=10_000)
    assert w.model.item(0).path == "/clinic/old.jpg"
    qtbot.waitUntil(lambda: w.status.counts_label.text().startswith("1 screened"))
    con = sqlite3.connect(db)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    con.close()


@pytest.mark.parametrize(
    ("content", "kind"),
    [(b"this is a spreadsheet, not a database" * 10, "foreign"), ("newer", "newer")],
)
def test_unusable_database_offers_choices(
    make_window: Any, desk_env: Path, content: Any, kind: str
) -> None:
    bad = desk_env / "bad.db"
    if content == "newer":
        con = sqlite3.connect(bad)
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        con.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        con.commit()
        con.close()
    else:
        bad.write_bytes(content)
    before = bad.read_bytes()
    asked: list[tuple[str, str, str]] = []
    fresh = desk_env / "fresh.db"

    def ask(k: str, location: str, reason: str) -> tuple[str, str]:
        asked.append((k, location, reason))
        return "new", str(fresh)

    w = make_window(["--db", str(bad), "--settings", str(desk_env / "s.ini")], ask=ask)
    assert [a[0] for a in asked] == [kind]
    assert str(bad) in asked[0][1]
    assert Path(w.store.location) == fresh.resolve()
    assert bad.read_bytes() == before  # the unusable file was left untouched


def test_quitting_at_the_database_dialog_opens_nothing(desk_env: Path, qtbot: Any) -> None:
    from desktop.app import build_window

    bad = desk_env / "bad.db"
    bad.write_bytes(b"not sqlite" * 100)
    window, _ = build_window(
        ["--db", str(bad), "--settings", str(desk_env / "s.ini")], ask=lambda *a: ("quit", None)
    )
    assert window is None


def test_worker_exception_reaches_the_log_and_a_dialog(
    make_window: Any, desk_env: Path, qtbot: Any, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.screening import ScreeningJob

    def broken(self: Any) -> Any:
        raise RuntimeError("disk unplugged during screening")

    monkeypatch.setattr(ScreeningJob, "run", broken)
    w = make_window()
    w.screen_folder(str(photos))
    wait_screening(qtbot, w)
    reporter = w.test_reporter
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 1, timeout=10_000)
    box = reporter.dialogs[0]
    assert "Screening of" in box.text() and str(photos) in box.text()
    assert "disk unplugged" in box.informativeText()
    assert str(reporter.log_path) in box.informativeText()
    assert "Traceback" in box.detailedText()
    log_text = Path(reporter.log_path).read_text(encoding="utf-8")
    assert "disk unplugged during screening" in log_text and "Traceback" in log_text
    assert w.menus.act_screen.isEnabled() and not w.progress.isVisible()  # the app carries on


def test_uncaught_exception_hook_reports(make_window: Any, qtbot: Any) -> None:
    import sys

    w = make_window()
    reporter = w.test_reporter
    old = sys.excepthook
    try:
        reporter.install_hooks()
        try:
            raise ValueError("boom in a slot")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook = old
    qtbot.waitUntil(lambda: len(reporter.dialogs) == 1)
    assert "boom in a slot" in reporter.dialogs[0].informativeText()


def test_menus_and_shortcuts(make_window: Any) -> None:
    from PySide6.QtWidgets import QMenu

    from desktop.shell.help_dialog import shortcut_rows

    w = make_window()
    actions = [a for m in w.menuBar().findChildren(QMenu) for a in m.actions()]
    rows = dict((text, keys) for keys, text in shortcut_rows(actions))
    assert rows["Screen a folder"] == "Ctrl+O"
    assert rows["Find by file name"] == "Ctrl+F"


def test_untrained_model_gets_a_permanent_banner(
    make_window: Any, desk_env: Path, qtbot: Any
) -> None:
    from engine.checkpoint import save_model
    from engine.default_model import untrained_model
    from engine.store import Store

    model, meta = untrained_model()
    path = desk_env / "untrained.safetensors"
    save_model(path, model, meta)
    with Store.open(desk_env / "case.db") as store:
        store.register_model_file(path, activate=True)
    w = make_window()
    qtbot.waitUntil(lambda: w.active.handle is not None, timeout=60_000)
    assert w.banner.isVisible()
    assert "NOT a diagnosis" in w.banner.label.text()
    assert "UNTRAINED" in w.status.model_label.text()


def test_entry_points_reach_the_desktop_app() -> None:
    import subprocess
    import sys

    for cmd in (["-m", "engine", "gui", "--help"], ["-m", "desktop", "--help"]):
        out = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "--screen FOLDER" in out.stdout and "--db" in out.stdout


def test_desktop_package_is_qt_free_and_light() -> None:
    import subprocess
    import sys

    code = "import sys, desktop; print('PySide6' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
