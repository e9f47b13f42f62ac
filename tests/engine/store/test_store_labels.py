"""Label history as events: set, undo, current label, refer, and the image-store copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.store import REFER, NotFoundError, NothingToUndoError, Store, StoreError
from tests.engine.store.conftest import CLASSES, MODEL_A, fake_result, make_photo, sha_of


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    return make_photo(tmp_path / "usb" / "lesion.jpg", seed=1)


def test_label_history_undo_and_current_label(store: Store, photo: Path) -> None:
    sha = sha_of(photo)
    store.label(photo, "Measles", who="dr a", classes=CLASSES)
    store.label(photo, "monkeypox", who="dr b", note="typical lesions", classes=CLASSES)
    assert store.current_label(photo) == "Monkeypox"  # canonical spelling

    undone = store.undo(sha, who="dr b")
    assert undone.current_label == "Measles"
    store.label(sha[:10], "Normal", who="dr c", classes=CLASSES)
    assert store.current_label(sha) == "Normal"
    store.undo(sha, who="dr c")  # takes back Normal, not the earlier undo
    assert store.current_label(sha) == "Measles"
    store.undo(sha, who="dr a")
    assert store.current_label(sha) is None
    with pytest.raises(NothingToUndoError):
        store.undo(sha, who="dr a")

    history = store.history(photo)
    assert [(e.kind, e.label, e.label_after) for e in history] == [
        ("set", "Measles", "Measles"),
        ("set", "Monkeypox", "Monkeypox"),
        ("undo", None, "Measles"),
        ("set", "Normal", "Normal"),
        ("undo", None, "Measles"),
        ("undo", None, None),
    ]
    assert history[1].who == "dr b" and history[1].note == "typical lesions"
    assert history[2].undoes_id == history[1].id
    assert history[4].undoes_id == history[3].id
    assert history[5].undoes_id == history[0].id
    assert all(e.source == "clinician" for e in history)
    assert [e.created_at for e in history] == sorted(e.created_at for e in history)


def test_refer_is_a_label_and_imports_record_their_source(store: Store, photo: Path) -> None:
    assert store.label(photo, "uncertain", who="dr a").current_label == REFER
    store.label(photo, "Chickenpox", who="folder import", source="import", classes=CLASSES)
    assert [e.source for e in store.history(photo)] == ["clinician", "import"]


def test_labels_are_checked_against_the_active_models_classes(store: Store, photo: Path) -> None:
    with pytest.raises(StoreError, match="needs a clinician"):
        store.label(photo, "Measles", who="  ")
    store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
    with pytest.raises(StoreError, match="not one of Chickenpox, Measles, Monkeypox, Normal"):
        store.label(photo, "Smallpox", who="dr a")
    assert store.history(photo) == []  # nothing half-recorded


def test_labelling_keeps_a_content_addressed_copy(store: Store, photo: Path) -> None:
    sha = sha_of(photo)
    outcome = store.label(photo, "Measles", who="dr a", classes=CLASSES)
    expected = store.images.root / sha[:2] / sha[2:4] / f"{sha}.jpg"
    assert outcome.stored_path == expected and outcome.warning is None
    assert expected.read_bytes() == photo.read_bytes()
    # The same bytes under another name are the same image and the same single copy.
    twin = photo.with_name("copy-of-lesion.jpg")
    twin.write_bytes(photo.read_bytes())
    store.label(twin, "Normal", who="dr b", classes=CLASSES)
    assert sorted(p.name for p in store.images.root.rglob("*") if p.is_file()) == [expected.name]
    assert store.image(sha).path == str(twin.resolve())
    # Retraining still finds the image when the USB stick is gone.
    photo.unlink()
    twin.unlink()
    (example,) = store.labelled_images()
    assert (example.sha256, example.label, example.file) == (sha, "Normal", expected)


def test_label_by_hash_copies_from_the_last_seen_path_or_warns(
    store: Store, tmp_path: Path
) -> None:
    kept = make_photo(tmp_path / "a.png", seed=2)
    gone = make_photo(tmp_path / "b.png", seed=3)
    changed = make_photo(tmp_path / "c.png", seed=4)
    for p in (kept, gone, changed):
        store.add_image(p)
    shas = [sha_of(p) for p in (kept, gone, changed)]
    gone.unlink()
    make_photo(changed, seed=5)  # edited after it was seen: bytes no longer match

    ok = store.label(shas[0], "Measles", who="dr a")
    assert ok.stored_path is not None and ok.stored_path.is_file()
    missing = store.label(shas[1], "Measles", who="dr a")
    assert missing.stored_path is None and "no copy" in (missing.warning or "")
    edited = store.label(shas[2], "Measles", who="dr a")
    assert edited.stored_path is None and "contents changed" in (edited.warning or "")
    assert store.current_label(shas[1]) == store.current_label(shas[2]) == "Measles"
    assert not any(p.name.endswith(".tmp") for p in store.images.root.rglob("*"))


def test_unknown_images_and_bad_files_give_typed_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        store.history("abcdef12")
    with pytest.raises(StoreError, match="nowhere.jpg"):
        store.label(tmp_path / "nowhere.jpg", "Measles", who="dr a")
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    with pytest.raises(StoreError, match="notes.jpg"):
        store.label(notes, "Measles", who="dr a")


def test_clinic_photos_are_the_newest_files_labelled_or_screened_and_in_scope(
    store: Store, tmp_path: Path
) -> None:
    """What a fine-tune measures the clinic's camera on: newest first, screened or labelled,
    never a picture a model called out of scope, never a file that is gone."""
    files = [make_photo(tmp_path / "clinic" / f"p{i}.png", seed=100 + i) for i in range(6)]
    run = store.begin_run(str(tmp_path / "clinic"), {}, MODEL_A, model_meta={"classes": CLASSES})
    store.record_results(
        run,
        [
            fake_result(i, path=str(f), sha256=sha_of(f), out_of_scope=i == 3)
            for i, f in enumerate(files[:5])
        ],
    )
    store.finish_run(run, "finished")
    store.label(files[5], "Measles", who="dr a", classes=CLASSES)  # added last, never screened
    labelled = sha_of(files[5])
    files[5].unlink()  # the original is gone: the store's copy serves
    files[1].unlink()  # screened only, and gone
    shas = [sha_of(p) for p in store.clinic_photos(3)]
    assert shas == [labelled, sha_of(files[4]), sha_of(files[2])]
    assert [sha_of(p) for p in store.clinic_photos(10)][1:] == [sha_of(files[i]) for i in (4, 2, 0)]
