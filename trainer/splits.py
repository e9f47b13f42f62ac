"""Leak-free train/validation/test splits: near-duplicate photos always land in the same split.

Web-scraped and clinic photo sets hold re-encodes, resizes and mirror images of the same photo;
if one copy trains and the other validates, validation accuracy is inflated. Photos are grouped
by perceptual hash (pHash, ``imagehash``) of the image *and* of its mirror image, joined when
within a Hamming distance, and whole groups are assigned to splits with scikit-learn's
``StratifiedGroupKFold`` (stratified by class, seeded).

The split is saved as JSON listing each image's SHA-256 per split, so the validation images used
to compare an old and a new model are fixed and recorded. New images added later extend an
existing split: they train, unless they are a near-duplicate of a recorded validation/test image,
in which case they join that image's split.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
from PIL import Image, ImageOps
from sklearn.model_selection import StratifiedGroupKFold

from engine.atomic import atomic_write_text
from engine.recipe import RECIPE

log = logging.getLogger(__name__)

SPLIT_FORMAT = "poxscreen-split"
SPLIT_NAMES = ("train", "val", "gate", "test")
"""``gate``: the images the promotion gate compares old and new model on; neither early stopping
nor the temperature fit (both on ``val``) sees them, so the comparison stays fair."""
#: Hamming distance (of 64 bits) at or below which two photos count as the same photo. Measured on
#: MSID: re-encodes and mirrors score 0-6, a slightly re-cropped copy (measles28~43) 10; unrelated
#: photos average ~32 and only 2 of ~183,000 unrelated pairs score <= 10. A false merge only
#: constrains the split, a missed one leaks, so the threshold errs high.
DEFAULT_THRESHOLD = RECIPE.hash_threshold


class SplitError(Exception):
    """A split that cannot be made or read, with the reason."""


def phash_pair(image: Image.Image) -> tuple[int, int]:
    """64-bit pHash of ``image`` and of its horizontal mirror, as integers."""
    h = imagehash.phash(image)
    m = imagehash.phash(ImageOps.mirror(image))
    return int(str(h), 16), int(str(m), 16)


def _popcount(x: np.ndarray) -> np.ndarray:
    return (
        np.bitwise_count(x)
        if hasattr(np, "bitwise_count")
        else np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1)
    )


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def near_duplicate_pairs(
    hashes: Sequence[tuple[int, int]], threshold: int = DEFAULT_THRESHOLD, block: int = 1024
) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose photos are within ``threshold`` bits, mirror images included.

    Compares image hash to image hash, and image hash to mirror hash in *both* directions: the
    pHash of a mirror image is not an exact bit permutation of the photo's, so ``h_i ~ m_j`` and
    ``h_j ~ m_i`` can disagree (checking one only let mirrored pairs straddle a split).
    Vectorised in row blocks: O(n^2) bit counts, fine for tens of thousands of photos.
    """
    if not hashes:
        return []
    h = np.array([p[0] for p in hashes], dtype=np.uint64)
    m = np.array([p[1] for p in hashes], dtype=np.uint64)
    found: set[tuple[int, int]] = set()  # row i vs mirror j here, row j vs mirror i at (j, i)
    for start in range(0, len(h), block):
        rows = slice(start, start + block)
        direct = _popcount(h[rows, None] ^ h[None, :])
        mirror = _popcount(h[rows, None] ^ m[None, :])
        close = np.minimum(direct, mirror) <= threshold
        ii, jj = np.nonzero(close)
        ii = ii + start
        keep = ii != jj
        found.update(
            (min(a, b), max(a, b))
            for a, b in zip(ii[keep].tolist(), jj[keep].tolist(), strict=True)
        )
    return sorted(found)


def group_near_duplicates(
    hashes: Sequence[tuple[int, int]], threshold: int = DEFAULT_THRESHOLD
) -> list[int]:
    """Group id per photo: photos linked by any chain of near-duplicate pairs share a group."""
    uf = _UnionFind(len(hashes))
    for i, j in near_duplicate_pairs(hashes, threshold):
        uf.union(i, j)
    roots = [uf.find(i) for i in range(len(hashes))]
    ids: dict[int, int] = {}
    return [ids.setdefault(r, len(ids)) for r in roots]


def _one_fold(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of one stratified group fold holding about ``fraction`` of the photos."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise SplitError(
            f"only {n_groups} distinct photo(s) after grouping near-duplicates: cannot hold any "
            "out for validation; label more photos"
        )
    largest_class = int(np.unique(labels, return_counts=True)[1].max())
    n_splits = min(max(2, round(1.0 / fraction)), n_groups, max(2, largest_class))
    with warnings.catch_warnings():  # "least populated class has only k members": fine, small data
        warnings.simplefilter("ignore", UserWarning)
        sgkf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        try:
            _, held = next(iter(sgkf.split(np.zeros(len(labels)), labels, groups)))
        except ValueError as exc:  # too few photos per class for any fold
            raise SplitError(f"too few labelled photos to split ({exc}); label more") from exc
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return mask


