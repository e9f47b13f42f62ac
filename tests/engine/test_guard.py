"""The "not a skin photo" guard: stored in the model file, on every prediction, and on the
shipped model it flags pictures that are not skin photos while real held-out photos pass."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from engine.checkpoint import (
    METADATA_KEY,
    load_model,
    load_model_and_guard,
    read_meta,
    save_model,
)
from engine.guard import PREFIX, UNAVAILABLE, ScopeGuard
from engine.images import load_image, sha256_file
from engine.paths import default_model_path, resources_dir
from engine.predictor import Predictor
from tests.ood_pictures import generated, imagenet_samples


def make_guard(dim: int = 1280, k: int = 8, seed: int = 0) -> ScopeGuard:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, k)))
    return ScopeGuard(
        center=np.full(dim, 0.5),
        basis=basis,
        class_means=rng.normal(size=(4, k)),
        precision=np.eye(k),
        residual_weight=1.0,
        threshold=10.0,
    )


def test_score_is_distance_over_threshold_and_grows_away_from_the_data() -> None:
    guard = make_guard()
    near = np.full((1, 1280), 0.25)  # sqrt(0.25) = 0.5 = the centre
    far = np.full((1, 1280), 4.0)
    assert guard.score(near)[0] == pytest.approx(guard.raw_distance(near)[0] / 10.0)
    assert guard.score(near)[0] < 1.0 < guard.score(far)[0]
    with pytest.raises(ValueError, match="shape"):
        guard.score(np.zeros((1, 256)))


def test_guard_travels_in_the_model_file_and_changes_its_hash(
    model_file: Path, tmp_path: Path
) -> None:
    model, meta = load_model(model_file)
    guard = make_guard()
    stored = save_model(tmp_path / "g.safetensors", model, meta, guard=guard)
    assert stored.content_hash != meta.content_hash  # the guard changes what predictions say
    assert stored.guard["components"] == 8 and read_meta(tmp_path / "g.safetensors").guard
    _, _, loaded = load_model_and_guard(tmp_path / "g.safetensors")  # hash verified here
    assert loaded is not None
    x = np.random.default_rng(1).uniform(0, 2, (3, 1280))
    np.testing.assert_allclose(loaded.score(x), guard.score(x), rtol=1e-4)


def test_a_file_without_statistics_says_guard_unavailable(model_file: Path) -> None:
    predictor = Predictor.from_file(model_file, device="cpu")
    assert predictor.guard is None and predictor.guard_status == UNAVAILABLE


def test_incomplete_statistics_disable_the_guard_with_a_warning(
    model_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model, meta = load_model(model_file)
    good = tmp_path / "g.safetensors"
    save_model(good, model, meta, guard=make_guard())
    with safe_open(str(good), framework="pt") as fh:
        state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        header = fh.metadata()
    del state[PREFIX + "precision"]
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad), metadata=header)
    with caplog.at_level("WARNING", logger="engine.guard"):
        _, _, guard = load_model_and_guard(bad, verify_hash=False)
    assert guard is None
    assert f"{bad}: out-of-scope guard disabled: incomplete" in caplog.text


def test_every_prediction_carries_the_guard_and_quality_fields(
    model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    model, meta = load_model(model_file)
    path = tmp_path / "g.safetensors"
    save_model(path, model, dataclasses.replace(meta), guard=make_guard())
    predictor = Predictor.from_file(path, device="cpu", keep_features=True)
    results = [p for b in predictor.predict_paths(sorted(photo_folder.rglob("*"))) for p in b]
    ok = [p for p in results if p.ok]
    assert len(ok) == 6
    for p in ok:
        assert p.features is not None and p.features.shape == (1280,)
        assert p.scope_score == pytest.approx(float(predictor.guard.score(p.features[None])[0]))
        assert p.out_of_scope == (p.scope_score > 1.0)
        assert p.quality_issues is not None  # checked ("" when fine)
    bad = [p for p in results if not p.ok]
    assert all(p.scope_score is None and p.out_of_scope is None for p in bad)


@pytest.fixture(scope="module")
def shipped_predictor() -> Predictor:
    return Predictor.from_file(default_model_path(), device="cpu")


def test_shipped_model_flags_pictures_that_are_not_skin_photos(
    shipped_predictor: Predictor, shared_dir: Path
) -> None:
    assert shipped_predictor.guard is not None
    pictures = [im for _, im in generated(per_kind=8)]
    pictures += [
        load_image(p) for _, p in imagenet_samples(shared_dir / "weights" / "imagenet_samples")
    ]
    x = torch.stack([shipped_predictor.transform(im) for im in pictures])
    _, feats = shipped_predictor.predict_with_features(x)
    flagged = [o for _, o in shipped_predictor.scope_scores(feats)]
    assert np.mean(flagged) >= 0.90


def test_shipped_model_passes_held_out_skin_photos(
    shipped_predictor: Predictor, shared_dir: Path
) -> None:
    split = json.loads((resources_dir() / "models" / "msid_split.json").read_text())
    test = {e["sha256"] for e in split["splits"]["test"]}
    paths = [
        p
        for p in sorted((shared_dir / "datasets" / "msid").rglob("*.png"))
        if sha256_file(p) in test
    ]
    assert len(paths) == len(test)
    results = [p for b in shipped_predictor.predict_paths(paths) for p in b]
    assert np.mean([p.out_of_scope for p in results]) <= 0.05
    with safe_open(str(default_model_path()), framework="pt") as fh:
        meta = json.loads(fh.metadata()[METADATA_KEY])
    assert meta["guard"]["threshold_from"] == "validation photos"


def test_the_app_session_screens_with_the_guard(
    model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    """The CLI and the desktop screen through engine.session: the guard must come along."""
    from engine.session import open_model
    from engine.store import Store

    model, meta = load_model(model_file)
    path = tmp_path / "g.safetensors"
    save_model(path, model, meta, guard=make_guard())
    with Store.open(tmp_path / "case.db") as store:
        predictor = open_model(store, path, "cpu").predictor()
    assert predictor.guard is not None and predictor.guard_status == "guard active"
    (first, *_) = [
        p for b in predictor.predict_paths(sorted(photo_folder.glob("img*.png"))) for p in b
    ]
    assert first.out_of_scope is not None
    assert open_model(None, model_file, "cpu").predictor().guard is None
