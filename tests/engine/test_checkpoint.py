"""Model files: round trip, atomic writes, and a clear error for every kind of damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine import checkpoint
from engine.checkpoint import ModelFileError, ModelMeta, load_model, read_meta, save_model
from engine.model import MobileNetV2MSCAPFR
from tests.engine.factories import make_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MobileNetV2MSCAPFR, ModelMeta]:
    model = make_model(0)
    meta = ModelMeta(
        name="unit",
        padding="symmetric",
        trained=True,
        parent="abc",
        metrics={"macro_f1": 0.5},
        temperature=1.7,
    )
    path = tmp_path_factory.mktemp("models") / "m.safetensors"
    stored = save_model(path, model, meta)
    return path, model, stored


def test_round_trip_same_outputs_and_metadata(saved) -> None:
    path, model, stored = saved
    loaded, meta = load_model(path)
    assert meta == stored
    assert meta.weights_hash == checkpoint.state_dict_hash(model.state_dict())
    assert meta.content_hash == checkpoint.identity_hash(meta.weights_hash, meta)
    assert meta.version.startswith("unit@") and meta.temperature == 1.7
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_metadata_readable_without_tensors(saved) -> None:
    path, _, stored = saved
    assert read_meta(path).classes == stored.classes


def test_save_is_atomic_when_write_fails(saved, tmp_path: Path, monkeypatch) -> None:
    path, model, stored = saved
    target = tmp_path / "keep.safetensors"
    target.write_bytes(path.read_bytes())

    def boom(*args, **kwargs):
        Path(args[1]).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(target, model, stored)
    assert read_meta(target) == stored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.safetensors"]


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda b: b"", "empty"),
        (lambda b: b[: len(b) // 2], "safetensors|truncated"),
        (lambda b: b[:100], "safetensors|truncated"),
        (lambda b: b"this is not a model" * 10, "safetensors"),
    ],
)
def test_damaged_files_give_clear_errors(saved, tmp_path: Path, damage, reason) -> None:
    path, _, _ = saved
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ModelFileError, match=reason) as info:
        load_model(bad)
    assert "bad.safetensors" in str(info.value)


def test_flipped_bits_in_weights_detected(saved, tmp_path: Path) -> None:
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    data[-1000] ^= 0xFF
    bad = tmp_path / "flipped.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="hash mismatch"):
        load_model(bad)


def _rewrite(path: Path, out: Path, state_edit=None, meta_edit=None) -> Path:
    state = load_file(path)
    meta = json.loads(read_meta_raw(path))
    if state_edit:
        state = state_edit(state)
    if meta_edit:
        meta_edit(meta)
    save_file(state, out, metadata={"poxscreen": json.dumps(meta)})
    return out


def read_meta_raw(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata()["poxscreen"]


def test_wrong_architecture(saved, tmp_path: Path) -> None:
    path, _, _ = saved
    bad = _rewrite(
        path,
        tmp_path / "arch.safetensors",
        state_edit=lambda s: {k: v for k, v in s.items() if not k.startswith("pfr.")},
        meta_edit=lambda m: m.update(content_hash="", weights_hash=""),
    )
    with pytest.raises(ModelFileError, match="wrong architecture"):
        load_model(bad)
    other = _rewrite(
        path, tmp_path / "other.safetensors", meta_edit=lambda m: m.update(architecture="resnet50")
    )
    with pytest.raises(ModelFileError, match="unsupported architecture"):
        load_model(other)


def test_mismatched_classes(saved, tmp_path: Path) -> None:
    path, _, _ = saved
    bad = _rewrite(
        path,
        tmp_path / "cls.safetensors",
        meta_edit=lambda m: m.update(classes=["a", "b", "c"], content_hash=""),
    )
    with pytest.raises(ModelFileError, match="mismatched classes"):
        load_model(bad)
    with pytest.raises(ModelFileError, match="class mismatch"):
        load_model(path, expected_classes=["Normal", "Mpox"])


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda m: m.update(format="something-else"), "unknown format"),
        (lambda m: m.update(format_version=99), "newer"),
        (lambda m: m.update(classes=["a", "a", "b", "c"]), "distinct"),
        (lambda m: m.update(padding="reflect"), "padding"),
        (lambda m: m.update(temperature=0), "temperature"),
    ],
)
def test_invalid_metadata(saved, tmp_path: Path, edit, reason) -> None:
    path, _, _ = saved
    bad = _rewrite(path, tmp_path / "meta.safetensors", meta_edit=edit)
    with pytest.raises(ModelFileError, match=reason):
        load_model(bad)


def test_plain_safetensors_without_metadata(tmp_path: Path) -> None:
    bad = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, bad)
    with pytest.raises(ModelFileError, match="not a PoxScreen model"):
        read_meta(bad)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(ModelFileError, match="directory"):
        load_model(tmp_path / "dir.safetensors")


def test_identity_covers_the_metadata_that_changes_outputs(saved, tmp_path: Path) -> None:
    """Defect 4: same weights with another padding, mean/std, temperature or class order were
    one registry row and one resume state."""
    import dataclasses

    path, model, meta = saved
    ids = {meta.content_hash}
    for change in (
        {"padding": "symmetric" if meta.padding == "tf" else "tf"},
        {"mean": [0.4, 0.41, 0.42]},
        {"std": [0.3, 0.31, 0.32]},
        {"temperature": 2.3},
        {"classes": list(reversed(meta.classes))},
        {"input_size": 192},
    ):
        other = save_model(tmp_path / "x.safetensors", model, dataclasses.replace(meta, **change))
        assert other.weights_hash == meta.weights_hash
        ids.add(other.content_hash)
    assert len(ids) == 7
    same = save_model(tmp_path / "y.safetensors", model, dataclasses.replace(meta, name="renamed"))
    assert same.content_hash == meta.content_hash  # the name and lineage do not change outputs


def test_edited_output_metadata_is_refused(saved, tmp_path: Path) -> None:
    path, _, _ = saved
    edited = _rewrite(path, tmp_path / "t.safetensors", meta_edit=lambda m: m.update(temperature=3))
    with pytest.raises(ModelFileError, match="metadata was modified"):
        read_meta(edited)


def test_files_from_before_identities_are_upgraded_on_reading(saved, tmp_path: Path) -> None:
    path, _, meta = saved
    legacy = _rewrite(
        path,
        tmp_path / "legacy.safetensors",
        meta_edit=lambda m: (m.pop("weights_hash"), m.update(content_hash=meta.weights_hash)),
    )
    old = read_meta(legacy)
    assert old.content_hash == meta.content_hash and old.weights_hash == meta.weights_hash
    assert load_model(legacy)[1].content_hash == meta.content_hash
