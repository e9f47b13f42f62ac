"""Forgetting a case leaves no file with the photo's bytes (or derived pictures)
under the data folder, while the audit history keeps the hash and the events."""

from __future__ import annotations

import os
from pathlib import Path

from engine.cli import main
from engine.paths import user_data_dir
from engine.store import Store
from engine.store.forget import ForgetOutcome
from engine.thumbnails import ThumbnailCache, clean_on_forget, forget_hook
from tests.engine.store.conftest import fake_result, make_photo, sha_of


def _files_under(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def test_forget_removes_copy_thumbnails_and_previews_keeps_history(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "usb" / "Jane Doe lesion.png", 7, size=(120, 90))
    other = make_photo(tmp_path / "usb" / "other.png", 8)
    data = photo.read_bytes()
    sha = sha_of(photo)
    with clean_on_forget(Store.open()) as store:  # <user data dir>/poxscreen.db, as the app
        store.label(photo, "Measles", who="dr a", classes=["Measles", "Normal"])
        store.label(other, "Normal", who="dr a", classes=["Measles", "Normal"])
        run = store.begin_run(photo.parent, {}, "a" * 64)
        store.record_results(run, [{**fake_result(1), "path": photo, "sha256": sha}])
        thumbs = user_data_dir() / "thumbnails" / sha[:2]
        thumbs.mkdir(parents=True, exist_ok=True)
        (thumbs / f"{sha}-160.jpg").write_bytes(b"thumbnail pixels")
        (thumbs / f"{sha}-320.jpg").write_bytes(b"thumbnail pixels")
        previews = user_data_dir() / "previews"
        previews.mkdir()
        (previews / f"{sha}-1600.jpg").write_bytes(b"preview pixels")
        assert any(f.read_bytes() == data for f in _files_under(user_data_dir()))

        outcome = store.forget(sha[:10])
        assert len(outcome.removed) == 4 and not outcome.failed
        record = store.image(sha)
        assert record.stored_path is None and record.path is None
        assert [e.label for e in store.history(sha)] == ["Measles"]  # the audit trail stays
        assert store.predictions(sha)
        assert all(i.file != photo for i in store.labelled_images())
    left = _files_under(user_data_dir())
    assert not any(f.read_bytes() == data for f in left)
    assert not any(f.name.startswith(sha) for f in left)
    assert any(f.read_bytes() == other.read_bytes() for f in left)  # others untouched
    for f in left:  # the original's name (a patient's) is gone from the database too
        assert b"Jane Doe" not in f.read_bytes()


def test_cli_forget_needs_yes(tmp_path: Path, capsys) -> None:
    photo = make_photo(tmp_path / "a.png", 1)
    db = tmp_path / "case.db"
    assert main(["label", str(photo), "Normal", "--who", "dr", "--db", str(db)]) == 0
    assert main(["forget", str(photo), "--db", str(db)]) == 2
    assert "cannot be undone" in capsys.readouterr().err
    assert main(["forget", str(photo), "--yes", "--db", str(db)]) == 0
    assert "1 files removed" in capsys.readouterr().out
    assert not [f for f in (tmp_path / "case-images").rglob("*") if f.is_file()]


def test_the_store_alone_leaves_derived_pictures_to_its_hooks(tmp_path: Path) -> None:
    """The store knows nothing of thumbnails: it removes its own copy and the paths, then hands
    the hash to each ``on_forget`` hook, which adds what it removed to the outcome."""
    photo = make_photo(tmp_path / "a.png", 3)
    sha = sha_of(photo)
    thumb = user_data_dir() / "thumbnails" / sha[:2] / f"{sha}-160.jpg"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(b"thumbnail pixels")
    seen: list[str] = []

    def hook(digest: str, outcome: ForgetOutcome) -> None:
        seen.append(digest)
        outcome.failed.append("hook ran")

    with Store.open() as store:
        store.label(photo, "Normal", who="dr a", classes=["Normal"])
        store.on_forget.append(hook)
        outcome = store.forget(sha)
    assert seen == [sha] and outcome.failed == ["hook ran"]
    assert len(outcome.removed) == 1 and thumb.is_file()  # the copy only; the thumbnail stays


def test_forget_hook_cleans_a_cache_kept_elsewhere(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.png", 4)
    sha = sha_of(photo)
    cache = ThumbnailCache(root=tmp_path / "elsewhere")
    cache.get(photo, sha, 64)
    assert list(cache.root.rglob(f"{sha}*"))
    with Store.open() as store:
        store.label(photo, "Normal", who="dr a", classes=["Normal"])
        store.on_forget.append(forget_hook(cache=cache))
        outcome = store.forget(sha)
    assert not list(cache.root.rglob(f"{sha}*")) and not outcome.failed
    assert len(outcome.removed) == 2  # the store's copy and the thumbnail
