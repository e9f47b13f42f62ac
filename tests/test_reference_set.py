"""The shipped reference set: intact, complete, refused when tampered, rebuilt from ../shared."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.checkpoint import DEFAULT_CLASSES
from engine.paths import resources_dir
from engine.reference import ReferenceSetError, reference_counts, reference_dir, reference_set
from trainer.reference import ReferenceBuildError, build

SPLIT = resources_dir() / "models" / "msid_split.json"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _manifest() -> dict:
    return json.loads((reference_dir() / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_matches_the_shipped_files() -> None:
    manifest = _manifest()
    listed = {e["file"] for e in manifest["files"]}
    on_disk = {p.relative_to(reference_dir()).as_posix() for p in reference_dir().rglob("*.png")}
    assert listed == on_disk
    for entry in manifest["files"]:
        data = (reference_dir() / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        assert Path(entry["file"]).parts[0] == entry["class"]
    pairs = reference_set()
    assert len(pairs) == 87
    assert all(p.is_file() for p, _ in pairs)


def test_every_class_of_the_shipped_model_with_the_split_counts() -> None:
    split = json.loads(SPLIT.read_text(encoding="utf-8"))
    expected = split["counts"]["test"]
    counts: dict[str, int] = {}
    for _, label in reference_set():
        counts[label] = counts.get(label, 0) + 1
    assert set(counts) == set(DEFAULT_CLASSES)
    assert counts == expected == reference_counts()
    sources = {e["source_sha256"] for e in _manifest()["files"]}
    assert sources == {r["sha256"] for r in split["splits"]["test"]}
    assert _manifest()["split"]["name"] == "test"
    assert _manifest()["split"]["version"] == split["version"]


def test_photos_are_small_model_sized_pngs() -> None:
    total = 0
    for path, _ in reference_set():
        with Image.open(path) as im:
            assert (im.format, im.size, im.mode) == ("PNG", (224, 224), "RGB")
        total += path.stat().st_size
    assert total < 6 * 1024 * 1024


def test_a_tampered_photo_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    shutil.copytree(reference_dir(), folder)
    victim = folder / _manifest()["files"][5]["file"]
    with Image.open(victim) as im:
        pixels = np.array(im)
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(victim)
    with pytest.raises(ReferenceSetError, match=f"{victim.name}.*does not match the manifest"):
        reference_set(folder)
    victim.unlink()
    with pytest.raises(ReferenceSetError, match=f"{victim.name}.*cannot be read"):
        reference_set(folder)


def test_a_missing_or_foreign_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReferenceSetError, match="manifest is missing"):
        reference_set(tmp_path)
    (tmp_path / "manifest.json").write_text('{"files": []}', encoding="utf-8")
    with pytest.raises(ReferenceSetError, match="not a PoxScreen reference-set manifest"):
        reference_set(tmp_path)


def test_the_build_reproduces_the_committed_files(shared_dir: Path, tmp_path: Path) -> None:
    built = build(shared_dir / "datasets" / "msid", SPLIT, tmp_path)
    assert built == _manifest()
    for entry in built["files"]:
        assert (tmp_path / entry["file"]).read_bytes() == (
            reference_dir() / entry["file"]
        ).read_bytes()
    committed = (reference_dir() / "README.md").read_text(encoding="utf-8")
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == committed
    assert "Bala" in committed and "CC BY 4.0" in committed


def test_the_build_refuses_a_photo_that_is_not_the_recorded_one(
    shared_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "msid"
    shutil.copytree(shared_dir / "datasets" / "msid", data)
    first = json.loads(SPLIT.read_text(encoding="utf-8"))["splits"]["test"][0]
    victim = data / first["label"] / Path(first["path"]).name
    victim.chmod(0o644)
    with Image.open(victim) as im:
        im.convert("L").convert("RGB").save(victim)
    with pytest.raises(ReferenceBuildError, match=f"{victim.name}.*not the photo the split"):
        build(data, SPLIT, tmp_path / "out")


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO_ROOT / name for name in out.decode().split("\0") if name]


def test_no_data_set_photo_is_committed_outside_the_reference_folder(shared_dir: Path) -> None:
    forbidden = {e["sha256"] for e in _manifest()["files"]}
    for photo in (shared_dir / "datasets").rglob("*"):
        if photo.is_file() and photo.suffix.lower() in {".png", ".jpg", ".jpeg"}:
            forbidden.add(hashlib.sha256(photo.read_bytes()).hexdigest())
    allowed = reference_dir().resolve()
    offenders = [
        str(p.relative_to(REPO_ROOT))
        for p in _tracked_files()
        if p.is_file()
        and not p.resolve().is_relative_to(allowed)
        and hashlib.sha256(p.read_bytes()).hexdigest() in forbidden
    ]
    assert offenders == []


def test_msid_is_credited_in_the_readme_the_model_card_and_the_about_box() -> None:
    from desktop.dialogs import ABOUT
    from engine.modelmeta import read_meta
    from engine.paths import default_model_path
    from trainer.model_card import _header

    meta = read_meta(default_model_path())
    generated = "\n".join(_header(meta, list(meta.classes)))
    committed = (resources_dir() / "MODEL_CARD.md").read_text(encoding="utf-8")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for text in (generated, committed, readme):
        assert "resources/reference/" in text
        assert "Bala" in text and "CC BY 4.0" in text
    assert "MSID" in ABOUT and "Bala" in ABOUT and "CC BY 4.0" in ABOUT


def test_found_inside_a_bundle_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen app sets sys._MEIPASS; the reference set is read from its resources/ there."""
    import sys

    shutil.copytree(reference_dir(), tmp_path / "resources" / "reference")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    pairs = reference_set()
    assert len(pairs) == 87 and all(p.is_relative_to(tmp_path) for p, _ in pairs)
    shutil.rmtree(tmp_path / "resources" / "reference")
    with pytest.raises(ReferenceSetError, match="manifest is missing"):
        reference_set()


def test_the_build_command_names_a_missing_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.reference import main

    args = ["build", "--data", str(tmp_path / "none"), "--split", str(SPLIT)]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "chickenpox" in err.lower() and "Traceback" not in err
