"""Grad-CAM parity with the grad-cam package, head-only backward, saliency and overlays."""

from __future__ import annotations

import copy
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM as ReferenceGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from engine.explain import GradCAM, gradcam, overlay, saliency
from engine.model import MobileNetV2MSCAPFR
from tests.engine.factories import make_model, noise_image

TOL = 5e-3


def head_heavy_model(padding: str = "symmetric", seed: int = 0) -> MobileNetV2MSCAPFR:
    """A random model whose head matters: PFR layer scales 0.5 (not 1e-5) and BatchNorm
    statistics fitted to random images, so logits and maps really depend on the input."""
    model = make_model(seed, padding=padding)
    with torch.no_grad():
        model.pfr.layer_scale_1.fill_(0.5)
        model.pfr.layer_scale_2.fill_(0.5)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # cumulative average over the calibration batch
        model.train()
        model(torch.rand(4, 3, 128, 128))
    return model.eval()


def make_inputs(batch: int = 3, size: tuple[int, int] = (224, 224), seed: int = 1) -> torch.Tensor:
    """Noise, smooth blobs and stripes: generated photos with different structure."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    out = []
    for i in range(batch):
        kind = i % 3
        if kind == 0:
            img = torch.randn(3, h, w, generator=g)
        elif kind == 1:
            cy, cx = (torch.rand(2, generator=g) * 1.4 - 0.7).tolist()
            blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)
            img = torch.stack([2 * blob - 1, blob - 0.5, -blob]) + 0.1 * torch.randn(
                3, h, w, generator=g
            )
        else:
            img = torch.stack([torch.sin(9 * xx), torch.cos(7 * yy), torch.sin(5 * (xx + yy))])
        out.append(img)
    return torch.stack(out)


def reference_maps(model: nn.Module, layer_name: str, x: torch.Tensor, targets) -> np.ndarray:
    """The grad-cam package on a copy (it leaves .grad on parameters and forces eval mode)."""
    ref_model = copy.deepcopy(model)
    layer = ref_model.get_submodule(layer_name) if layer_name else ref_model.gradcam_layer
    wrapped = None if targets is None else [ClassifierOutputTarget(int(t)) for t in targets]
    with ReferenceGradCAM(ref_model, target_layers=[layer]) as cam:
        return cam(x, wrapped)


@pytest.fixture(scope="module")
def model() -> MobileNetV2MSCAPFR:
    return head_heavy_model()


@pytest.fixture(scope="module")
def tf_model() -> MobileNetV2MSCAPFR:
    """TensorFlow "SAME" padding on the stride-2 convolutions (weights converted from TFLite)."""
    return head_heavy_model("tf")


@pytest.mark.parametrize("padding", ["symmetric", "tf"])
@pytest.mark.parametrize("targets", [None, [0, 3, 2]], ids=["argmax", "explicit"])
def test_matches_grad_cam_package(
    padding: str,
    targets: list[int] | None,
    model: MobileNetV2MSCAPFR,
    request: pytest.FixtureRequest,
) -> None:
    net = model if padding == "symmetric" else request.getfixturevalue("tf_model")
    x = make_inputs(3)
    with GradCAM(net) as cam:
        result = cam(x, targets)
    ref = reference_maps(net, "", x, targets)
    assert result.heatmaps.shape == (3, 224, 224) and result.heatmaps.dtype == np.float32
    assert np.abs(result.heatmaps - ref).max() < TOL
    # Each map is a real spatial pattern, and the three inputs give different maps.
    assert all(m.max() > 0.99 and m.min() < 0.01 for m in result.heatmaps)
    assert np.abs(result.heatmaps[0] - result.heatmaps[1]).max() > 0.1
    with torch.inference_mode():
        logits = net(x).numpy()
    np.testing.assert_allclose(result.logits, logits, atol=1e-5)
    expected = logits.argmax(1) if targets is None else np.array(targets)
    np.testing.assert_array_equal(result.targets, expected)
    np.testing.assert_allclose(result.probabilities.sum(1), 1.0, atol=1e-6)


def test_non_square_input_and_single_image(model: MobileNetV2MSCAPFR) -> None:
    x = make_inputs(2, size=(160, 224), seed=5)
    result = gradcam(model, x, targets=1)
    assert result.heatmaps.shape == (2, 160, 224)
    np.testing.assert_array_equal(result.targets, [1, 1])
    assert np.abs(result.heatmaps - reference_maps(model, "", x, [1, 1])).max() < TOL
    single = gradcam(model, x[0], targets=torch.tensor(1))
    assert single.heatmaps.shape == (1, 160, 224)
    np.testing.assert_allclose(single.heatmaps[0], result.heatmaps[0], atol=1e-5)


def test_target_layer_inside_backbone_falls_back_to_full_pass(model: MobileNetV2MSCAPFR) -> None:
    x = make_inputs(2, seed=3)
    with GradCAM(model, target_layer=model.features[16]) as cam:
        result = cam(x, [2, 0])
    assert np.abs(result.heatmaps - reference_maps(model, "features.16", x, [2, 0])).max() < TOL


def test_only_the_head_after_the_target_layer_is_differentiated(model: MobileNetV2MSCAPFR) -> None:
    net = copy.deepcopy(model)
    seen: list[bool] = []
    handle = net.features.register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    requires = [p.requires_grad for p in net.parameters()]
    with GradCAM(net) as cam, torch.profiler.profile() as prof:
        cam(make_inputs(2))
    handle.remove()
    prefix = "autograd::engine::evaluate_function: "
    backward = {e.name[len(prefix) :] for e in prof.events() if e.name.startswith(prefix)}
    assert seen == [False]  # the backbone ran once, without autograd
    # The backward pass ran through pool + classifier only: no convolution, norm or GELU.
    assert "AddmmBackward0" in backward
    head = ["Gather", "Sum", "Addmm", "Relu", "View", "Mean", "T"]
    # AccumulateGrad is the activation leaf capturing its gradient (no parameter gets .grad).
    assert backward <= {f"{op}Backward{n}" for op in head for n in (0, 1)} | {
        "torch::autograd::AccumulateGrad"
    }
    assert all(p.grad is None for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == requires


def test_modes_restored_and_dropout_off(model: MobileNetV2MSCAPFR) -> None:
    net = copy.deepcopy(model).train()
    net.features.eval()  # a trainer with a frozen backbone
    flags = [m.training for m in net.modules()]
    x = make_inputs(2)
    first = gradcam(net, x)
    second = gradcam(net, x)
    assert [m.training for m in net.modules()] == flags
    np.testing.assert_array_equal(first.heatmaps, second.heatmaps)  # eval: no dropout noise
    np.testing.assert_allclose(first.heatmaps, gradcam(model, x).heatmaps, atol=1e-6)


def test_hook_removed_and_plain_forward_untouched(model: MobileNetV2MSCAPFR) -> None:
    x = make_inputs(1)
    with torch.inference_mode():
        before = model(x)
    with GradCAM(model, temperature=2.0) as cam:
        with torch.inference_mode():  # the GUI's plain predictions while the hook is installed
            during = model(x)
        result = cam(x)
        assert len(model.gradcam_layer._forward_hooks) == 1
    assert len(model.gradcam_layer._forward_hooks) == 0
    torch.testing.assert_close(before, during)
    expected = torch.softmax(torch.from_numpy(result.logits) / 2.0, dim=1).numpy()
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-6)
    with pytest.raises(RuntimeError, match="closed"):
        cam(x)


def test_all_zero_cam_gives_zeros_not_nan(model: MobileNetV2MSCAPFR) -> None:
    net = copy.deepcopy(model)
    with torch.no_grad():
        net.classifier[2].weight.zero_()  # logits no longer depend on the target layer
    result = gradcam(net, make_inputs(2))
    assert np.isfinite(result.heatmaps).all()
    assert not result.heatmaps.any()


@pytest.mark.parametrize("targets", [4, -1, [0, 1, 2], [0.5, 1.0], np.array([[0, 1]]), "a"])
def test_bad_targets_raise(targets, model: MobileNetV2MSCAPFR) -> None:
    with pytest.raises(ValueError):
        gradcam(model, make_inputs(2, size=(64, 64)), targets=targets)


def test_bad_input_raises(model: MobileNetV2MSCAPFR) -> None:
    with pytest.raises(ValueError, match="float tensor"):
        gradcam(model, torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="float tensor"):
        saliency(model, torch.zeros(64, 64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(model: MobileNetV2MSCAPFR) -> None:
    x = make_inputs(3)
    cpu = gradcam(model, x, [1, 2, 3])
    net = copy.deepcopy(model).cuda()
    gpu = gradcam(net, x, [1, 2, 3])  # a CPU batch goes to the model's device
    assert np.abs(gpu.heatmaps - cpu.heatmaps).max() < TOL
    np.testing.assert_allclose(gpu.logits, cpu.logits, atol=1e-3)
    sal = saliency(net, x.cuda())
    assert sal.shape == (3, 224, 224) and sal.min() >= 0 and sal.max() == pytest.approx(1.0)


class PatchModel(nn.Module):
    """Logits read only an 8x8 patch (rows 4-11, columns 20-27), so only it can be salient."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x[:, :, 4:12, 20:28].flatten(1))


