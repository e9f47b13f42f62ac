"""Discard: the version leaves the list and activation, its copy in the store's model folder is
deleted (never a file elsewhere), and the row stays for the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.store import Store, StoreError
from tests.engine.store.conftest import MODEL_A, MODEL_B

MODEL_C = "c" * 64


def _copy_in_store(store: Store, name: str, content_hash: str) -> Path:
    """A stand-in model file and its ONNX graph in the store's model folder."""
    store.models_dir.mkdir(parents=True, exist_ok=True)
    path = store.models_dir / f"{name}-{content_hash[:12]}.safetensors"
    path.write_bytes(b"weights")
    path.with_name(f"{path.stem}.{content_hash[:16]}.onnx").write_bytes(b"graph")
    return path


def test_discard_hides_the_version_and_deletes_its_copy(store: Store) -> None:
    a = _copy_in_store(store, "msid", MODEL_A)
    b = _copy_in_store(store, "ft", MODEL_B)
    store.register_model(MODEL_A, name="msid", path=a)
    store.register_model(MODEL_B, name="ft", path=b, parent_hash=MODEL_A)
    info = store.discard_model("ft")
    assert info.discarded and info.version == f"ft@{MODEL_B[:12]}"
    assert not b.exists() and not list(store.models_dir.glob("ft-*"))
    assert a.exists()
    assert [m.name for m in store.models()] == ["msid"]
    assert [m.name for m in store.models(include_discarded=True)] == ["msid", "ft"]
    with pytest.raises(StoreError, match="was discarded"):
        store.activate_model(MODEL_B)
    with pytest.raises(StoreError, match="was discarded"):
        store.promote(MODEL_B, force=True)
    assert store.active_model().content_hash == MODEL_A  # type: ignore[union-attr]
    assert not [p for p in store.check_model_files() if "ft@" in p]  # gone on purpose


def test_discard_refuses_the_active_model_and_a_roll_back_target(store: Store) -> None:
    store.register_model(MODEL_A, name="msid", path=_copy_in_store(store, "msid", MODEL_A))
    store.register_model(MODEL_B, name="ft", parent_hash=MODEL_A)
    store.register_model(MODEL_C, name="other")
    with pytest.raises(StoreError, match="active model; roll back"):
        store.discard_model("msid")
    store.activate_model("other")
    with pytest.raises(StoreError, match=f"ft@{MODEL_B[:12]} rolls back to"):
        store.discard_model("msid")
    store.discard_model("ft")
    assert store.discard_model("msid").discarded  # its only child is gone
    assert {m.name for m in store.models()} == {"other"}


def test_discard_never_deletes_a_file_outside_the_model_folder(
    store: Store, tmp_path: Path
) -> None:
    store.register_model(MODEL_A, name="msid")
    outside = tmp_path / "usb" / "ft.safetensors"
    outside.parent.mkdir()
    outside.write_bytes(b"weights")
    store.register_model(MODEL_B, name="ft", path=outside)
    store.discard_model("ft")
    assert outside.read_bytes() == b"weights"


def test_registering_a_discarded_file_again_brings_it_back(store: Store) -> None:
    store.register_model(MODEL_A, name="msid")
    store.register_model(MODEL_B, name="ft", path=_copy_in_store(store, "ft", MODEL_B))
    store.discard_model("ft")
    store.register_model(MODEL_B, name="ft", path=_copy_in_store(store, "ft", MODEL_B))
    assert store.activate_model("ft").content_hash == MODEL_B


def test_cli_models_discard(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(db_path) as store:
        store.register_model(MODEL_A, name="msid")
        copy = _copy_in_store(store, "ft", MODEL_B)
        store.register_model(MODEL_B, name="ft", path=copy)
    assert main(["models", "discard", "ft", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert f"discarded ft@{MODEL_B[:12]}" in out and not copy.exists()
    assert main(["models", "list", "--db", str(db_path)]) == 0
    assert "ft@" not in capsys.readouterr().out
    assert main(["models", "discard", "msid", "--db", str(db_path)]) == 2
    assert "roll back" in capsys.readouterr().err
    assert main(["models", "discard", "--db", str(db_path)]) == 2
    assert "needs a model" in capsys.readouterr().err
