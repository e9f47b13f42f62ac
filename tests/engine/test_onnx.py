"""ONNX Runtime screening: same answers as PyTorch, no torch on the path, safe fallbacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import backends, onnx_export
from engine.checkpoint import ModelFileError, load_model, read_meta, save_model
from engine.graph_binding import WEIGHTS_KEY
from engine.images import iter_image_files, load_image
from engine.onnx_export import ensure_graph
from engine.onnx_predictor import (
    FEATURES_KEY,
    HASH_KEY,
    OnnxPredictor,
    OnnxUnavailable,
    graph_path,
)
from engine.paths import default_model_path
from engine.predictor import Predictor
from engine.preprocess import to_input

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the test model with its graph exported beside it."""
    folder = tmp_path_factory.mktemp("onnx")
    path = folder / model_file.name
    shutil.copyfile(model_file, path)
    ensure_graph(path)
    return path


def _all(predictor, paths):
    return [p for batch in predictor.predict_paths(paths) for p in batch]


def _max_diff(a, b) -> float:
    return max(
        abs(x.probabilities[c] - y.probabilities[c])
        for x, y in zip(a, b, strict=True)
        for c in x.probabilities
    )


def test_graph_beside_model_keyed_by_hash(exported: Path) -> None:
    meta = read_meta(exported)
    graph = graph_path(exported, meta.content_hash)
    assert graph.parent == exported.parent and meta.content_hash[:16] in graph.name
    predictor = OnnxPredictor.from_model_file(exported)
    assert predictor.session.get_modelmeta().custom_metadata_map[HASH_KEY] == meta.content_hash
    assert predictor.version == meta.version and predictor.classes == meta.classes


def test_same_results_and_features_as_torch(exported: Path, photo_folder: Path) -> None:
    paths = sorted(p for p in photo_folder.rglob("*") if p.is_file())
    onnx = _all(OnnxPredictor.from_model_file(exported, batch_size=3, keep_features=True), paths)
    ref = _all(Predictor.from_file(exported, device="cpu", batch_size=2, keep_features=True), paths)
    assert [p.path for p in onnx] == paths
    assert [p.error is None for p in onnx] == [p.error is None for p in ref]
    good = [(a, b) for a, b in zip(onnx, ref, strict=True) if a.ok]
    assert len(good) == 6
    assert _max_diff([a for a, _ in good], [b for _, b in good]) < 1e-4
    for a, b in good:
        assert a.top_class == b.top_class and (a.width, a.height) == (b.width, b.height)
        assert a.features.shape == (1280,) and np.allclose(a.features, b.features, atol=1e-4)
        assert a.quality_issues == b.quality_issues and a.quality_issues is not None
    # features are the globally pooled backbone output (the guard's input), computed here apart
    model, meta = load_model(exported)
    x = np.stack([to_input(load_image(a.path, target_size=224), meta) for a, _ in good])
    with torch.inference_mode():
        pooled = model.forward_features(torch.from_numpy(x)).mean((2, 3)).numpy()
    assert np.abs(pooled - np.stack([a.features for a, _ in good])).max() < 1e-4


def test_features_are_dropped_unless_kept(exported: Path, photo_folder: Path) -> None:
    """5 KB per photo: a long screening keeps none unless a caller asks."""
    paths = sorted(p for p in photo_folder.rglob("*") if p.is_file())
    results = _all(OnnxPredictor.from_model_file(exported), paths)
    assert any(p.ok for p in results) and all(p.features is None for p in results)


