"""The network matches the design: parameter count, FLOPs, shapes, and the authors' checkpoints."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.checkpoint import ModelFileError, import_state_dict
from engine.model import MobileNetV2MSCAPFR
from tests.engine.authors_reference import AuthorsNet


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every parameter and BN statistic non-trivial values so comparisons mean something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(
                        torch.randn(t.shape, generator=g) * 0.05
                        + (1.0 if "layer_scale" in name else 0)
                    )


def test_parameter_count_matches_design() -> None:
    model = MobileNetV2MSCAPFR(num_classes=4)
    assert sum(p.numel() for p in model.parameters()) == 3_680_260
    assert sum(p.numel() for p in model.features.parameters()) == 2_223_872


def test_flops_match_design() -> None:
    model = MobileNetV2MSCAPFR(4).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert counter.get_total_flops() / 1e6 == pytest.approx(727, rel=0.01)


@pytest.mark.parametrize("classes", [2, 4, 7])
def test_forward_shapes_and_split(classes: int) -> None:
    model = MobileNetV2MSCAPFR(num_classes=classes).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
        assert feats.shape == (2, 1280, 7, 7)
        assert logits.shape == (2, classes)
        torch.testing.assert_close(model.forward_head(feats), logits)
        assert model.forward_head(feats, pre_logits=True).shape == (2, 256)


def test_gradcam_layer_sees_final_map() -> None:
    model = MobileNetV2MSCAPFR(4).eval()
    seen: list[torch.Size] = []
    handle = model.gradcam_layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    handle.remove()
    assert seen == [torch.Size([1, 256, 7, 7])]


def test_rejects_fewer_than_two_classes() -> None:
    with pytest.raises(ValueError):
        MobileNetV2MSCAPFR(num_classes=1)


def test_authors_checkpoint_imports_key_for_key(tmp_path: Path) -> None:
    reference = AuthorsNet(num_classes=4)
    _randomise(reference)
    reference.eval()
    ours_keys = set(MobileNetV2MSCAPFR(4).state_dict())
    assert set(reference.state_dict()) == ours_keys
    pth = tmp_path / "authors.pth"
    torch.save(reference.state_dict(), pth)
    model, meta = import_state_dict(pth)
    assert meta.padding == "symmetric" and meta.classes == [
        "Chickenpox",
        "Measles",
        "Monkeypox",
        "Normal",
    ]
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-5)


def test_authors_checkpoint_wrapped_and_dataparallel(tmp_path: Path) -> None:
    reference = AuthorsNet(num_classes=3)
    _randomise(reference, seed=3)
    pth = tmp_path / "wrapped.pth"
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}, "epoch": 12},
        pth,
    )
    model, meta = import_state_dict(pth, classes=["a", "b", "c"])
    assert meta.classes == ["a", "b", "c"]
    for k, v in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v)


class _Evil:
    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (Path.touch, (Path(self.target),))


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.target = str(marker)  # type: ignore[attr-defined]
    pth = tmp_path / "evil.pth"
    pth.write_bytes(pickle.dumps({"classifier.2.weight": evil}))
    with pytest.raises(ModelFileError, match="evil.pth"):
        import_state_dict(pth)
    assert not marker.exists()


def test_import_rejects_wrong_architecture(tmp_path: Path) -> None:
    pth = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, pth)
    with pytest.raises(ModelFileError, match="wrong architecture"):
        import_state_dict(pth)


def test_import_explains_empty_text_and_foreign_files_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 7: `poxscreen import` of an empty or text file showed torch's advice about
    weights_only; a head with another class count was silently named class_0..."""
    from engine.cli import main

    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    text = tmp_path / "notes.pth"
    text.write_text("epoch 12: accuracy 0.93\n")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00\x01binary junk")
    for file, reason in (
        (empty, "file is empty"),
        (text, "it holds text"),
        (junk, "unrecognised content"),
        (tmp_path / "missing.pth", "file not found"),
    ):
        assert main(["import", str(file), str(tmp_path / "out.safetensors")]) == 2
        err = capsys.readouterr().err
        assert f"{file.name}: not a PyTorch" in err or f"{file.name}: {reason}" in err
        assert reason in err and "weights_only" not in err and "Traceback" not in err
    three = MobileNetV2MSCAPFR(num_classes=3)
    pth = tmp_path / "three.pth"
    torch.save(three.state_dict(), pth)
    assert main(["import", str(pth), str(tmp_path / "o.safetensors")]) == 2
    assert "give --classes with 3 names" in capsys.readouterr().err
    out = tmp_path / "o.safetensors"
    assert main(["import", str(pth), str(out), "--classes", "a", "b", "c"]) == 0
    capsys.readouterr()
    assert main(["import", str(pth), str(out), "--classes", "a", "b"]) == 2
    assert "mismatched classes" in capsys.readouterr().err