@dataclass
class Split:
    """A recorded assignment of images (by SHA-256) to train/val/test."""

    assignment: dict[str, str]  # sha256 -> "train" | "val" | "test"
    labels: dict[str, str]  # sha256 -> class name at split time
    hashes: dict[str, tuple[int, int]] = field(default_factory=dict)  # sha256 -> (phash, mirror)
    groups: dict[str, int] = field(default_factory=dict)  # sha256 -> near-duplicate group id
    seed: int = 0
    threshold: int = DEFAULT_THRESHOLD
    fractions: dict[str, float] = field(default_factory=dict)
    created_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    paths: dict[str, str] = field(default_factory=dict)  # sha256 -> a path, for people reading it

    def members(self, name: str) -> list[str]:
        """SHA-256 of the images in split ``name``, sorted."""
        return sorted(s for s, n in self.assignment.items() if n == name)

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per split per class."""
        out: dict[str, dict[str, int]] = {n: {} for n in SPLIT_NAMES}
        for sha, name in self.assignment.items():
            c = out[name]
            c[self.labels[sha]] = c.get(self.labels[sha], 0) + 1
        return {n: dict(sorted(c.items())) for n, c in out.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SPLIT_FORMAT,
            "version": 1,
            "seed": self.seed,
            "threshold": self.threshold,
            "fractions": self.fractions,
            "created_at": self.created_at,
            "counts": self.counts(),
            "splits": {
                name: [
                    {
                        "sha256": s,
                        "label": self.labels[s],
                        "group": self.groups.get(s),
                        "phash": _hex(self.hashes.get(s)),
                        "path": self.paths.get(s),
                    }
                    for s in self.members(name)
                ]
                for name in SPLIT_NAMES
            },
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temp file + rename): a kill never leaves half a split file."""
        return atomic_write_text(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Split:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != SPLIT_FORMAT:
                raise ValueError(f"not a split file (format {data.get('format')!r})")
            split = cls(
                assignment={},
                labels={},
                seed=int(data.get("seed", 0)),
                threshold=int(data.get("threshold", DEFAULT_THRESHOLD)),
                fractions=dict(data.get("fractions", {})),
                created_at=str(data.get("created_at", "")),
            )
            for name in SPLIT_NAMES:
                for row in data["splits"].get(name, []):
                    sha = str(row["sha256"])
                    split.assignment[sha] = name
                    split.labels[sha] = str(row["label"])
                    if row.get("group") is not None:
                        split.groups[sha] = int(row["group"])
                    if row.get("phash"):
                        split.hashes[sha] = _unhex(row["phash"])
                    if row.get("path"):
                        split.paths[sha] = str(row["path"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SplitError(f"{path}: cannot read split ({exc})") from exc
        return split


def _hex(pair: tuple[int, int] | None) -> str | None:
    return None if pair is None else f"{pair[0]:016x}:{pair[1]:016x}"


def _unhex(text: str) -> tuple[int, int]:
    a, b = text.split(":")
    return int(a, 16), int(b, 16)


def make_split(
    shas: Sequence[str],
    labels: Sequence[str],
    hashes: Sequence[tuple[int, int]],
    *,
    val_fraction: float = RECIPE.val_fraction,
    test_fraction: float = RECIPE.test_fraction,
    seed: int = RECIPE.seed,
    threshold: int = DEFAULT_THRESHOLD,
    paths: Sequence[str] | None = None,
    gate_fraction: float = 0.0,
) -> Split:
    """Assign images to train/val/test, keeping near-duplicate groups together, per class.

    Fractions are approximate: each held-out part is one fold of ``StratifiedGroupKFold`` with
    ``round(1 / fraction)`` folds (test first, then the gate slice, then val out of the rest).
    """
    n = len(shas)
    _check_split_inputs(shas, labels, hashes, val_fraction, test_fraction, gate_fraction)
    group_ids = np.array(group_near_duplicates(hashes, threshold))
    y = np.array(labels)
    names = np.full(n, "train", dtype=object)
    rest = np.arange(n)
    if test_fraction > 0:
        test = _one_fold(y, group_ids, test_fraction, seed)
        names[test] = "test"
        rest = np.nonzero(~test)[0]
    if gate_fraction > 0:
        gate = _one_fold(y[rest], group_ids[rest], gate_fraction / (1.0 - test_fraction), seed + 2)
        names[rest[gate]] = "gate"
        rest = rest[~gate]
    val_rel = val_fraction / (1.0 - test_fraction - gate_fraction)
    val = _one_fold(y[rest], group_ids[rest], min(val_rel, 0.5), seed + 1)
    names[rest[val]] = "val"
    _warn_group_label_mix(group_ids, y, shas)
    split = Split(
        assignment=dict(zip(shas, names.tolist(), strict=True)),
        labels=dict(zip(shas, labels, strict=True)),
        hashes=dict(zip(shas, hashes, strict=True)),
        groups=dict(zip(shas, group_ids.tolist(), strict=True)),
        seed=seed,
        threshold=threshold,
        fractions={"val": val_fraction, "gate": gate_fraction, "test": test_fraction},
        paths=dict(zip(shas, paths, strict=True)) if paths is not None else {},
    )
    missing = [c for c in sorted(set(labels)) if c not in split.counts()["val"]]
    if missing:
        log.warning("validation split has no images of %s (too few groups)", missing)
    return split


def _check_split_inputs(
    shas: Sequence[str],
    labels: Sequence[str],
    hashes: Sequence[tuple[int, int]],
    val_fraction: float,
    test_fraction: float,
    gate_fraction: float,
) -> None:
    """Refuse inputs that cannot make a sound split, before any grouping work is done."""
    n = len(shas)
    if not (len(labels) == len(hashes) == n):
        raise SplitError("shas, labels and hashes must have the same length")
    if len(set(shas)) != n:
        raise SplitError("duplicate SHA-256 values: deduplicate samples before splitting")
    held = val_fraction + test_fraction + gate_fraction
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or not 0 <= gate_fraction < 1:
        raise SplitError(
            f"bad fractions val={val_fraction} gate={gate_fraction} test={test_fraction}"
        )
    if held >= 1:
        raise SplitError(f"val, gate and test fractions add up to {held:g}: nothing left to train")
    if n < 3:
        raise SplitError(f"need at least 3 images to split, got {n}")


def _warn_group_label_mix(groups: np.ndarray, y: np.ndarray, shas: Sequence[str]) -> None:
    by_group: dict[int, set[str]] = {}
    for g, label in zip(groups.tolist(), y.tolist(), strict=True):
        by_group.setdefault(g, set()).add(label)
    mixed = [g for g, s in by_group.items() if len(s) > 1]
    if mixed:
        log.warning(
            "%d near-duplicate groups mix labels (same photo, different classes?)", len(mixed)
        )


def extend_split(
    split: Split,
    shas: Sequence[str],
    labels: Sequence[str],
    hashes: Sequence[tuple[int, int]],
    paths: Sequence[str] | None = None,
) -> tuple[Split, Counter[str]]:
    """Add images unknown to ``split``: near-duplicates of a recorded image join its split;
    the rest go to train. Recorded assignments never change, so validation stays comparable.
    A new photo that links recorded images of *different* splits (a training group and a
    validation group) is set aside -- in no split -- since wherever it went it would leak.

    Returns the extended split and how many new images went to each split (``"aside"``: set
    aside).
    """
    out = Split(
        assignment=dict(split.assignment),
        labels=dict(split.labels),
        hashes=dict(split.hashes),
        groups=dict(split.groups),
        seed=split.seed,
        threshold=split.threshold,
        fractions=dict(split.fractions),
        created_at=split.created_at,
        paths=dict(split.paths),
    )
    added: Counter[str] = Counter()
    new = [i for i, s in enumerate(shas) if s not in split.assignment]
    if not new:
        return out, added
    known = [s for s in split.assignment if s in split.hashes]
    all_hashes = [split.hashes[s] for s in known] + [hashes[i] for i in new]
    uf = _UnionFind(len(all_hashes))
    for a, b in near_duplicate_pairs(all_hashes, split.threshold):
        uf.union(a, b)
    root_splits: dict[int, set[str]] = {}
    root_group: dict[int, int] = {}
    for k, sha in enumerate(known):
        r = uf.find(k)
        root_splits.setdefault(r, set()).add(split.assignment[sha])
        if sha in split.groups:
            root_group.setdefault(r, split.groups[sha])
    next_group = max(split.groups.values(), default=-1) + 1
    for offset, i in enumerate(new):
        r = uf.find(len(known) + offset)
        names = root_splits.get(r, {"train"})
        if len(names) > 1:
            added["aside"] += 1
            log.warning("%s links images of the %s splits: set aside", shas[i][:12], sorted(names))
            continue
        (name,) = names
        out.assignment[shas[i]] = name
        out.labels[shas[i]] = labels[i]
        out.hashes[shas[i]] = hashes[i]
        out.groups[shas[i]] = root_group.get(r, next_group + r)
        if paths is not None:
            out.paths[shas[i]] = paths[i]
        added[name] += 1
    return out, added
