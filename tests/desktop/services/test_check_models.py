"""The app's "Check the case store" also finds a registered model file that no longer holds the
weights it was registered with (as ``poxscreen check`` does)."""

from __future__ import annotations

import shutil
from pathlib import Path

from desktop.services.store import Store, check_store
from tests.engine.factories import save_test_model


def test_check_store_names_a_model_file_with_other_weights(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine.safetensors", tmp_path / "other.safetensors"
    save_test_model(mine, seed=0, name="mine", trained=True)
    save_test_model(other, seed=1, name="mine", trained=True)
    with Store.open(tmp_path / "store.db") as store:
        info = store.add_model_file(mine, activate=True)
        assert check_store(store) == []
        shutil.copyfile(other, info.path)
        (problem,) = check_store(store)
    assert problem.startswith(f"model {info.version}: {info.path}: holds other weights")
