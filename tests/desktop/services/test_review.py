"""The review panel's engine adapters: explanations, photos, history rows, redo, store copies."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from desktop.services import review as rw
from tests.desktop.review_support import WHO, skin_photo


def test_explanation_has_heat_at_image_size_and_a_distribution(review_model, tmp_path) -> None:
    photo = skin_photo(tmp_path / "big.png", seed=5, size=(2000, 1500))
    ex = rw.explainer_from_file(review_model).explain(photo, max_side=800, colormap="viridis")
    assert ex.image.size == (800, 600)
    assert ex.heat_rgb.size == ex.image.size and ex.overlay.size == ex.image.size
    assert ex.heatmap.min() >= 0.0 and ex.heatmap.max() <= 1.0
    assert sum(ex.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert ex.top_class == max(ex.probabilities, key=ex.probabilities.get)
    assert ex.model_version.startswith("testmodel@")
    assert not np.array_equal(np.asarray(ex.overlay), np.asarray(ex.image))


def test_pil_to_qimage_keeps_every_pixel() -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (7, 5, 3), dtype=np.uint8)  # odd width: row padding matters
    qimg = rw.pil_to_qimage(Image.fromarray(arr))
    assert (qimg.width(), qimg.height()) == (5, 7)
    for y, x in [(0, 0), (6, 4), (3, 2)]:
        c = qimg.pixelColor(x, y)
        assert (c.red(), c.green(), c.blue()) == tuple(arr[y, x])


def test_redo_restores_undone_labels_newest_first(review_env) -> None:
    store, sha = review_env.store, review_env.items[0].sha256
    rw.save_label(store, sha, "Measles", WHO, None)
    rw.save_label(store, sha, "Normal", WHO, None)
    assert rw.undo_label(store, sha, WHO) == "Measles"
    assert rw.undo_label(store, sha, WHO) is None
    assert rw.redo_label(store, sha, WHO) == "Measles"
    assert rw.redo_label(store, sha, WHO) == "Normal"
    with pytest.raises(LookupError):
        rw.redo_label(store, sha, WHO)
    rw.undo_label(store, sha, WHO)
    rw.save_label(store, sha, "Chickenpox", WHO, None)  # a new label ends the redo chain
    with pytest.raises(LookupError):
        rw.redo_label(store, sha, WHO)
    assert store.current_label(sha) == "Chickenpox"


def test_history_rows_newest_first_with_the_prediction_then(review_env) -> None:
    store, item = review_env.store, review_env.items[1]
    rw.save_label(store, item.sha256, "refer", WHO, "send to dermatology")
    rw.undo_label(store, item.sha256, WHO)
    rows = rw.load_history(store, item.sha256)
    assert [(r.what, r.label_after, r.note) for r in rows] == [
        ("undo", None, None),
        ("refer", "refer", "send to dermatology"),
    ]
    said = f"{item.top_class} {item.confidence:.2f}"
    assert rows[1].model == f"{said} (testmodel)"
    assert rows[1].model_detail.startswith(f"{said} from model testmodel@")


def test_image_file_falls_back_to_the_store_copy(review_env) -> None:
    store, item = review_env.store, review_env.items[2]
    assert rw.photo_file(store, item) == Path(item.path)
    rw.save_label(store, item.sha256, "Normal", WHO, None)  # the store keeps a copy
    original = Path(item.path).read_bytes()
    Path(item.path).unlink()
    stored = store.image(item.sha256).stored_path
    copy = rw.photo_file(store, dataclasses.replace(item, stored_path=stored))
    assert copy != Path(item.path) and copy.read_bytes() == original
    with pytest.raises(FileNotFoundError, match="file not found"):
        rw.photo_file(store, item)  # no copy recorded on this (older) queue row


def test_referral_reason_follows_the_stores_rule(review_env) -> None:
    from engine.referral import ReferralRule

    store, item = review_env.store, review_env.items[0]
    probs = {"Chickenpox": 0.1, "Measles": 0.1, "Monkeypox": 0.5, "Normal": 0.3}
    row = dataclasses.replace(item, probabilities=probs)
    store.set_referral_rule(ReferralRule(min_confidence=0.7, mpox_above=0.3), who=WHO)
    assert rw.referral_reason(store, row) == (
        "confidence 0.50 below 0.70; Mpox probability 0.50 above 0.30"
    )
    store.set_referral_rule(ReferralRule(min_confidence=0.4, mpox_above=0.6), who=WHO)
    assert rw.referral_reason(store, row) is None


def test_readable_error_names_the_file() -> None:
    from engine.images import ImageLoadError

    err = ImageLoadError("/photos/clinic/a.jpg", "file is empty (0 bytes)")
    assert rw.readable_error(err) == "a.jpg: file is empty (0 bytes)"
    assert rw.readable_error(ValueError()) == "ValueError"


def test_history_uses_the_prediction_the_store_linked_to_the_label() -> None:
    """docs/engine-api.md: LabelEntry.model_version ("name@hash12"), .predicted_class and
    .confidence name the prediction shown when labelling; they win over the time-based guess."""
    when = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    entry = SimpleNamespace(
        id=1,
        kind="redo",
        label="Measles",
        who=WHO,
        note=None,
        source="clinician",
        created_at=when,
        undoes_id=None,
        label_after="Measles",
        model_version="msid-v2@0123456789ab",
        predicted_class="Measles",
        confidence=0.81,
    )
    older = SimpleNamespace(
        model_name="msid-v1",
        model_version="f" * 64,
        top_class="Normal",
        confidence=0.6,
        created_at=when - timedelta(days=1),
    )
    store = SimpleNamespace(history=lambda sha: [entry], predictions=lambda sha: [older])
    (row,) = rw.load_history(store, "ab" * 32)
    assert (row.what, row.model) == ("redo Measles", "Measles 0.81 (msid-v2)")
    assert row.model_detail == "Measles 0.81 from model msid-v2@0123456789ab"
    unlinked = SimpleNamespace(**{**vars(entry), "predicted_class": None, "kind": "set"})
    store = SimpleNamespace(history=lambda sha: [unlinked], predictions=lambda sha: [older])
    (row,) = rw.load_history(store, "ab" * 32)
    assert row.model == "Normal 0.60 (msid-v1)"  # older databases: the newest earlier prediction


def test_check_photo_is_a_referral_reason_whatever_the_probabilities(review_env) -> None:
    """A blurry or out-of-scope photo is referred ("check photo") even when the rule is silent."""
    from engine.referral import ReferralRule

    store, item = review_env.store, review_env.items[0]
    sure = {"Chickenpox": 0.97, "Measles": 0.01, "Monkeypox": 0.01, "Normal": 0.01}
    row = dataclasses.replace(item, probabilities=sure, quality_issues="", out_of_scope=False)
    store.set_referral_rule(ReferralRule(min_confidence=0.7, mpox_above=0.3), who=WHO)
    assert rw.referral_reason(store, row) is None
    assert rw.referral_reason(store, dataclasses.replace(row, quality_issues="blurry")) == (
        "check photo"
    )
    assert rw.referral_reason(store, dataclasses.replace(row, out_of_scope=True)) == "check photo"