def test_saliency_marks_exactly_the_region_that_drives_the_logit() -> None:
    sal = saliency(PatchModel(), torch.rand(2, 3, 32, 40), target=[0, 2])
    assert sal.shape == (2, 32, 40) and sal.dtype == np.float32
    assert sal.min() == 0.0 and sal.max() == pytest.approx(1.0)
    inside = np.zeros((32, 40), dtype=bool)
    inside[4:12, 20:28] = True
    assert not sal[:, ~inside].any()
    assert (sal[:, inside] > 0).mean() > 0.9


def test_saliency_agrees_with_finite_differences(model: MobileNetV2MSCAPFR) -> None:
    net = copy.deepcopy(model).double()
    x = make_inputs(1, size=(64, 64), seed=7).double()
    target = 1
    sal = saliency(net, x, target)[0]
    flags = [p.requires_grad for p in net.parameters()]
    assert all(p.grad is None for p in net.parameters()) and all(flags)

    hi = np.unravel_index(sal.argmax(), sal.shape)
    lo = np.unravel_index(sal.argmin(), sal.shape)
    pixels = [hi, lo, (10, 50), (33, 20), (60, 3)]
    # max over channels of |d logit / d x| per pixel, by central differences in one batch.
    h = 1e-4
    batch = x.repeat(2 * 3 * len(pixels), 1, 1, 1)
    for k, ((row, col), c) in enumerate(itertools.product(pixels, range(3))):
        batch[2 * k, c, row, col] += h
        batch[2 * k + 1, c, row, col] -= h
    with torch.inference_mode():
        logit = net(batch)[:, target]
    fd = ((logit[0::2] - logit[1::2]).abs() / (2 * h)).view(len(pixels), 3).amax(1).tolist()
    g_hi, g_lo = fd[0], fd[1]
    assert g_hi > g_lo
    for (row, col), g in zip(pixels[2:], fd[2:], strict=True):
        assert sal[row, col] == pytest.approx((g - g_lo) / (g_hi - g_lo), abs=1e-3)