def test_onnx_screening_carries_the_model_files_guard(
    exported: Path, photo_folder: Path, tmp_path: Path
) -> None:
    """The guard is read from the model file without torch; its scores match PyTorch's."""
    from tests.engine.test_guard import make_guard

    model, meta = load_model(exported)
    path = tmp_path / "guarded.safetensors"
    save_model(path, model, meta, guard=make_guard())
    ensure_graph(path)
    onnx_predictor = OnnxPredictor.from_model_file(path)
    assert onnx_predictor.guard is not None and onnx_predictor.guard_status == "guard active"
    paths = sorted(photo_folder.glob("img*.png"))
    onnx = _all(onnx_predictor, paths)
    ref = _all(Predictor.from_file(path, device="cpu"), paths)
    assert onnx and all(p.ok for p in onnx)
    for a, b in zip(onnx, ref, strict=True):
        assert a.out_of_scope is not None and a.out_of_scope == b.out_of_scope
        assert a.scope_score == pytest.approx(b.scope_score, rel=1e-3)
    plain = OnnxPredictor.from_model_file(exported)
    assert plain.guard is None and _all(plain, paths[:1])[0].out_of_scope is None


def test_graph_without_backbone_features_is_stale(exported: Path, tmp_path: Path) -> None:
    """Graphs exported before the features were the backbone's (256 pre-logits) are refused."""
    import onnx

    meta = read_meta(exported)
    graph = onnx.load(str(graph_path(exported, meta.content_hash)))
    kept = [p for p in graph.metadata_props if p.key != FEATURES_KEY]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    path = tmp_path / exported.name
    shutil.copyfile(exported, path)
    onnx.save(graph, str(graph_path(path, meta.content_hash)))
    with pytest.raises(OnnxUnavailable, match="predates pooled backbone features"):
        OnnxPredictor.from_model_file(path)
    assert isinstance(backends.screening_predictor(path, device="cpu"), Predictor)


def test_stale_graph_is_refused_and_torch_used(
    exported: Path, tmp_path: Path, photo_folder: Path
) -> None:
    """A retrained model whose file kept its name never runs the old graph."""
    model, meta = load_model(exported)
    with torch.no_grad():
        model.classifier[2].bias[0] += 1.0
    changed = tmp_path / exported.name
    new_meta = save_model(changed, model, meta)
    old_graph = graph_path(exported, meta.content_hash)
    shutil.copyfile(old_graph, graph_path(changed, new_meta.content_hash))  # a stale graph
    with pytest.raises(OnnxUnavailable, match="stale"):
        OnnxPredictor.from_model_file(changed)
    predictor = backends.screening_predictor(changed, device="cpu")
    assert isinstance(predictor, Predictor) and "stale" in predictor.note
    assert predictor.meta.content_hash == new_meta.content_hash


def test_export_replaces_the_graph_of_earlier_weights(exported: Path, tmp_path: Path) -> None:
    """Re-exporting after retraining (same file name) leaves only the current graph."""
    path = tmp_path / exported.name
    shutil.copyfile(exported, path)
    stale = path.with_name(f"{path.stem}.0123456789abcdef.onnx")
    other = path.with_name("other.0123456789abcdef.onnx")
    stale.write_bytes(b"old")
    other.write_bytes(b"another model's graph")
    graph = ensure_graph(path)
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted([graph.name, other.name])


def test_missing_graph_and_missing_onnxruntime_fall_back(
    exported: Path, tmp_path: Path, monkeypatch
) -> None:
    lone = tmp_path / "lone.safetensors"
    shutil.copyfile(exported, lone)
    predictor = backends.screening_predictor(lone, device="cpu")
    assert isinstance(predictor, Predictor) and "missing" in predictor.note
    assert isinstance(backends.screening_predictor(exported, device="cpu"), OnnxPredictor)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails: not installed
    predictor = backends.screening_predictor(exported, device="cpu")
    assert isinstance(predictor, Predictor) and "not installed" in predictor.note


def test_auto_uses_onnx_without_a_cuda_driver(exported: Path, monkeypatch) -> None:
    monkeypatch.setattr(backends, "cuda_driver_present", lambda: (False, "no driver here"))
    predictor = backends.screening_predictor(exported)
    assert isinstance(predictor, OnnxPredictor) and "no driver here" in str(predictor.choice)
    monkeypatch.setenv(backends.BACKEND_ENV, "torch")
    assert isinstance(backends.screening_predictor(exported), Predictor)


