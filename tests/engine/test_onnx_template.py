"""A fine-tuned model's graph is the parent's structure with the new weights, or a full export."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from engine import onnx_export
from engine.checkpoint import build_model, load_model, save_model
from engine.graph_binding import WEIGHTS_KEY
from engine.onnx_export import OPSET, ensure_graph, export_from_template
from engine.onnx_predictor import OnnxPredictor, graph_path
from engine.onnx_template import find_template, structure_key, template_path
from engine.paths import default_model_path


@pytest.fixture(scope="module")
def parent(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose graph was exported in full, which leaves its template beside it."""
    path = tmp_path_factory.mktemp("tpl") / model_file.name
    shutil.copyfile(model_file, path)
    ensure_graph(path)
    return path


def _child(parent: Path, name: str, **changes: object) -> Path:
    """The parent with every float tensor nudged (a stand-in fine-tune), saved beside it."""
    model, meta = load_model(parent)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.mul_(1 + 0.05 * torch.randn(tensor.shape, generator=gen))
    path = parent.with_name(f"{name}.safetensors")
    save_model(path, model, dataclasses.replace(meta, name=name, **changes))
    return path


def _how(graph: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(graph), load_external_data=False).metadata_props}


def test_full_export_keeps_a_weight_free_template(parent: Path) -> None:
    model, meta = load_model(parent)
    key = structure_key(model.state_dict(), meta, OPSET)
    template = template_path(parent.parent, key)
    assert template.is_file()
    proto = onnx.load(str(template))
    weights = [i for i in proto.graph.initializer if i.name.startswith("model.")]
    assert weights and all(not i.raw_data and not i.float_data for i in weights)
    assert template.stat().st_size < 500_000


def test_fine_tuned_graph_comes_from_the_template_and_matches_torch(
    parent: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = _child(parent, "child")

    def no_full_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("a full export ran although the template fits")

    monkeypatch.setattr(onnx_export, "export_graph", no_full_export)
    graph = ensure_graph(child)
    model, meta = load_model(child)
    how = _how(graph)
    assert "template" in how["poxscreen.exported_with"]
    assert how[WEIGHTS_KEY] == meta.weights_hash != load_model(parent)[1].weights_hash
    predictor = OnnxPredictor(graph, meta, model_path=child)  # the classifier tensors are in it
    x = np.random.default_rng(5).standard_normal((3, 3, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(model(torch.from_numpy(x)) / meta.temperature, dim=1).numpy()
    assert np.abs(predictor.predict_array(x)[0] - ref).max() < 1e-4


def test_another_structure_or_a_broken_template_means_a_full_export(
    parent: Path, tmp_path: Path
) -> None:
    model, meta = load_model(parent)
    three = dataclasses.replace(meta, classes=meta.classes[:3])
    other = build_model(three)
    assert not export_from_template(other, three, tmp_path / "a.onnx", [parent.parent])
    bigger = dataclasses.replace(meta, input_size=256)
    assert not export_from_template(model, bigger, tmp_path / "b.onnx", [parent.parent])
    folder = tmp_path / "broken"
    folder.mkdir()
    key = structure_key(model.state_dict(), meta, OPSET)
    template_path(folder, key).write_bytes(b"not a graph")
    assert not export_from_template(model, meta, folder / "c.onnx", [folder])
    assert sorted(p.name for p in tmp_path.rglob("*.onnx")) == []


def test_a_template_filled_with_wrong_weights_is_refused(
    parent: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The verification against PyTorch still guards the fast path."""
    model, meta = load_model(parent)

    def wrong(template: Path, key: str, state: dict[str, torch.Tensor]) -> object:
        nudged = {k: (v * 1.5 if v.is_floating_point() else v) for k, v in state.items()}
        return real(template, key, nudged)

    real = onnx_export.fill_template
    monkeypatch.setattr(onnx_export, "fill_template", wrong)
    assert not export_from_template(model, meta, tmp_path / "d.onnx", [parent.parent])
    assert list(tmp_path.iterdir()) == []


def _initializers(proto: onnx.ModelProto) -> tuple[dict[str, np.ndarray], list[tuple]]:
    named, constants = {}, []
    for init in proto.graph.initializer:
        array = numpy_helper.to_array(init)
        if init.name.startswith("model."):
            named[init.name] = array
        else:
            constants.append((str(array.dtype), array.shape, array.tobytes()))
    return named, sorted(constants)


def test_the_shipped_template_rebuilds_the_shipped_graph() -> None:
    model, meta = load_model(default_model_path())
    key = structure_key(model.state_dict(), meta, OPSET)
    template = find_template(key, [default_model_path().parent])
    assert template is not None, "run python -m engine.onnx_export --force on the default model"
    from torch.onnx._internal._lazy_import import onnx_ir as ir

    from engine.onnx_template import fill_template

    filled = ir.serde.serialize_model(fill_template(template, key, model.state_dict()))
    shipped = onnx.load(str(graph_path(default_model_path(), meta.content_hash)))
    got, want = _initializers(filled), _initializers(shipped)
    assert got[0].keys() == want[0].keys()  # the weights, by name (conv and batch norm folded)
    assert all(np.array_equal(got[0][k], want[0][k]) for k in want[0])
    assert got[1] == want[1]  # the optimiser's constants: named by it, the same values
    ops = sorted(n.op_type for n in filled.graph.node)
    assert ops == sorted(n.op_type for n in shipped.graph.node)


def test_a_template_in_the_stores_models_folder_is_found(
    parent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fine-tune is saved in its run folder; its parent's template is in the store's folder."""
    model, meta = load_model(parent)
    key = structure_key(model.state_dict(), meta, OPSET)
    store_models = tmp_path / "db-models"
    store_models.mkdir()
    shutil.copyfile(template_path(parent.parent, key), template_path(store_models, key))
    run = tmp_path / "run"
    run.mkdir()
    child = _child(parent, "run-child")
    moved = run / child.name
    shutil.move(child, moved)

    def no_full_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("a full export ran although the store has the template")

    monkeypatch.setattr(onnx_export, "export_graph", no_full_export)
    graph, note = onnx_export.try_export(moved, template_dirs=[store_models])
    assert note == "" and graph is not None and graph.parent == run
    assert "template" in _how(graph)["poxscreen.exported_with"]
