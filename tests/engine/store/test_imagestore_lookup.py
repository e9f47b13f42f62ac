"""The one "which file shows this photo" lookup: original first, then the labelled copy."""

from __future__ import annotations

import hashlib

import pytest

from engine.store.imagestore import ImageStore


def test_original_then_copy_then_clear_errors(tmp_path):
    photo = tmp_path / "in" / "a photo é.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"not really a jpeg, but bytes to hash")
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    images = ImageStore(tmp_path / "copies")
    rel = images.put(photo, sha)

    assert images.photo_file(sha, str(photo), rel) == photo
    photo.unlink()
    copy = images.photo_file(sha, str(photo), rel)
    assert copy != photo and copy.read_bytes() == b"not really a jpeg, but bytes to hash"
    copy.unlink()
    with pytest.raises(FileNotFoundError, match="moved or deleted"):
        images.photo_file(sha, str(photo), rel)
    with pytest.raises(FileNotFoundError, match="forgotten"):
        images.photo_file(sha, None, None)
