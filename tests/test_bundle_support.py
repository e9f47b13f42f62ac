"""Resources found the same way from source and from a PyInstaller bundle; icon, .desktop file
and Windows version info for the packaged app (the bundle itself: make package-test)."""

from __future__ import annotations

import configparser
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from bundle import make_icon
from bundle.winversion import project_table, version_file_text, version_tuple
from engine import paths
from launcher import selftest
from tests.conftest import REPO_ROOT


def test_resources_from_source() -> None:
    assert not hasattr(sys, "_MEIPASS")
    assert paths.resources_dir() == REPO_ROOT / "resources"
    assert paths.default_model_path() == REPO_ROOT / "resources" / "models" / "default.safetensors"


def test_resources_from_a_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frozen app sets sys._MEIPASS to its _internal folder; everything follows from there."""
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resources_dir() == tmp_path / "resources"
    assert paths.default_model_path() == tmp_path / "resources" / "models" / "default.safetensors"
    with pytest.raises(selftest.SelfTestError, match="models/default.safetensors"):
        selftest.step_resources(selftest.Context(tmp_path))
    for rel in selftest.REQUIRED_RESOURCES:
        target = tmp_path / "resources" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "resources" / rel, target)
    assert selftest.step_resources(selftest.Context(tmp_path)) == str(tmp_path / "resources")


def test_every_required_resource_is_in_the_checkout() -> None:
    for rel in selftest.REQUIRED_RESOURCES:
        assert (REPO_ROOT / "resources" / rel).is_file(), rel


def test_spec_bundles_resources_and_migrations_where_the_helpers_look() -> None:
    """build.spec puts resources/ and the Alembic scripts at the paths code computes from
    _MEIPASS / __file__ (engine/store/db.py reads migrations from beside itself)."""
    spec = (REPO_ROOT / "build.spec").read_text(encoding="utf-8")
    assert '(str(ROOT / "resources"), "resources")' in spec
    assert '"engine/store/migrations"' in spec
    from engine.store import db

    assert db.MIGRATIONS_DIR == REPO_ROOT / "engine" / "store" / "migrations"
    assert "upx=False" in spec and "exclude_binaries=True" in spec  # one folder, no UPX


def test_committed_icon_matches_its_generator() -> None:
    icons = REPO_ROOT / "resources" / "icons"
    assert (icons / "poxscreen.svg").read_text(encoding="utf-8") == make_icon.svg()
    png = Image.open(icons / "poxscreen.png")
    assert png.size == (256, 256) and png.mode == "RGBA"
    ico = Image.open(icons / "poxscreen.ico")
    assert set(make_icon.ICO_SIZES) <= {w for w, _ in ico.info["sizes"]}
    for path in icons.iterdir():
        assert path.stat().st_size < 64 * 1024, f"{path.name} should stay small"


def test_linux_desktop_entry() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(REPO_ROOT / "bundle" / "poxscreen.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Name"] == "PoxScreen"
    assert section["Exec"].split() == ["PoxScreen", "gui"]  # a file argument would be a CLI call
    assert section["Icon"] and section["Terminal"] == "false"


def test_version_tuple() -> None:
    assert version_tuple("0.1.0") == (0, 1, 0, 0)
    assert version_tuple("1.2.3.4.5") == (1, 2, 3, 4)
    assert version_tuple("2.0rc1+local") == (2, 0, 0, 0)


def test_windows_version_file_parses_with_pyinstaller(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The VERSIONINFO text is read back by PyInstaller's own parser (embedding it needs a
    Windows build, which these Linux machines cannot do)."""
    compat = pytest.importorskip("PyInstaller.compat", reason="make package installs PyInstaller")
    monkeypatch.setattr(compat, "win32api", None, raising=False)  # only needed to write .exe
    versioninfo = pytest.importorskip("PyInstaller.utils.win32.versioninfo")
    project = project_table()
    path = tmp_path / "version_info.txt"
    path.write_text(version_file_text(project), encoding="utf-8")
    info = versioninfo.load_version_info_from_text_file(str(path))
    major, minor, patch, build = version_tuple(project["version"])
    assert info.ffi.fileVersionMS == (major << 16) | minor
    assert info.ffi.fileVersionLS == (patch << 16) | build
    strings = {s.name: s.val for s in info.kids[0].kids[0].kids}
    assert strings["ProductVersion"] == project["version"]
    assert strings["OriginalFilename"] == "PoxScreen.exe"


def test_size_report_groups_parts_and_skips_links(tmp_path: Path) -> None:
    from bundle.sizes import measure, report

    app = tmp_path / "PoxScreen"
    files = {
        "PoxScreen": 10,
        "_internal/libpython3.so": 20,
        "_internal/torch/lib/libtorch_cpu.so": 400,
        "_internal/torch/_tensor.py": 5,
        "_internal/nvidia/cu13/lib/libcublas.so.13": 300,
        "_internal/resources/models/default.safetensors": 15,
    }
    for rel, size in files.items():
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_bytes(b"x" * size)
    (app / "_internal" / "libcublas.so.13").symlink_to(
        app / "_internal/nvidia/cu13/lib/libcublas.so.13"
    )
    total, parts, listed = measure(app)
    assert total == sum(files.values())  # the link is not counted twice
    assert parts["torch/lib/libtorch_cpu.so"] == 400 and parts["torch"] == 5
    assert parts["nvidia/cu13"] == 300 and parts["resources"] == 15
    assert parts["(top-level files)"] == 30  # the executable and libpython
    assert listed[0] == (400, "_internal/torch/lib/libtorch_cpu.so")
    assert "torch/lib/libtorch_cpu.so" in report(app).splitlines()[2]


def test_desktop_entry_passes_desktop_file_validate() -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate not installed (apt-get install desktop-file-utils)")
    import subprocess

    out = subprocess.run(
        [validator, str(REPO_ROOT / "bundle" / "poxscreen.desktop")], capture_output=True, text=True
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
