"""A registered model is the weights it was registered with: ``models add`` recomputes the
identity from the tensor bytes and copies the file into the store, damaged out-of-scope
statistics are refused on import and disable the guard at load, and ``check`` finds a model
file whose weights were swapped or that went missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engine.checkpoint import (
    METADATA_KEY,
    load_model,
    load_model_and_guard,
    read_meta,
    stamp_hashes,
)
from engine.cli import main
from engine.guard import DISABLED, ScopeGuard
from engine.modelmeta import file_weights_hash
from engine.predictor import Predictor
from engine.store import Store, StoreError
from tests.engine.factories import save_test_model


def _corrupt_tensors(path: Path) -> None:
    """Flip bytes in the last tensor's data; the header (metadata, hashes) stays intact."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 64, len(data)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _guard(k: int = 8, threshold: float = 10.0) -> ScopeGuard:
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(1280, k)))
    return ScopeGuard(
        center=np.full(1280, 0.5),
        basis=basis,
        class_means=rng.normal(size=(4, k)),
        precision=np.eye(k),
        residual_weight=1.0,
        threshold=threshold,
    )


def _with_forged_guard(model_file: Path, out: Path, **changes: float) -> Path:
    """A model file whose guard statistics are damaged, with hashes made consistent (as a tool
    that rewrites the file would): only the numbers can tell."""
    model, meta = load_model(model_file)
    guard = _guard()
    for name, value in changes.items():
        setattr(guard, name, value)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state.update({k: torch.from_numpy(v) for k, v in guard.to_arrays().items()})
    meta.guard = guard.summary()
    meta = stamp_hashes(meta, state)
    save_file(state, str(out), metadata={METADATA_KEY: meta.to_json()})
    return out


def test_file_weights_hash_is_the_saved_weights_hash(model_file: Path) -> None:
    assert file_weights_hash(model_file) == read_meta(model_file).weights_hash


def test_models_add_refuses_corrupted_tensors_under_intact_metadata(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "usb" / "model.safetensors"
    bad.parent.mkdir()
    shutil.copyfile(model_file, bad)
    _corrupt_tensors(bad)
    read_meta(bad)  # the metadata alone still looks intact
    db = tmp_path / "store.db"
    assert main(["models", "add", str(bad), "--activate", "--db", str(db)]) == 2
    message = capsys.readouterr().err
    assert str(bad) in message and "weights do not match" in message
    with Store.open(db) as store:
        assert store.models() == []


def test_models_add_copies_the_file_into_the_store(model_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "usb" / "model.safetensors"
    source.parent.mkdir()
    shutil.copyfile(model_file, source)
    db = tmp_path / "store.db"
    assert main(["models", "add", str(source), "--db", str(db)]) == 0
    source.unlink()  # the stick is gone
    with Store.open(db) as store:
        (model,) = store.models()
        assert Path(model.path).parent == store.models_dir == tmp_path / "store-models"
        assert Path(model.path).is_file() and store.check_model_files() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"threshold": float("nan")}, "NaN or infinite"),
        ({"threshold": 1e30}, "flag every photo or none"),
        ({"threshold": 1e-12}, "flag every photo or none"),
        ({"residual_weight": float("inf")}, "NaN or infinite"),
    ],
)
def test_damaged_guard_statistics_are_refused_on_import(
    model_file: Path, tmp_path: Path, change: dict[str, float], reason: str
) -> None:
    bad = _with_forged_guard(model_file, tmp_path / "bad.safetensors", **change)
    with Store.open(tmp_path / "store.db") as store:
        with pytest.raises(StoreError, match=reason) as exc:
            store.add_model_file(bad, activate=True)
        assert str(bad) in str(exc.value)
        assert store.models() == []


def test_damaged_guard_statistics_disable_the_guard_at_load(
    model_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = _with_forged_guard(model_file, tmp_path / "bad.safetensors", threshold=1e30)
    with caplog.at_level("WARNING", logger="engine.guard"):
        _, _, guard = load_model_and_guard(bad)
        predictor = Predictor.from_file(bad, device="cpu")
    assert guard is None and predictor.guard is None
    assert predictor.guard_status == DISABLED
    assert f"{bad}: out-of-scope guard disabled" in caplog.text


def test_check_reports_a_registered_file_with_other_weights(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.safetensors"
    save_test_model(other, seed=1, name="testmodel", trained=True)
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        info = store.add_model_file(model_file, activate=True)
    assert main(["check", "--db", str(db)]) == 0
    capsys.readouterr()
    shutil.copyfile(other, info.path)  # another training wrote its model over this one
    assert main(["check", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert f"model {info.version}: {info.path}: holds other weights" in out
    Path(info.path).unlink()
    assert main(["check", "--db", str(db)]) == 1
    assert f"{info.path}: file missing" in capsys.readouterr().out


def test_check_reports_tensors_corrupted_under_intact_metadata(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        info = store.add_model_file(model_file, activate=True)
    _corrupt_tensors(Path(info.path))
    assert main(["check", "--db", str(db)]) == 1
    assert f"{info.path}: holds other weights" in capsys.readouterr().out


def test_a_trained_model_overwritten_in_its_run_folder_is_not_registered(
    model_file: Path, tmp_path: Path
) -> None:
    """Another training wrote its model over this run's file: registering it under this run's
    identity would put the other weights behind this model's name."""
    meta = read_meta(model_file)
    run_file = tmp_path / "run" / "model.safetensors"
    run_file.parent.mkdir()
    save_test_model(run_file, seed=1, name="testmodel", trained=True)
    with Store.open(tmp_path / "store.db") as store:
        with pytest.raises(StoreError, match="holds other weights"):
            store.register_trained(run_file, meta, activate=True)
        assert store.models() == []


def test_models_add_activate_refuses_a_model_that_lost_a_class(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`models add --activate` goes through the activation checks: a three-class model over a
    four-class one is registered, never made active, and the command says why (exit 2)."""
    from engine.checkpoint import ModelMeta, save_model
    from tests.engine.factories import make_model

    db = tmp_path / "store.db"
    assert main(["models", "add", str(model_file), "--activate", "--db", str(db)]) == 0
    three = tmp_path / "three.safetensors"
    classes = list(read_meta(model_file).classes)[:3]
    save_model(three, make_model(1, num_classes=3), ModelMeta(classes=classes, trained=True))
    capsys.readouterr()
    args = ["models", "add", str(three), "--activate", "--reason", "a try", "--db", str(db)]
    assert main(args) == 2  # no reason lets it in
    assert "a model that has lost a class is never activated" in capsys.readouterr().err
    with Store.open(db) as store:
        assert store.active_model().content_hash == read_meta(model_file).content_hash
        assert len(store.models()) == 2  # registered, not active
