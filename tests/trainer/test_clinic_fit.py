"""`train --from-store` on a clinic's labels: cross-fitted decision, every class kept, the
final model on every label, exit 0 whichever way the rule decides."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoint import load_model_and_guard
from engine.recipe import ADAPT
from tests.trainer.conftest import RecordingReporter, open_test_store
from tests.trainer.synth import CLASSES, photo, save_start_model
from trainer.train import TrainOptions, run_training

QUICK = dataclasses.replace(ADAPT, views=2, epochs=6, lr=1e-3)


def _clinic(tmp: Path, labels: list[str]) -> tuple[Path, str]:
    """A store whose model in use is the untrained start (3 classes, 64 px), with ``labels``
    given to generated photos drawn as their true classes (labels may disagree on purpose)."""
    start = tmp / "start.safetensors"
    meta = save_start_model(start, input_size=64)
    db = tmp / "case.db"
    inbox = tmp / "inbox"
    inbox.mkdir()
    drawn = [CLASSES[i % 2 * 2] for i in range(len(labels))]  # Blue and Red photos
    with open_test_store(db) as store:
        store.register_model(
            meta.content_hash, name=meta.name, path=start, meta={"classes": meta.classes},
            activate=True,
        )  # fmt: skip
        for i, (truth, label) in enumerate(zip(drawn, labels, strict=True)):
            path = inbox / f"p{i:03d}.png"
            photo(7000 + i, truth).save(path)
            store.label(path, label, who="dr-test", classes=list(CLASSES))
    return db, meta.content_hash


def test_learnable_labels_are_promoted_every_class_kept_and_the_photos_recorded(
    tmp_path: Path,
) -> None:
    labels = [CLASSES[i % 2 * 2] for i in range(24)]  # the truth; no Green label at all
    db, start_hash = _clinic(tmp_path, labels)
    opts = TrainOptions(from_store=True, db=str(db), out=tmp_path / "run", adapt=QUICK)
    reporter = RecordingReporter()
    report = run_training(opts, reporter)
    promo = report["promotion"]
    assert promo["method"] == "cross-fit" and promo["activate"], promo["reason"]
    assert report["classes"] == list(CLASSES)  # Green kept, in the parent's order
    assert (
        promo["plain"][0].startswith("right on ") and "of 24 of the clinic's" in promo["plain"][0]
    )
    assert any("not applicable" in line for line in promo["plain"])  # no reference photo of these
    assert {"mcc", "ece", "nll"} <= set(promo["details"])
    assert promo["checks"]["folds"] == 5
    _, meta, _ = load_model_and_guard(Path(report["model"]))
    assert meta.classes == list(CLASSES) and meta.parent == start_hash
    assert len(meta.training["trained_sha256"]) == 24  # all labels trained the final model
    assert meta.training["method"] == "cross-fit"
    events = reporter.events()
    assert [e for e in events if e["event"] == "start"][0]["method"] == "cross-fit"
    folds = [e for e in events if e.get("stage") == "crossfit"]
    assert [e["message"] for e in folds][-1] == "fold model 5 of 5 fitted"
    done = [e for e in events if e["event"] == "done"][-1]
    assert done["activated"] and done["promotion"]["plain"] == promo["plain"]
    with open_test_store(db) as store:
        assert store.active_model().content_hash == meta.content_hash


def test_shuffled_labels_are_refused_and_the_command_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clinic whose model in use learnt the classes labels 24 more photos carelessly (labels
    shuffled): the command says why it keeps the model in use and exits 0."""
    from trainer.cli import main

    truth = [CLASSES[i % 2 * 2] for i in range(24)]
    db, _ = _clinic(tmp_path, truth)
    first = run_training(
        TrainOptions(from_store=True, db=str(db), out=tmp_path / "run1", adapt=QUICK),
        RecordingReporter(),
    )
    assert first["promotion"]["activate"], first["promotion"]["reason"]
    shuffled = np.random.default_rng(3).permutation(truth)
    with open_test_store(db) as store:
        for i, label in enumerate(shuffled):
            path = tmp_path / "inbox" / f"q{i:03d}.png"
            photo(8000 + i, truth[i]).save(path)
            store.label(path, str(label), who="dr-test", classes=list(CLASSES))
        in_use = store.active_model().content_hash
    code = main(["train", "--from-store", "--db", str(db), "--out", str(tmp_path / "run2")])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads((tmp_path / "run2" / "report.json").read_text())
    promo = report["promotion"]
    assert not promo["activate"] and promo["reason"].startswith("kept the model in use")
    assert promo["checks"]["excluded"] == 24  # the first 24: the model in use trained on them
    assert "of 24 of the clinic's labelled photos" in promo["plain"][0]
    assert promo["reason"] in out
    with open_test_store(db) as store:
        assert store.active_model().content_hash == in_use  # nothing switched


