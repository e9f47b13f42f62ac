"""An app upgrade registers and offers its new default model, never replacing the active one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.checkpoint import ModelMeta, read_meta, save_model
from engine.store import Store
from engine.upgrade import CARD_SUFFIX, default_offer, register_shipped_default
from tests.engine.factories import make_model


def _ship(folder: Path, seed: int, name: str, parent: str | None = None) -> Path:
    """A 'release': resources-like folder with a default model and its card."""
    folder.mkdir(parents=True, exist_ok=True)
    model = make_model(seed)
    meta = ModelMeta(name=name, padding="symmetric", trained=True, parent=parent)
    meta.metrics = {"test": {"macro_f1": 0.5 + seed / 100}}
    path = folder / "default.safetensors"
    save_model(path, model, meta)
    (folder / "MODEL_CARD.md").write_text(f"# Model card: {name}\n", encoding="utf-8")
    return path


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("POXSCREEN_DATA_DIR", str(tmp_path / "userdata"))
    st = Store.open(tmp_path / "case.db")
    yield st
    st.close()


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("releases")
    return {"v1": _ship(root / "v1", 1, "default-v1"), "v2": _ship(root / "v2", 2, "default-v2")}


def test_first_use_registers_a_copy_and_activates_it(
    store: Store, releases: dict[str, Path], tmp_path: Path
) -> None:
    reg = register_shipped_default(store, releases["v1"])
    assert reg is not None and reg.newly_registered and reg.active
    assert reg.path.parent == store.models_dir
    assert reg.path.read_bytes() == releases["v1"].read_bytes()
    assert reg.path.with_suffix(CARD_SUFFIX).read_text(encoding="utf-8").startswith("# Model card")
    active = store.active_model()
    assert active is not None and Path(active.path or "") == reg.path  # never the app folder
    assert default_offer(store, releases["v1"]) is None
    again = register_shipped_default(store, releases["v1"])
    assert again is not None and not again.newly_registered and again.active
    assert len(store.models()) == 1


def test_upgrade_keeps_a_fine_tuned_model_active_and_offers_the_new_default(
    store: Store, releases: dict[str, Path], tmp_path: Path
) -> None:
    v1 = register_shipped_default(store, releases["v1"])
    assert v1 is not None
    tuned = _ship(tmp_path / "tuned", 7, "clinic-finetune", parent=v1.version)
    tuned_info = store.register_model_file(tuned, activate=True)

    v2 = register_shipped_default(store, releases["v2"])
    assert v2 is not None and v2.newly_registered and not v2.active
    active = store.active_model()
    assert active is not None and active.content_hash == tuned_info.content_hash

    offer = default_offer(store, releases["v2"])
    assert offer is not None
    assert offer.name == "default-v2" and offer.active_version == tuned_info.version
    assert offer.card is not None and "default-v2" in offer.card.read_text(encoding="utf-8")
    assert offer.metrics == read_meta(releases["v2"]).metrics

    store.activate_model(offer.version)  # a person chose it
    assert default_offer(store, releases["v2"]) is None


def test_upgrade_from_an_untouched_old_default_still_asks(
    store: Store, releases: dict[str, Path], tmp_path: Path
) -> None:
    register_shipped_default(store, releases["v1"])
    v2 = register_shipped_default(store, releases["v2"])
    assert v2 is not None and not v2.active
    active = store.active_model()
    assert active is not None and active.name == "default-v1"
    offer = default_offer(store, releases["v2"])
    assert offer is not None and offer.active_version is not None
    assert offer.active_version.startswith("default-v1@")


def test_no_offer_when_the_active_model_was_tuned_from_the_new_default(
    store: Store, releases: dict[str, Path], tmp_path: Path
) -> None:
    v2 = register_shipped_default(store, releases["v2"])
    assert v2 is not None
    tuned = _ship(tmp_path / "tuned", 8, "tuned-from-v2", parent=v2.version)
    store.register_model_file(tuned, activate=True)
    assert default_offer(store, releases["v2"]) is None


def test_missing_copy_is_restored(store: Store, releases: dict[str, Path], tmp_path: Path) -> None:
    reg = register_shipped_default(store, releases["v1"])
    assert reg is not None
    reg.path.unlink()
    again = register_shipped_default(store, releases["v1"])
    assert again is not None and again.path.is_file() and again.active


def test_no_shipped_default(store: Store, tmp_path: Path) -> None:
    missing = tmp_path / "none" / "default.safetensors"
    assert register_shipped_default(store, missing) is None
    assert default_offer(store, missing) is None
    assert store.models() == []


def test_open_active_model_after_an_upgrade_keeps_the_clinics_model(
    store: Store, releases: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real start-up path (engine.session): v1 shipped, a clinic fine-tune, then v2."""
    from engine import paths
    from engine.session import open_active_model

    monkeypatch.setattr(paths, "default_model_path", lambda: releases["v1"])
    first = open_active_model(store, device="cpu")
    assert first.meta.name == "default-v1"
    tuned = _ship(tmp_path / "tuned", 9, "clinic-finetune", parent=first.version)
    store.add_model_file(tuned, activate=True)

    monkeypatch.setattr(paths, "default_model_path", lambda: releases["v2"])  # the upgrade
    opened = open_active_model(store, device="cpu")
    assert opened.meta.name == "clinic-finetune"
    offer = default_offer(store)
    assert offer is not None and offer.name == "default-v2"
    assert offer.active_version == opened.version and offer.card is not None
    assert {m.name for m in store.models()} == {"default-v1", "clinic-finetune", "default-v2"}
