"""The folder walk never leaves the chosen tree; FIFOs and devices are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.images import ImageLoadError, iter_image_files, read_file_bytes, sha256_file
from tests.engine.factories import make_photo

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and FIFOs")


@posix_only
def test_walk_follows_no_directory_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    make_photo(outside / "secret.png", 1)
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    make_photo(root / "a.png", 2)
    make_photo(root / "sub" / "b.png", 3)
    os.symlink(outside, root / "x")  # like `ln -s / x`
    os.symlink("..", root / "sub" / "loop")  # like `ln -s .. loop`
    os.symlink(outside / "secret.png", root / "linked.png")  # a file link out of the tree
    found = iter_image_files(root, recursive=True)
    assert found == [root / "a.png", root / "sub" / "b.png"]


@posix_only
def test_file_link_inside_tree_is_kept(tmp_path: Path) -> None:
    make_photo(tmp_path / "a.png", 2)
    os.symlink(tmp_path / "a.png", tmp_path / "b.png")
    assert iter_image_files(tmp_path) == [tmp_path / "a.png", tmp_path / "b.png"]


@posix_only
def test_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="not a regular file"):
        sha256_file(fifo)
    with pytest.raises(ImageLoadError, match="not a regular file"):
        read_file_bytes(fifo)
    assert iter_image_files(tmp_path) == []


@posix_only
@pytest.mark.parametrize("command", ["label", "history"])
def test_label_and_history_on_fifo_do_not_hang(tmp_path: Path, command: str) -> None:
    from engine.store import Store

    Store.open(tmp_path / "c.db").close()
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    args = [fifo, "Normal"] if command == "label" else [fifo]
    proc = subprocess.run(
        [sys.executable, "-m", "engine", command, *map(str, args), "--db", tmp_path / "c.db"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "not a regular file" in proc.stderr and "Traceback" not in proc.stderr


def _linked_tree(tmp_path: Path) -> Path:
    """A folder with one photo, a folder link, a file link out of the tree and a broken link."""
    outside = tmp_path / "outside"
    outside.mkdir()
    make_photo(outside / "secret.png", 1)
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    make_photo(root / "a.png", 2)
    os.symlink(outside, root / "x")
    os.symlink(outside / "secret.png", root / "linked.png")
    os.symlink(root / "gone.png", root / "sub" / "broken.png")
    os.symlink(outside / "secret.png", root / "notes.txt")  # not a photo: no mention
    return root


@posix_only
def test_walk_names_every_link_it_does_not_follow(tmp_path: Path) -> None:
    from engine.images import walk_image_files

    root = _linked_tree(tmp_path)
    left_out: list[tuple[Path, str]] = []
    found = list(
        walk_image_files(root, recursive=True, on_skip=lambda p, r: left_out.append((p, r)))
    )
    assert found == [root / "a.png"]
    assert sorted(left_out) == [
        (root / "linked.png", "symbolic link to a file outside the chosen folder: not followed"),
        (root / "sub" / "broken.png", "symbolic link to a missing file: not followed"),
        (root / "x", "symbolic link to a folder: not followed"),
    ]


@posix_only
def test_screening_lists_links_in_summary_csv_and_run(model_file: Path, tmp_path: Path) -> None:
    import csv

    from engine.predictor import Predictor
    from engine.screening import ScreeningJob
    from engine.store import Store

    root = _linked_tree(tmp_path)
    out = tmp_path / "out.csv"
    with Store.open(tmp_path / "c.db") as store:
        summary = ScreeningJob(
            Predictor.from_file(model_file, device="cpu"),
            root,
            recursive=True,
            csv_path=out,
            store=store,
        ).run()
        run_errors = store.screening.run_errors(summary.run_id)
    assert (summary.total, summary.predicted, len(summary.errors)) == (4, 1, 3)
    reasons = dict(summary.errors)
    assert reasons[str(root / "x")] == "symbolic link to a folder: not followed"
    assert "outside the chosen folder" in reasons[str(root / "linked.png")]
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {r["path"]: r["error"] for r in csv.DictReader(fh)}
    assert len(rows) == 4 and rows[str(root / "sub" / "broken.png")].startswith("symbolic link")
    assert {str(p) for p, _ in run_errors} == set(reasons)
