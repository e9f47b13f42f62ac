"""The content-addressed image store on its own: layout, dedup, hash check, no partial files."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.store import StoreError
from engine.store.imagestore import ImageStore
from tests.engine.store.conftest import make_photo, sha_of


def test_layout_dedup_and_lookup(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "In Folder" / "Lesion.JPEG", seed=1)
    sha = sha_of(photo)
    images = ImageStore(tmp_path / "store")
    rel = images.put(photo, sha)
    assert rel == f"{sha[:2]}/{sha[2:4]}/{sha}.jpeg"
    assert images.path(rel).read_bytes() == photo.read_bytes()
    twin = tmp_path / "twin.png"
    twin.write_bytes(photo.read_bytes())
    assert images.put(twin, sha) == rel  # same bytes: the existing copy, whatever the suffix
    assert images.find(sha) == images.path(rel)
    assert images.find("0" * 64) is None


def test_wrong_bytes_or_unreadable_source_leave_nothing_behind(tmp_path: Path) -> None:
    images = ImageStore(tmp_path / "store")
    photo = make_photo(tmp_path / "a.png", seed=1)
    with pytest.raises(StoreError, match="contents changed"):
        images.put(photo, "f" * 64)
    with pytest.raises(StoreError, match="missing.png"):
        images.put(tmp_path / "missing.png", "e" * 64)
    with pytest.raises(StoreError, match="SHA-256"):
        images.put(photo, "not-a-hash")
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
