"""Device choice and batched prediction."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from engine import device as device_mod
from engine.device import DeviceError, select_device
from engine.predictor import Predictor


def test_cpu_requested() -> None:
    choice = select_device("cpu")
    assert choice.device.type == "cpu" and "requested" in choice.reason


def test_auto_without_cuda_says_why(monkeypatch) -> None:
    monkeypatch.setattr(device_mod, "cuda_status", lambda: (False, "no CUDA GPU or driver found"))
    choice = select_device("auto")
    assert choice.device.type == "cpu"
    assert "CUDA not used" in choice.reason and "no CUDA GPU" in choice.reason


def test_cuda_requested_without_gpu_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(
        device_mod, "cuda_status", lambda: (False, "this PyTorch build has no CUDA support")
    )
    with pytest.raises(DeviceError, match="CUDA requested but not usable"):
        select_device("cuda")


def test_auto_prefers_cuda_when_present(monkeypatch) -> None:
    monkeypatch.setattr(device_mod, "cuda_status", lambda: (True, "Fake GPU"))
    choice = select_device("auto")
    assert choice.device.type == "cuda" and "Fake GPU" in choice.reason


def test_unknown_device_rejected() -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        select_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_predictions_match_cpu(model_file: Path, photo_folder: Path) -> None:
    paths = sorted(photo_folder.glob("img*.png"))
    cpu = [p for b in Predictor.from_file(model_file, device="cpu").predict_paths(paths) for p in b]
    gpu = [
        p for b in Predictor.from_file(model_file, device="cuda").predict_paths(paths) for p in b
    ]
    for a, b in zip(cpu, gpu, strict=True):
        assert a.top_class == b.top_class
        assert a.confidence == pytest.approx(b.confidence, abs=1e-3)


def test_predict_paths_in_order_with_errors(model_file: Path, photo_folder: Path) -> None:
    predictor = Predictor.from_file(model_file, device="cpu", batch_size=2)
    paths = sorted(p for p in photo_folder.rglob("*") if p.is_file())
    results = [p for batch in predictor.predict_paths(paths) for p in batch]
    assert [r.path for r in results] == paths
    by_name = {r.path.name: r for r in results}
    assert by_name["empty.jpg"].error and "empty" in by_name["empty.jpg"].error
    assert by_name["truncated.jpg"].error and by_name["notes.png"].error
    good = [r for r in results if r.ok]
    assert len(good) == 6
    for r in good:
        assert set(r.probabilities) == set(predictor.classes)
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert r.top_class == max(r.probabilities, key=r.probabilities.get)
        assert r.confidence == max(r.probabilities.values())
        assert r.model_version == predictor.version and len(r.sha256) == 64
        assert (r.width, r.height) == (96, 80)


def test_batched_equals_single(model_file: Path, photo_folder: Path) -> None:
    predictor = Predictor.from_file(model_file, device="cpu", batch_size=4)
    paths = sorted(photo_folder.glob("img*.png"))
    batched = [p.probabilities for b in predictor.predict_paths(paths) for p in b]
    single = predictor.predict_images([Image.open(p).convert("RGB") for p in paths])
    for a, b in zip(batched, single, strict=True):
        for k in a:
            assert a[k] == pytest.approx(b[k], abs=1e-5)


def test_temperature_softens_confidence(model_file: Path, photo_folder: Path) -> None:
    sharp = Predictor.from_file(model_file, device="cpu")
    soft = Predictor(sharp.model, dataclasses.replace(sharp.meta, temperature=5.0), device="cpu")
    image = [Image.open(photo_folder / "img1.png").convert("RGB")]
    assert max(soft.predict_images(image)[0].values()) < max(
        sharp.predict_images(image)[0].values()
    )


def test_skip_and_cancel(model_file: Path, photo_folder: Path) -> None:
    predictor = Predictor.from_file(model_file, device="cpu", batch_size=1)
    paths = sorted(photo_folder.glob("img*.png"))
    results = [p for b in predictor.predict_paths(paths, skip=lambda h: True) for p in b]
    assert all(r.skipped and r.probabilities == {} for r in results)
    cancel = threading.Event()
    seen = []
    for batch in predictor.predict_paths(paths, cancel=cancel):
        seen.extend(batch)
        cancel.set()
    assert len(seen) == 1
