"""The store's shape: a facade over repositories that share one Database, modules that keep
their private names to themselves, and no inference or thumbnail code inside the store."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import engine.store
from engine.hashes import is_hex_prefix, is_sha256
from engine.store import Store
from engine.store.care import Care
from engine.store.clinic import Clinic
from engine.store.labelling import Labels
from engine.store.model_registry import ModelRegistry
from engine.store.photos import Photos
from engine.store.promotion import Promotion
from engine.store.review import ReviewQueue
from engine.store.runs import ScreeningRuns

STORE_DIR = Path(engine.store.__file__).parent
REPOSITORIES = {
    "photos": Photos,
    "screening": ScreeningRuns,
    "review": ReviewQueue,
    "labels": Labels,
    "registry": ModelRegistry,
    "promotion": Promotion,
    "clinic": Clinic,
    "care": Care,
}
FORBIDDEN = ("engine.thumbnails", "engine.predictor", "engine.onnx_predictor", "engine.explain")


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (f"engine.store.{p.stem}", ast.parse(p.read_text(encoding="utf-8")))
        for p in sorted(STORE_DIR.glob("*.py"))
    ]


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import, also those inside functions."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
    return found


def test_the_facade_forwards_to_repositories_sharing_one_database(store: Store) -> None:
    for name, cls in REPOSITORIES.items():
        repo = getattr(store, name)
        assert isinstance(repo, cls) and repo.db is store.db
    assert store.promotion.registry is store.registry
    assert store.on_forget is store.care.on_forget


def test_every_repository_method_keeps_its_name_and_signature_on_the_facade() -> None:
    for cls in REPOSITORIES.values():
        for name, method in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") or name == "stop_heartbeats":
                continue
            assert inspect.signature(getattr(Store, name)) == inspect.signature(method), name


def test_no_store_module_imports_inference_thumbnails_or_torch() -> None:
    for module, tree in _modules():
        for imported, _names in _imports(tree):
            assert not imported.startswith(FORBIDDEN), f"{module} imports {imported}"
            assert imported.split(".")[0] != "torch", f"{module} imports torch"


def test_no_store_module_uses_another_modules_private_names() -> None:
    for module, tree in _modules():
        aliases = {}
        for imported, names in _imports(tree):
            if imported == module:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{module} imports {private} from {imported}"
            if imported == "engine.store":
                aliases.update(dict.fromkeys(names))
        for node in ast.walk(tree):
            name = getattr(getattr(node, "value", None), "id", None)
            if isinstance(node, ast.Attribute) and name in aliases and node.attr.startswith("_"):
                pytest.fail(f"{module} uses {name}.{node.attr}")


def test_one_hash_pattern() -> None:
    sha = "ab" * 32
    assert is_sha256(sha) and not is_sha256(sha.upper()) and not is_sha256(sha[:-1])
    assert is_hex_prefix(sha[:6]) and not is_hex_prefix(sha[:5]) and not is_hex_prefix("xyz123")
