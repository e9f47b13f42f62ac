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
