"""Getting a run's data ready: gather samples, decode once, split without leaks, build datasets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from engine.checkpoint import ModelMeta
from engine.recipe import RECIPE
from trainer.data import (
    DataError,
    Decoded,
    EvalDataset,
    Sample,
    Skipped,
    TrainDataset,
    cache_size_for,
    class_counts,
    decode_samples,
    merge_samples,
    scan_image_folder,
    train_transform,
)
from trainer.progress import Reporter, StopControl
from trainer.splits import SPLIT_NAMES, Split, extend_split, make_split, phash_pair


@dataclass
class SplitRequest:
    """How to split: a recorded file to reuse (and extend) or create, else fractions and seed."""

    record: Path | None
    val_fraction: float
    test_fraction: float
    seed: int
    threshold: int
    gate_fraction: float = 0.0


@dataclass
class Prepared:
    """Everything the fit and the evaluation need about the data of one run."""

    classes: list[str]
    split: Split
    record: Path | None
    added: dict[str, int]
    parts: dict[str, list[Decoded]]
    train_set: TrainDataset
    val_loader: DataLoader[Any]
    skipped: list[Skipped]
    per_source: dict[str, int]
    counts: dict[str, list[int]] = field(default_factory=dict)

    def samples(self, name: str) -> list[Sample]:
        return [d.sample for d in self.parts[name]]


def gather(
    data_dirs: list[Path], store: Any, classes: list[str] | None, lab_only: bool = False
) -> tuple[list[Sample], list[Skipped], dict[str, int]]:
    """All labelled samples from folders and the store (when given), deduplicated by content;
    ``lab_only``: the store's photos of lab-confirmed visits only."""
    groups: list[list[Sample]] = []
    skipped: list[Skipped] = []
    per_source: dict[str, int] = {}
    for d in data_dirs:
        found, bad = scan_image_folder(d)
        if classes is not None:
            bad += [
                Skipped(str(s.path), f"class {s.label!r} not selected")
                for s in found
                if s.label not in classes
            ]
            found = [s for s in found if s.label in classes]
        groups.append(found)
        skipped += bad
        per_source[str(d)] = len(found)
    if store is not None:
        from trainer.sources import store_samples

        found, bad = store_samples(store, classes, lab_only)
        groups.append(found)
        skipped += bad
        per_source["store"] = len(found)
    samples, conflicts = merge_samples(*groups)
    return samples, skipped + conflicts, per_source


def split_decoded(
    decoded: list[Decoded], request: SplitRequest, reporter: Reporter
) -> tuple[Split, dict[str, int]]:
    """Reuse (and extend) the recorded split when it exists; else make a new one."""
    shas = [d.sample.sha256 for d in decoded]
    labels = [d.sample.label for d in decoded]
    hashes = [d.hashes for d in decoded]
    paths = [str(d.sample.path) for d in decoded]
    if request.record is not None and request.record.exists():
        split, added = extend_split(Split.load(request.record), shas, labels, hashes, paths)
        reporter.emit(
            "stage",
            stage="split",
            message=f"reusing recorded split {request.record}",
            added=dict(added),
        )
        return split, dict(added)
    split = make_split(
        shas,
        labels,
        hashes,
        val_fraction=request.val_fraction,
        gate_fraction=request.gate_fraction,
        test_fraction=request.test_fraction,
        seed=request.seed,
        threshold=request.threshold,
        paths=paths,
    )
    reporter.emit(
        "stage", stage="split", message="new grouped, stratified split", counts=split.counts()
    )
    return split, {}


def prepare(
    samples: list[Sample],
    skipped: list[Skipped],
    per_source: dict[str, int],
    meta: ModelMeta,
    request: SplitRequest,
    run_dir: Path,
    reporter: Reporter,
    *,
    stop: StopControl | None = None,
    augment: bool = True,
    augmentation: str = "standard",
    eval_batch: int = RECIPE.batch_size,
) -> Prepared:
    """Decode every sample once, split, record the split, and build the datasets."""
    classes = list(meta.classes)
    unknown = sorted({s.label for s in samples} - set(classes))
    if unknown:
        raise DataError(f"labels {unknown} are not classes of the start model {classes}")
    reporter.emit(
        "stage",
        stage="decode",
        message=f"decoding {len(samples)} images",
        done=0,
        total=len(samples),
    )

    def progress(i: int, n: int) -> None:
        if stop is not None:
            stop.check("while decoding images")
        if i % 50 == 0 or i == n:
            reporter.emit("stage", stage="decode", done=i, total=n)

    decoded, bad = decode_samples(samples, cache_size_for(meta), phash_pair, progress)
    split, added = split_decoded(decoded, request, reporter)
    split.save(run_dir / "split.json")
    if request.record is not None and (added or not request.record.exists()):
        split.save(request.record)  # a recorded split is rewritten only when it grew
    parts = _split_parts(decoded, split)
    index = {c: i for i, c in enumerate(classes)}
    train_set = TrainDataset(parts["train"], index, train_transform(meta, augment, augmentation))
    val_set = EvalDataset([d.sample for d in parts["val"]], index, meta, cache=True)
    counts = {
        n: class_counts([index[d.sample.label] for d in p], len(classes)) for n, p in parts.items()
    }
    return Prepared(
        classes=classes,
        split=split,
        record=request.record,
        added=added,
        parts=parts,
        train_set=train_set,
        val_loader=DataLoader(val_set, batch_size=eval_batch),
        skipped=skipped + bad,
        per_source=per_source,
        counts=counts,
    )


def _split_parts(decoded: list[Decoded], split: Split) -> dict[str, list[Decoded]]:
    """The decoded images of each part; training needs both a train and a validation part."""
    parts = {
        name: [d for d in decoded if split.assignment.get(d.sample.sha256) == name]
        for name in SPLIT_NAMES
    }
    if not parts["train"] or not parts["val"]:
        raise DataError(
            f"the split left {len(parts['train'])} training and {len(parts['val'])} validation "
            "images; label more images"
        )
    return parts
