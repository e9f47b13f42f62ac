"""Trainer fixtures: generated photo folders whose class is learnable, a case store with an
untrained active model, and one real (short) training run shared by several tests."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.synth import make_folder, save_start_model
from trainer.fit import FitConfig
from trainer.progress import Reporter, parse_line
from trainer.train import TrainOptions, run_training


def quick_options(data: Path, out: Path, **changes: Any) -> TrainOptions:
    """Small, fast settings: 64 px input, ImageNet start, lr 1e-3, CPU."""
    fit = FitConfig(
        epochs=changes.pop("epochs", 3),
        batch_size=16,
        lr=changes.pop("lr", 1e-3),
        patience=5,
        seed=changes.pop("seed", 0),
    )
    base: dict[str, Any] = dict(
        data_dirs=[data],
        out=out,
        init="imagenet",
        input_size=64,
        val_fraction=0.25,
        gate_fraction=changes.pop("gate_fraction", 0.0),
        device="cpu",
        register=False,
        fit=fit,
    )
    base.update(changes)
    return TrainOptions(**base)


class RecordingReporter(Reporter):
    """Keeps the progress lines in memory (no terminal bar) and parses them back."""

    def __init__(self) -> None:
        super().__init__(stream=io.StringIO(), bar=False, step_interval_s=0.0)

    def events(self) -> list[dict[str, Any]]:
        lines = self.stream.getvalue().splitlines()  # type: ignore[attr-defined]
        return [e for e in (parse_line(line) for line in lines) if e is not None]


@dataclass
class TrainedRun:
    data: Path
    db: Path
    untrained: Path
    untrained_hash: str
    report: dict[str, Any]
    events: list[dict[str, Any]]
    options: TrainOptions


def open_test_store(db: Path) -> Any:
    from engine.store import Store

    return Store.open(db)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """30 photos per class, a store whose active model is the untrained ImageNet start, and one
    3-epoch run registered into it (the gate, on 36 held-out gate photos, should activate it)."""
    root = tmp_path_factory.mktemp("trained")
    data = make_folder(root / "data", per_class=30)
    untrained = root / "untrained.safetensors"
    meta = save_start_model(untrained, input_size=64)
    db = root / "store.db"
    with open_test_store(db) as store:
        store.register_model(
            meta.content_hash,
            name=meta.name,
            path=untrained,
            meta={"classes": meta.classes},
            activate=True,
        )
    opts = quick_options(
        data, root / "run", register=True, db=str(db), init="imagenet", gate_fraction=0.4
    )
    reporter = RecordingReporter()
    report = run_training(opts, reporter)
    return TrainedRun(data, db, untrained, meta.content_hash, report, reporter.events(), opts)
