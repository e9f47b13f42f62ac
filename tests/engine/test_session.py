"""The model in use, opened from the store: every registered model has its file (defect 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine import paths
from engine.checkpoint import ModelFileError, read_meta
from engine.cli import main as cli_main
from engine.session import ensure_active_model, open_active_model, open_model
from engine.store import Store
from tests.engine.factories import make_photo, save_test_model


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.delenv("POXSCREEN_DB", raising=False)


@pytest.fixture()
def shipped(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small model stands in for resources/models/default.safetensors."""
    monkeypatch.setattr(paths, "default_model_path", lambda: model_file)
    return model_file


def test_screening_a_fresh_store_registers_the_default_with_its_file(
    shipped: Path, tmp_path: Path
) -> None:
    """Defect 1: `poxscreen screen` on a fresh data folder left a path-less model row."""
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "a.png", 1)
    db = tmp_path / "case.db"
    assert cli_main(["screen", str(folder), "--db", str(db), "--device", "cpu", "-q"]) == 0
    with Store.open(db) as store:
        models = store.models()
        assert len(models) == 1 and models[0].active
        path = Path(models[0].path or "")
        assert path.is_file() and path.parent == store.models_dir
        assert read_meta(path).content_hash == read_meta(shipped).content_hash
        assert store.models_dir == db.with_name("case-models")


def test_open_active_model_is_lazy_and_screens(shipped: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "case.db") as store:
        active = open_active_model(store, device="cpu")
        assert active._model is None  # nothing loaded yet: opening reads the header only
        assert active.version == read_meta(shipped).version and active.trained
        assert active.path is not None and active.path.parent == store.models_dir
        assert active.device.device == torch.device("cpu") and active.device.reason
        assert not active.model.training
        predictor = active.predictor(batch_size=2)
        make_photo(tmp_path / "x.png", 3)
        (batch,) = list(predictor.predict_paths([tmp_path / "x.png"]))
        assert batch[0].ok and batch[0].model_version == active.version
        assert open_active_model(store).path == active.path  # registered once, reused


def test_a_legacy_path_less_default_row_is_repaired(shipped: Path, tmp_path: Path) -> None:
    meta = read_meta(shipped)
    with Store.open(tmp_path / "case.db") as store:
        store.register_model(meta.content_hash, name=meta.name, path=None, activate=True)
        info = ensure_active_model(store)
        assert info.content_hash == meta.content_hash
        assert info.path and Path(info.path).parent == store.models_dir


def test_missing_active_file_is_an_error_naming_it(shipped: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "case.db") as store:
        store.register_model("c" * 64, name="lost", path=tmp_path / "gone.safetensors")
        with pytest.raises(ModelFileError, match="gone.safetensors.*no model file"):
            open_active_model(store)


def test_model_option_copies_the_file_and_does_not_activate(
    shipped: Path, model_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "stick" / "other.safetensors"
    other.parent.mkdir()
    save_test_model(other, seed=5, name="other", trained=True)
    with Store.open(tmp_path / "case.db") as store:
        open_active_model(store)
        opened = open_model(store, other)
        other.unlink()  # the stick is gone: the store keeps its own copy
        assert opened.path is not None and opened.path.is_file()
        assert opened.path.parent == store.models_dir
        active = store.active_model()
        assert active is not None and active.content_hash != opened.meta.content_hash


def test_open_model_without_a_store_needs_no_registration(shipped: Path) -> None:
    active = open_model(None, device="cpu")
    assert active.path == shipped and not active.registered


def test_rows_registered_by_the_older_weights_only_hash_carry_on(
    shipped: Path, model_file: Path, tmp_path: Path
) -> None:
    """Model identities now cover output metadata (defect 4); a database that registered the
    shipped model (path-less) or a file by its weights' hash must keep working."""
    meta = read_meta(shipped)
    with Store.open(tmp_path / "a.db") as store:
        store.register_model(meta.weights_hash, name=meta.name, path=None, activate=True)
        info = ensure_active_model(store)
        assert info.content_hash == meta.content_hash and info.active
    with Store.open(tmp_path / "b.db") as store:
        store.register_model(meta.weights_hash, name=meta.name, path=model_file, activate=True)
        active = open_active_model(store, device="cpu")
        assert active.meta.content_hash == meta.content_hash
        assert store.active_model().content_hash == meta.content_hash
