"""The clinic loop on real photos with the shipped model: 40 labelled MSID photos the model
never trained on (its recorded validation part), no Measles among them, through the same code
path as `poxscreen train --from-store` and the app's Fine-tune. Skips without ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.checkpoint import load_model_and_guard
from tests.trainer.conftest import RecordingReporter, open_test_store
from trainer.train import TrainOptions, run_training

ROOT = Path(__file__).resolve().parents[2]
MSID = ROOT.parent / "shared" / "datasets" / "msid"

pytestmark = pytest.mark.skipif(not MSID.is_dir(), reason="needs ../shared/datasets/msid")


def test_forty_real_labels_without_measles_keep_four_classes_and_decide_in_plain_words(
    tmp_path: Path,
) -> None:
    split = json.loads((ROOT / "resources/models/msid_split.json").read_text())["splits"]
    chosen = [e for e in split["val"] if e["label"] != "Measles"][:40]
    db = tmp_path / "case.db"
    with open_test_store(db) as store:
        for e in chosen:
            store.label(MSID / e["label"] / Path(e["path"]).name, e["label"], who="dr-test")
    reporter = RecordingReporter()
    report = run_training(TrainOptions(from_store=True, db=str(db), out=tmp_path / "run"), reporter)
    promo = report["promotion"]
    assert promo["method"] == "cross-fit"
    assert report["classes"] == ["Chickenpox", "Measles", "Monkeypox", "Normal"]
    ref = promo["checks"]["reference"]
    assert ref["n"] == 87 and 0.0 <= ref["candidate"] <= 1.0 and 0.0 <= ref["active"] <= 1.0
    assert (
        promo["checks"]["excluded"] == 0
    )  # validation photos: the shipped model never trained on them
    assert any(line.startswith("caught ") for line in promo["plain"])
    assert promo["activate"] == all(
        promo["checks"][k]["passed"] for k in ("learnt", "better", "mpox", "reference")
    )
    _, meta, guard = load_model_and_guard(Path(report["model"]))
    assert guard is not None and meta.guard.get("source") == "parent"
    assert report["graph"] and Path(report["graph"]).is_file()  # ONNX from the template
    lines = [e for e in reporter.events() if e["event"] == "classes"][0]["lines"]
    assert any(line.startswith("Measles: 0 labels") for line in lines)
