"""Training from the case store: latest labels, "refer" left out, a recorded split that keeps its
validation images across runs while new labels join (near-duplicates follow their original)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageOps

from engine.images import sha256_file
from tests.trainer.conftest import RecordingReporter, open_test_store, quick_options
from tests.trainer.synth import CLASSES, photo
from trainer.sources import store_split_path
from trainer.train import run_training


def _label_photos(store, folder: Path, items: list[tuple[int, str, str]]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for seed, drawn, label in items:
        path = folder / f"p{seed}.png"
        photo(seed, drawn).save(path)
        store.label(path, label, who="dr-test", classes=list(CLASSES))
        paths[f"p{seed}"] = path
    return paths


def test_store_labels_train_and_the_validation_split_stays_fixed(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first = [(100 * c + i, cls, cls) for c, cls in enumerate(CLASSES) for i in range(9)]
    with open_test_store(db) as store:
        paths = _label_photos(store, tmp_path / "inbox", first)
        # relabelled: the latest label counts; "refer" excludes the photo
        store.label(paths["p2"], "Red", who="dr-test", classes=list(CLASSES))
        store.label(paths["p2"], "Green", who="dr-test", classes=list(CLASSES))
        store.label(paths["p1"], "refer", who="dr-test", classes=list(CLASSES))
        split_file = store_split_path(store)
    relabelled = sha256_file(paths["p2"])
    for p in paths.values():  # the store keeps its own copies: originals may vanish
        p.unlink()
    opts = dict(from_store=True, db=str(db), data_dirs=[], epochs=1, freeze=1.0)
    one = run_training(quick_options(tmp_path, tmp_path / "run1", **opts), RecordingReporter())
    assert one["data"]["sources"] == {"store": 26}
    assert sum(one["data"]["counts"]["train"]) + sum(one["data"]["counts"]["val"]) == 26
    assert split_file.is_file()
    recorded = json.loads(split_file.read_text())
    labels = {r["sha256"]: r["label"] for rows in recorded["splits"].values() for r in rows}
    assert labels[relabelled] == "Green"
    val_before = {r["sha256"] for r in recorded["splits"]["val"]}

    # new labels: three new photos and the mirror image of a validation photo
    val_row = recorded["splits"]["val"][0]
    mirror = tmp_path / "inbox2" / "mirror.png"
    mirror.parent.mkdir()
    ImageOps.mirror(Image.open(val_row["path"]).convert("RGB")).save(mirror)
    with open_test_store(db) as store:
        _label_photos(store, tmp_path / "inbox2", [(900 + i, c, c) for i, c in enumerate(CLASSES)])
        store.label(mirror, val_row["label"], who="dr-test", classes=list(CLASSES))
    two = run_training(quick_options(tmp_path, tmp_path / "run2", **opts), RecordingReporter())
    assert two["data"]["sources"] == {"store": 30}
    assert two["data"]["split_added"] == {"train": 3, "val": 1}
    recorded2 = json.loads(split_file.read_text())
    val_after = {r["sha256"] for r in recorded2["splits"]["val"]}
    assert val_before < val_after and len(val_after - val_before) == 1
    scored = {r["sha256"] for r in two["splits"]["val"]["images"]}
    assert scored == val_after


def test_lab_confirmed_only_keeps_the_photos_of_visits_with_a_lab_result(tmp_path: Path) -> None:
    from trainer.cli import build_parser, train_options
    from trainer.sources import store_samples

    with open_test_store(tmp_path / "store.db") as store:
        items = [(1, "Red", "Red"), (2, "Green", "Green"), (3, "Red", "Red"), (4, "Red", "Red")]
        paths = _label_photos(store, tmp_path / "inbox", items)
        store.visits.assign([paths["p1"], paths["p2"]], "P1", "V1")
        store.visits.assign([paths["p3"]], "P2", "V1")
        store.visits.set_lab("P1", "V1", "negative", who="dr-test")
        store.visits.set_lab("P2", "V1", "pending", who="dr-test")  # no result yet
        everything, _ = store_samples(store)
        only, skipped = store_samples(store, lab_only=True)
    assert len(everything) == 4
    assert {s.sha256 for s in only} == {sha256_file(paths["p1"]), sha256_file(paths["p2"])}
    assert [k.reason for k in skipped] == ["not a photo of a lab-confirmed visit"] * 2
    args = build_parser().parse_args(["train", "--from-store", "--lab-confirmed-only"])
    assert train_options(args).lab_only