def test_batchnorm_moved_towards_the_clinic_is_saved_and_compared_with_the_parent_as_it_is(
    tmp_path: Path,
) -> None:
    """With ``bn_share`` the fine-tune's backbone statistics move towards the clinic's photos:
    the saved model carries them, and the model in use it is compared
    with is the parent as it screens (not the parent with the clinic's statistics)."""
    from engine.checkpoint import load_model

    labels = [CLASSES[i % 2 * 2] for i in range(24)]
    db, _ = _clinic(tmp_path, labels)
    reports = {}
    for share in (0.0, 0.5):
        recipe = dataclasses.replace(QUICK, bn_share=share)
        opts = TrainOptions(
            from_store=True, db=str(db), out=tmp_path / f"run{share}", adapt=recipe,
            activate=False,
        )  # fmt: skip
        reports[share] = run_training(opts, RecordingReporter())
    start, _ = load_model(tmp_path / "start.safetensors")
    plain, _ = load_model(Path(reports[0.0]["model"]))
    moved, _ = load_model(Path(reports[0.5]["model"]))
    bn = "features.1.conv.0.1.running_mean"
    assert torch.equal(plain.state_dict()[bn], start.state_dict()[bn])
    assert not torch.allclose(moved.state_dict()[bn], start.state_dict()[bn])
    details = {s: r["promotion"]["details"] for s, r in reports.items()}
    assert details[0.5]["nll"]["active"] == pytest.approx(details[0.0]["nll"]["active"])
    assert details[0.5]["accuracy"]["active"] == details[0.0]["accuracy"]["active"]


def test_batchnorm_statistics_come_from_the_clinics_unlabelled_photos_too(tmp_path: Path) -> None:
    """The clinic's photos nobody labelled show its camera as well: by default the backbone's
    statistics are measured on the store's newest photos, labelled or not, and the model's
    training record says so; ``bn_pool="labelled"`` measures the labelled photos only."""
    from engine.checkpoint import load_model

    labels = [CLASSES[i % 2 * 2] for i in range(24)]
    db, _ = _clinic(tmp_path, labels)
    with open_test_store(db) as store:
        for i in range(30):  # screened, never labelled: all Green
            path = tmp_path / "inbox" / f"u{i:03d}.png"
            photo(9000 + i, CLASSES[1]).save(path)
            store.add_image(path)
    models, records = {}, {}
    for pool in ("clinic", "labelled"):
        recipe = dataclasses.replace(QUICK, bn_share=0.5, bn_pool=pool)
        opts = TrainOptions(
            from_store=True, db=str(db), out=tmp_path / pool, adapt=recipe, activate=False
        )
        report = run_training(opts, RecordingReporter())
        models[pool], meta = load_model(Path(report["model"]))
        records[pool] = meta.training["batchnorm_photos"]
    assert records == {
        "clinic": "54 of the clinic's 54 most recent photos, labelled or not",
        "labelled": "the clinic's labelled photos",
    }
    bn = "features.1.conv.0.1.running_mean"
    assert not torch.allclose(
        models["clinic"].state_dict()[bn], models["labelled"].state_dict()[bn]
    )
