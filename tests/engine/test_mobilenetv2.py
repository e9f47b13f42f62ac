"""The local MobileNetV2 is torchvision's, module for module, without importing torchvision."""

from __future__ import annotations

import subprocess
import sys

import torch
from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

from engine.model.mobilenetv2 import mobilenet_v2


def test_same_tree_names_init_and_output_as_torchvision() -> None:
    torch.manual_seed(123)
    ours = mobilenet_v2().eval()
    after_ours = torch.rand(3)
    torch.manual_seed(123)
    theirs = tv_mobilenet_v2(weights=None).eval()
    after_theirs = torch.rand(3)
    assert torch.equal(after_ours, after_theirs)  # same random numbers consumed, in order
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()
    ]
    # trained-like statistics so the comparison exercises BN and the skips
    for m in theirs.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        assert torch.allclose(ours(x), theirs(x), atol=1e-6)


def test_network_definition_does_not_import_torchvision() -> None:
    code = (
        "import sys; from engine.checkpoint import load_model; "
        "from engine.default_model import load_default_model; load_default_model(); "
        "print(sorted(m for m in sys.modules if m.startswith(('torchvision', 'torch._dynamo'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