def _hot_top_right() -> np.ndarray:
    heat = np.zeros((224, 224), dtype=np.float32)
    heat[:56, 168:] = 1.0
    return heat


def test_overlay_size_orientation_and_alpha_extremes() -> None:
    photo, heat = noise_image(640, 480), _hot_top_right()
    out = overlay(photo, heat)
    assert out.size == (640, 480) and out.mode == "RGB"
    assert np.array_equal(np.asarray(overlay(photo, heat, alpha=0.0)), np.asarray(photo))
    pure = np.asarray(overlay(photo, heat, alpha=1.0)).astype(int)
    # Pure colour map: independent of the photo, red where hot (top right), blue where cold.
    assert np.array_equal(pure, np.asarray(overlay(noise_image(640, 480, seed=1), heat, alpha=1.0)))
    from matplotlib import colormaps

    jet = (np.asarray(colormaps["jet"]([0.0, 1.0]))[:, :3] * 255).round()
    np.testing.assert_allclose(pure[30, 600], jet[1], atol=1)
    np.testing.assert_allclose(pure[450, 30], jet[0], atol=1)
    half = np.asarray(overlay(photo, heat, alpha=0.5)).astype(int)
    np.testing.assert_allclose(half, (np.asarray(photo).astype(int) + pure) / 2, atol=1)


def test_overlay_accepts_other_modes_and_colormaps() -> None:
    grey = noise_image(300, 200).convert("L")
    out = overlay(grey, _hot_top_right()[None], alpha=1.0, colormap="viridis")
    assert out.size == (300, 200) and out.mode == "RGB"
    assert not np.array_equal(np.asarray(out), np.asarray(overlay(grey, _hot_top_right(), 1.0)))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "0.5", True, None])
def test_overlay_rejects_bad_alpha(alpha) -> None:
    with pytest.raises(ValueError, match="alpha"):
        overlay(noise_image(64, 48), _hot_top_right(), alpha=alpha)


def test_overlay_rejects_bad_heatmap_and_colormap() -> None:
    with pytest.raises(ValueError, match="2-D"):
        overlay(noise_image(64, 48), np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="colormap"):
        overlay(noise_image(64, 48), _hot_top_right(), colormap="no-such-map")


def test_engine_import_does_not_load_matplotlib() -> None:
    code = "import sys, engine.explain; sys.exit('matplotlib' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
