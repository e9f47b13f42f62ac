"""The backbone's padding modes: TF "SAME" on stride-2 convolutions, and an exact way back."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2

from engine.model.backbone import (
    PADDING_MODES,
    TFSamePadConv2d,
    build_features,
    get_padding_mode,
    set_padding_mode,
    tf_same_pads,
)

STRIDED = ["0.0", "2.conv.1.0", "4.conv.1.0", "7.conv.1.0", "14.conv.1.0"]


def _strided_names(features: nn.Module) -> list[str]:
    return [n for n, m in features.named_modules() if isinstance(m, nn.Conv2d) and m.stride[0] > 1]


def test_padding_modes_constant() -> None:
    assert PADDING_MODES == ("symmetric", "tf")


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (224, 3, 2, 1, (0, 1)),  # even input: the extra row/column goes bottom/right only
        (225, 3, 2, 1, (1, 1)),
        (7, 1, 2, 1, (0, 0)),
        (5, 3, 1, 1, (1, 1)),
        (10, 3, 2, 2, (1, 2)),
        (10, 1, 3, 1, (0, 0)),
    ],
)
def test_tf_same_pads_examples(size, kernel, stride, dilation, expected) -> None:
    assert tf_same_pads(size, kernel, stride, dilation) == expected


def test_tf_same_pads_matches_tf_formula() -> None:
    for n in range(1, 50):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for d in (1, 2):
                    eff = (k - 1) * d + 1
                    total = max((math.ceil(n / s) - 1) * s + eff - n, 0)
                    assert tf_same_pads(n, k, s, d) == (total // 2, total - total // 2)


def test_round_trip_keeps_names_parameters_and_stock_behaviour() -> None:
    torch.manual_seed(0)
    stock = mobilenet_v2(weights=None).features.eval()
    features = copy.deepcopy(stock)
    names = list(features.state_dict())
    params = {n: p for n, p in features.named_parameters()}
    paddings = {n: m.padding for n, m in features.named_modules() if isinstance(m, nn.Conv2d)}
    assert _strided_names(features) == STRIDED
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = stock(x)

        set_padding_mode(features, "tf")
        assert get_padding_mode(features) == "tf"
        assert list(features.state_dict()) == names
        assert all(p is params[n] for n, p in features.named_parameters())
        for name, module in features.named_modules():
            if name in STRIDED:
                assert type(module) is TFSamePadConv2d
                assert module.padding == (0, 0)
            elif isinstance(module, nn.Conv2d):
                assert type(module) is nn.Conv2d
        tf_out = features(x)
        assert tf_out.shape == expected.shape
        assert (tf_out - expected).abs().max() > 0.01 * expected.abs().max()  # really differs

        set_padding_mode(features, "tf")  # idempotent
        set_padding_mode(features, "symmetric")
        assert get_padding_mode(features) == "symmetric"
        assert all(type(m) is nn.Conv2d for m in features.modules() if isinstance(m, nn.Conv2d))
        assert {n: m.padding for n, m in features.named_modules() if isinstance(m, nn.Conv2d)} == (
            paddings
        )
        assert not any(hasattr(m, "symmetric_padding") for m in features.modules())
        assert torch.equal(features(x), expected)


def test_build_features_and_state_dict_portability() -> None:
    tf = build_features("tf")
    sym = build_features("symmetric")
    assert get_padding_mode(tf) == "tf" and get_padding_mode(sym) == "symmetric"
    sym.load_state_dict(tf.state_dict(), strict=True)
    tf.load_state_dict(sym.state_dict(), strict=True)
    assert get_padding_mode(copy.deepcopy(tf)) == "tf"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown padding mode"):
        set_padding_mode(build_features(), "same")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown padding mode"):
        build_features("reflect")  # type: ignore[arg-type]


@pytest.mark.parametrize(("h", "w"), [(64, 64), (65, 63), (33, 70)])
def test_tf_output_shapes_are_ceil_of_stride(h: int, w: int) -> None:
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    set_padding_mode(nn.Sequential(conv), "tf")
    out = conv(torch.randn(1, 3, h, w))
    assert out.shape == (1, 8, math.ceil(h / 2), math.ceil(w / 2))
    feats = build_features("tf").eval()
    with torch.no_grad():
        y = feats(torch.randn(1, 3, h, w))
    expect_h, expect_w = h, w
    for _ in range(5):
        expect_h, expect_w = math.ceil(expect_h / 2), math.ceil(expect_w / 2)
    assert y.shape == (1, 1280, expect_h, expect_w)


@pytest.mark.parametrize(("h", "w", "pads"), [(12, 12, (0, 1, 0, 1)), (13, 12, (0, 1, 1, 1))])
def test_tf_conv_equals_manual_pad_reference(h: int, w: int, pads: tuple[int, ...]) -> None:
    torch.manual_seed(1)
    for groups in (1, 4):
        conv = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=groups)
        set_padding_mode(nn.Sequential(conv), "tf")
        x = torch.randn(2, 4, h, w)
        ref = F.conv2d(F.pad(x, pads), conv.weight, conv.bias, stride=2, groups=groups)
        assert torch.equal(conv(x), ref)


def test_tf_backbone_equals_manual_pad_everywhere() -> None:
    """Each stride-2 conv of the whole backbone sees exactly F.pad(right/bottom) of its input."""
    torch.manual_seed(2)
    feats = build_features("tf").eval()
    seen: list[bool] = []

    def check(module: nn.Conv2d, args: tuple[torch.Tensor], out: torch.Tensor) -> None:
        (x,) = args
        ref = F.conv2d(F.pad(x, (0, 1, 0, 1)), module.weight, None, 2, 0, 1, module.groups)
        seen.append(torch.equal(out, ref))

    for name, m in feats.named_modules():
        if name in STRIDED:
            m.register_forward_hook(check)
    with torch.no_grad():
        feats(torch.randn(1, 3, 96, 96))
    assert seen == [True] * len(STRIDED)


def test_tf_padding_traces_for_export_and_compile() -> None:
    """torch.export (what the ONNX dynamo exporter uses) sees aten.pad + conv, sizes dynamic."""
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    model = nn.Sequential(conv)
    set_padding_mode(model, "tf")
    h = torch.export.Dim("h", min=4, max=512)
    ep = torch.export.export(model, (torch.randn(1, 3, 10, 10),), dynamic_shapes=({2: h},))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any("pad" in t for t in targets) and any("conv" in t for t in targets)
    for n in (9, 10, 11):
        y = torch.randn(1, 3, n, 10)
        assert torch.equal(ep.module()(y), model(y))
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    y = torch.randn(1, 3, 11, 12)
    assert torch.allclose(compiled(y), model(y))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tf_padding_on_cuda() -> None:
    feats = build_features("tf").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        cpu = feats(x)
        gpu = feats.cuda()(x.cuda()).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-3)
