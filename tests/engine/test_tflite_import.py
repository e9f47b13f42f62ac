"""The committed ImageNet weights and the TFLite converter that produced them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torchvision.models import mobilenet_v2

from engine.model import MobileNetV2MSCAPFR
from engine.model.backbone import build_features, get_padding_mode
from engine.model.imagenet import (
    ImageNetWeightsError,
    imagenet_dir,
    imagenet_feature_state,
    imagenet_weights_path,
    load_imagenet_classifier,
    read_imagenet_file,
)

TFLITE = "tf2_mobilenet_v2_1.0_224_ptq.tflite"
SAMPLES = {
    "cat.bmp": "Egyptian cat",
    "bird.bmp": "chickadee",
    "parrot.jpg": "macaw",
    "grace_hopper.bmp": "military uniform",
}


# --- always: the committed file -----------------------------------------------------------


def test_committed_file_keys_shapes_and_identity_batchnorm() -> None:
    state, info = read_imagenet_file()
    stock = mobilenet_v2(weights=None, num_classes=1000).state_dict()
    assert set(state) == set(stock)
    for key, ref in stock.items():
        assert state[key].shape == ref.shape, key
        assert state[key].dtype == ref.dtype, key
        if ref.is_floating_point():
            assert torch.isfinite(state[key]).all(), key
    bn_weights = [v for k, v in state.items() if k.endswith(".weight") and v.ndim == 1]
    assert len(bn_weights) == 52
    assert all(torch.equal(w, torch.ones_like(w)) for w in bn_weights)
    means = [v for k, v in state.items() if k.endswith("running_mean")]
    assert all(not m.any() for m in means)
    assert state["classifier.1.weight"].shape == (1000, 1280)
    # real weights, not an initialisation: folded BN biases are non-zero and conv weights vary
    assert state["features.0.1.bias"].abs().sum() > 0
    assert state["features.0.0.weight"].std() > 0.05


def test_committed_file_metadata_and_companions() -> None:
    path = imagenet_weights_path()
    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads(fh.metadata()["poxscreen"])
    assert meta["source_file"] == TFLITE
    assert re.fullmatch(r"[0-9a-f]{64}", meta["source_sha256"])
    assert meta["license"] == "Apache-2.0"
    assert meta["padding"] == "tf"
    assert meta["mean"] == [0.5, 0.5, 0.5] and meta["std"] == [0.5, 0.5, 0.5]
    assert meta["input_size"] == 224
    labels = (imagenet_dir() / meta["labels"]).read_text(encoding="utf-8").splitlines()
    assert len(labels) == 1000 and labels[0].startswith("tench") and "background" not in labels
    assert "Apache License" in (imagenet_dir() / "LICENSE.txt").read_text(encoding="utf-8")
    notice = (imagenet_dir() / "NOTICE.md").read_text(encoding="utf-8")
    assert TFLITE in notice and meta["source_sha256"] in notice


def test_load_imagenet_classifier() -> None:
    model, info = load_imagenet_classifier()
    assert not model.training
    assert get_padding_mode(model.features) == "tf"
    assert info["mean"] == [0.5, 0.5, 0.5] and len(info["labels"]) == 1000
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 224, 224))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


def test_feature_state_loads_strictly_into_tf_backbone() -> None:
    state = imagenet_feature_state()
    assert state and all(k.startswith("features.") for k in state)
    holder = nn.Module()
    holder.features = build_features("tf")
    holder.load_state_dict(state, strict=True)
    assert torch.equal(holder.features[0][0].weight, state["features.0.0.weight"])
    net = MobileNetV2MSCAPFR(num_classes=4, padding="tf")
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and not any(k.startswith("features.") for k in missing)


def test_bad_weights_files_give_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageNetWeightsError, match="file not found"):
        read_imagenet_file(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ImageNetWeightsError, match="not a readable safetensors"):
        read_imagenet_file(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(1)}, str(bare))
    with pytest.raises(ImageNetWeightsError, match="metadata"):
        load_imagenet_classifier(bare)


def test_converter_refuses_mismatched_graph() -> None:
    from engine.model.tflite_import import TFLiteLayer, convert_layers

    layer = TFLiteLayer(
        "CONV_2D", np.zeros((32, 3, 3, 3), np.float32), np.zeros(32, np.float32), (), ()
    )
    with pytest.raises(ValueError, match="conv/dense ops"):
        convert_layers([layer])


def test_converter_refuses_non_tflite(tmp_path: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    from engine.model.tflite_import import TFLiteImportError, convert_tflite

    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(TFLiteImportError, match="not a readable TFLite model"):
        convert_tflite(bad)
    with pytest.raises(TFLiteImportError, match="file not found"):
        convert_tflite(tmp_path / "absent.tflite")


# --- with ../shared: against the TFLite original -------------------------------------------


@pytest.fixture(scope="module")
def tflite_path(shared_dir: Path) -> Path:
    pytest.importorskip("ai_edge_litert")
    path = shared_dir / "weights" / TFLITE
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture(scope="module")
def reference(tflite_path: Path):
    from engine.model.tflite_reference import TFLiteClassifier

    return TFLiteClassifier(tflite_path)


@pytest.mark.shared
def test_fresh_conversion_equals_committed_file(tflite_path: Path) -> None:
    from engine.model.tflite_import import convert_tflite, file_sha256

    fresh = convert_tflite(tflite_path)
    state, info = read_imagenet_file()
    assert info["source_sha256"] == file_sha256(tflite_path)
    assert set(fresh) == set(state)
    for key, value in fresh.items():
        assert torch.equal(value, state[key]), key


@pytest.mark.shared
def test_samples_match_tflite_and_known_answers(shared_dir: Path, reference) -> None:
    from engine.model.tflite_reference import load_pixels, torch_logits

    model, info = load_imagenet_classifier()
    names = sorted(SAMPLES)
    pixels = [load_pixels(shared_dir / "weights" / "imagenet_samples" / n) for n in names]
    ours = torch_logits(model, pixels).argmax(1)
    ref = np.stack([reference.logits(p) for p in pixels]).argmax(1)
    for name, mine, theirs in zip(names, ours, ref, strict=True):
        assert mine == theirs, name
        assert info["labels"][mine].startswith(SAMPLES[name]), (name, info["labels"][mine])


@pytest.mark.shared
@pytest.mark.slow
def test_msid_top1_agreement_with_tflite(shared_dir: Path, reference) -> None:
    """On the 605 MSID photos the converted model (TF padding) agrees with TFLite >= 85%."""
    from engine.model.tflite_reference import agreement, load_pixels, torch_logits

    files = sorted((shared_dir / "datasets" / "msid").glob("*/*.png"))
    if len(files) < 600:
        pytest.skip(f"MSID photos missing under {shared_dir} ({len(files)} found)")
    pixels = [load_pixels(f) for f in files]
    ref = np.stack([reference.logits(p) for p in pixels])
    model, _ = load_imagenet_classifier()
    stats = agreement(torch_logits(model, pixels), ref)
    assert stats["top1"] >= 0.85, stats
    assert stats["top5"] >= 0.98, stats
    assert stats["corr"] >= 0.98, stats
