"""The shipped default model: always intact; its model-card figures reproduce on ../shared."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.checkpoint import DEFAULT_CLASSES, load_model
from engine.default_model import load_default_model
from engine.paths import default_model_path, resources_dir

SPLIT = resources_dir() / "models" / "msid_split.json"
CARD = resources_dir() / "MODEL_CARD.md"
# Near-duplicate pairs listed in ../shared/datasets/README.md: never split across train and test.
PAIRS = [
    ("chickenpox", 11, 78),
    ("chickenpox", 22, 65),
    ("chickenpox", 34, 84),
    ("chickenpox", 41, 95),
    ("chickenpox", 1, 66),
    ("measles", 12, 39),
    ("measles", 5, 79),
    ("measles", 21, 45),
    ("monkeypox", 71, 134),
    ("monkeypox", 61, 99),
    ("monkeypox", 87, 114),
    ("monkeypox", 79, 190),
    ("monkeypox", 50, 128),
    ("monkeypox", 92, 273),
    ("normal", 15, 222),
    ("normal", 57, 86),
    ("normal", 87, 88),
]


@pytest.fixture(scope="module")
def shipped():
    return load_model(default_model_path())  # verifies tensor names, shapes and content hash


def test_shipped_model_is_intact_and_trained(shipped) -> None:
    model, meta = shipped
    assert meta.trained and meta.classes == list(DEFAULT_CLASSES)
    assert meta.padding == "tf" and meta.temperature > 0
    assert load_default_model()[1].content_hash == meta.content_hash
    test = meta.metrics["test"]
    assert test["n"] == sum(json.loads(SPLIT.read_text())["counts"]["test"].values())


def test_model_card_quotes_the_shipped_figures(shipped) -> None:
    _, meta = shipped
    card = CARD.read_text(encoding="utf-8")
    assert meta.content_hash[:12] in card
    test = meta.metrics["test"]
    for key in ("accuracy", "macro_f1", "mcc"):
        assert f"{test[key]:.3f}" in card, key
    assert re.search(r"not a diagnosis", card, re.I)
    assert "CC BY 4.0" in card
    notes = (resources_dir() / "models" / "selection_notes.md").read_text(encoding="utf-8")
    assert notes.strip() in card  # how the model was chosen: the card carries the notes
    assert "## Not measured" in card and "Out-of-scope guard" in card


def test_split_keeps_listed_near_duplicates_together(shared_dir: Path) -> None:
    from engine.images import sha256_file

    split = json.loads(SPLIT.read_text())
    where = {e["sha256"]: name for name, items in split["splits"].items() for e in items}
    root = shared_dir / "datasets" / "msid"
    checked = 0
    for cls, a, b in PAIRS:
        pa, pb = (root / cls.capitalize() / f"{cls}{n}.png" for n in (a, b))
        if pa.exists() and pb.exists():
            assert where[sha256_file(pa)] == where[sha256_file(pb)], (pa.name, pb.name)
            checked += 1
    assert checked >= 10


def test_shipped_figures_reproduce_on_the_test_split(
    shipped, shared_dir: Path, tmp_path: Path
) -> None:
    from trainer.evaluate import evaluate_folder

    _, meta = shipped
    report = evaluate_folder(
        default_model_path(),
        [shared_dir / "datasets" / "msid"],
        tmp_path,
        split_file=SPLIT,
        subset="test",
        device="cpu",
    )
    got = report["metrics"]
    want = meta.metrics["test"]
    assert got["n"] == want["n"]
    for key in ("accuracy", "macro_f1", "mcc"):
        assert got[key] == pytest.approx(want[key], abs=1e-6), key
    assert (tmp_path / "report.json").exists()