def test_export_checks_the_graph_against_torch(exported: Path, tmp_path: Path, monkeypatch) -> None:
    """A graph that does not reproduce PyTorch is never kept (and nothing half-written stays)."""
    model, meta = load_model(exported)
    graph = graph_path(exported, meta.content_hash)
    with torch.no_grad():
        model.classifier[2].bias[0] += 1.0  # the graph now belongs to other weights
    with pytest.raises(onnx_export.GraphExportError, match="disagrees"):
        onnx_export._verify(onnx_export._LogitsAndFeatures(model).eval(), meta, graph)

    def fail(*args: object) -> None:
        raise onnx_export.GraphExportError("graph disagrees with PyTorch (test)")

    monkeypatch.setattr(onnx_export, "_verify", fail)
    with pytest.raises(onnx_export.GraphExportError):
        onnx_export.export_graph(model, meta, tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_shipped_graph_matches_shipped_model() -> None:
    """resources/ ships the default model's graph; regenerate it with
    ``python -m engine.onnx_export resources/models/default.safetensors`` after retraining."""
    model_path = default_model_path()
    meta = read_meta(model_path)
    graph = graph_path(model_path, meta.content_hash)
    assert graph.is_file(), f"missing {graph.name}: run python -m engine.onnx_export {model_path}"
    predictor = OnnxPredictor(graph, meta)  # checks the recorded hash, classes, input
    model, _ = load_model(model_path)
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(model(torch.from_numpy(x)) / meta.temperature, dim=1).numpy()
    assert np.abs(predictor.predict_array(x)[0] - ref).max() < 1e-4
    leftovers = sorted(p.name for p in graph.parent.glob("*.onnx") if p != graph)
    assert leftovers == [], "stale graphs of an earlier default model"


def test_shipped_graph_agrees_with_torch_on_the_shared_photos(shared_dir: Path) -> None:
    paths = iter_image_files(shared_dir / "datasets" / "msid", recursive=True)
    assert len(paths) >= 600
    onnx = _all(
        backends.screening_predictor(default_model_path(), device="cpu", batch_size=32), paths
    )
    ref = _all(Predictor.from_file(default_model_path(), device="cpu", batch_size=32), paths)
    assert all(p.ok for p in onnx)
    assert _max_diff(onnx, ref) < 1e-4
    assert [p.top_class for p in onnx] == [p.top_class for p in ref]


def test_screen_command_never_imports_torch(tmp_path: Path, photo_folder: Path) -> None:
    """Screening on CPU runs without torch; Alembic is imported only to create/migrate the store."""
    code = (
        "import sys; from engine.cli import main; "
        f"rc = main(['screen', {str(photo_folder)!r}, '--db', {str(tmp_path / 'db.sqlite')!r}, "
        f"'--out', {str(tmp_path / 'out.csv')!r}, '-q', '--device', 'cpu']); "
        "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'alembic'}))"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout.strip() == "0 ['alembic']", runs[0].stderr  # a new store: created
    assert runs[1].stdout.strip() == "0 []", runs[1].stderr  # up to date: no migration code
    assert "ONNX Runtime" in runs[1].stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 1 + 8  # header + 8 files


def test_registering_a_model_exports_its_graph(model_file: Path, tmp_path: Path, capsys) -> None:
    from engine.cli import main

    path = tmp_path / "added.safetensors"
    shutil.copyfile(model_file, path)
    assert main(["models", "add", str(path), "--db", str(tmp_path / "db.sqlite")]) == 0
    stored = tmp_path / "db-models" / f"testmodel-{read_meta(path).content_hash[:12]}.safetensors"
    graph = graph_path(stored, read_meta(path).content_hash)  # beside the store's copy
    assert graph.is_file() and f"screening graph: {graph}" in capsys.readouterr().out
    assert isinstance(backends.screening_predictor(stored, device="cpu"), OnnxPredictor)


def test_active_model_screens_with_onnx_and_no_torch(tmp_path: Path) -> None:
    """The store's copy of the shipped default carries its graph; opening it imports no torch."""
    code = (
        "import sys; from engine.store import open_store; from engine.session import open_model; "
        f"store = open_store({str(tmp_path / 'db.sqlite')!r}); active = open_model(store, None, 'cpu'); "
        "p = active.predictor(); "
        "print(type(p).__name__, p.graph.parent == store.models_dir, p.guard is not None, "
        "'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "OnnxPredictor True True False", out.stderr


def test_store_copy_without_graph_uses_the_shipped_one(tmp_path: Path) -> None:
    """Stores that copied the default before graphs existed still screen with ONNX Runtime."""
    copy = tmp_path / "poxscreen-msid-v1-copy.safetensors"
    shutil.copyfile(default_model_path(), copy)
    predictor = backends.screening_predictor(copy, device="cpu")
    assert (
        isinstance(predictor, OnnxPredictor)
        and predictor.graph.parent == default_model_path().parent
    )


def _claim(graph_file: Path, out: Path, claims: dict[str, str]) -> None:
    """Copy a graph with some of its metadata values rewritten."""
    import onnx

    graph = onnx.load(str(graph_file))
    for prop in graph.metadata_props:
        if prop.key in claims:
            prop.value = claims[prop.key]
    onnx.save(graph, str(out))


def test_graph_of_another_model_edited_to_claim_this_one_is_refused(
    exported: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its metadata names this model's hashes; its weights are another model's."""
    model, meta = load_model(exported)
    with torch.no_grad():
        model.classifier[2].bias[0] += 0.01  # a slightly different model: its own fine-tuning
    current = tmp_path / exported.name
    new_meta = save_model(current, model, meta)
    claims = {
        HASH_KEY: new_meta.content_hash,
        WEIGHTS_KEY: new_meta.weights_hash,
        "poxscreen.version": new_meta.version,
    }
    _claim(
        graph_path(exported, meta.content_hash), graph_path(current, new_meta.content_hash), claims
    )
    with pytest.raises(OnnxUnavailable, match="does not hold this model's weights"):
        OnnxPredictor.from_model_file(current)
    with caplog.at_level("WARNING", logger="engine.backends"):
        predictor = backends.screening_predictor(current, device="cpu")
    assert isinstance(predictor, Predictor) and "exported from another model" in predictor.note
    assert "exported from another model" in caplog.text


def test_graph_records_the_weights_hash_and_it_is_checked(exported: Path, tmp_path: Path) -> None:
    meta = read_meta(exported)
    graph = graph_path(exported, meta.content_hash)
    assert (
        OnnxPredictor.from_model_file(exported)
        .session.get_modelmeta()
        .custom_metadata_map[WEIGHTS_KEY]
        == meta.weights_hash
    )
    copy = tmp_path / exported.name
    shutil.copyfile(exported, copy)
    _claim(graph, graph_path(copy, meta.content_hash), {WEIGHTS_KEY: "0" * 64})
    with pytest.raises(OnnxUnavailable, match="exported from other weights"):
        OnnxPredictor.from_model_file(copy)


def test_graph_is_not_used_for_a_model_file_whose_weights_changed(
    exported: Path, tmp_path: Path
) -> None:
    """Tensors changed under intact metadata: the graph (made from the old ones) is not run,
    and the PyTorch fallback refuses the file by its hash."""
    meta = read_meta(exported)
    copy = tmp_path / exported.name
    data = bytearray(exported.read_bytes())
    data[-8:] = bytes(b ^ 0xFF for b in data[-8:])
    copy.write_bytes(bytes(data))
    shutil.copyfile(graph_path(exported, meta.content_hash), graph_path(copy, meta.content_hash))
    with pytest.raises(OnnxUnavailable, match="do not match its metadata"):
        OnnxPredictor.from_model_file(copy)
    with pytest.raises(ModelFileError, match="content hash mismatch"):
        backends.screening_predictor(copy, device="cpu")
