"""Splits: near-duplicates (mirrors, re-encodes) never straddle two splits; seeded; recorded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from engine.images import load_image
from tests.trainer.synth import add_near_duplicates, make_folder, photo
from trainer.data import merge_samples, scan_image_folder
from trainer.splits import (
    Split,
    SplitError,
    extend_split,
    group_near_duplicates,
    make_split,
    near_duplicate_pairs,
    phash_pair,
)


def _hashed(root: Path):
    samples, skipped = scan_image_folder(root)
    assert not skipped
    samples, conflicts = merge_samples(samples)
    assert not conflicts
    hashes = [phash_pair(load_image(s.path)) for s in samples]
    return samples, hashes


def test_mirror_and_reencode_are_near_duplicates_but_distinct_photos_are_not() -> None:
    a, b = photo(1, "Red"), photo(2, "Red")
    mirrored = ImageOps.mirror(a)
    reencoded = a.resize((72, 72)).convert("L").convert("RGB")
    groups = group_near_duplicates([phash_pair(im) for im in (a, b, mirrored, reencoded)])
    assert groups[0] == groups[2] == groups[3]
    assert groups[1] != groups[0]


def test_split_keeps_near_duplicate_groups_together(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=18)
    copies = add_near_duplicates(root, every=2)  # 9 groups of 3 per class
    samples, hashes = _hashed(root)
    by_path = {str(s.path): s.sha256 for s in samples}
    for seed in (0, 1, 2):
        split = make_split(
            [s.sha256 for s in samples],
            [s.label for s in samples],
            hashes,
            val_fraction=0.2,
            test_fraction=0.2,
            seed=seed,
        )
        for original, dups in copies.items():
            names = {split.assignment[by_path[str(p)]] for p in [Path(original), *dups]}
            assert len(names) == 1, f"{original} and its copies straddle {names}"
        counts = split.counts()
        for name in ("train", "val", "test"):  # stratified: every class in every split
            assert set(counts[name]) == {"Blue", "Green", "Red"}, (name, counts)
        total = Counter(split.assignment.values())
        assert 0.1 < total["val"] / len(samples) < 0.3
        assert 0.1 < total["test"] / len(samples) < 0.3


def test_ungrouped_split_would_leak(tmp_path: Path) -> None:
    """Control: with grouping disabled (threshold -1) copies do land in different splits, so
    the test above is able to fail."""
    root = make_folder(tmp_path / "d", per_class=18)
    copies = add_near_duplicates(root, every=2)
    samples, hashes = _hashed(root)
    by_path = {str(s.path): s.sha256 for s in samples}
    split = make_split(
        [s.sha256 for s in samples],
        [s.label for s in samples],
        hashes,
        val_fraction=0.2,
        test_fraction=0.2,
        seed=0,
        threshold=-1,
    )
    straddling = sum(
        len({split.assignment[by_path[str(p)]] for p in [Path(o), *d]}) > 1
        for o, d in copies.items()
    )
    assert straddling > 0


def test_split_is_seeded_and_round_trips(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=12)
    samples, hashes = _hashed(root)
    args = ([s.sha256 for s in samples], [s.label for s in samples], hashes)
    a = make_split(*args, seed=3, paths=[str(s.path) for s in samples])
    b = make_split(*args, seed=3)
    c = make_split(*args, seed=4)
    assert a.assignment == b.assignment
    assert a.assignment != c.assignment
    path = a.save(tmp_path / "split.json")
    loaded = Split.load(path)
    assert loaded.assignment == a.assignment
    assert loaded.labels == a.labels
    assert loaded.hashes == a.hashes
    assert loaded.members("val") == a.members("val")


def test_extend_keeps_recorded_assignment_and_sends_copies_to_their_split(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=12)
    samples, hashes = _hashed(root)
    split = make_split([s.sha256 for s in samples], [s.label for s in samples], hashes, seed=0)
    val_sha = split.members("val")[0]
    val_hash = split.hashes[val_sha]
    new_image = photo(999_999, "Red")
    # a mirror image of a validation photo, and a brand-new photo
    val_path = next(s.path for s in samples if s.sha256 == val_sha)
    mirror = ImageOps.mirror(Image.open(val_path).convert("RGB"))
    new = [
        ("m" * 64, split.labels[val_sha], phash_pair(mirror)),
        ("n" * 64, "Red", phash_pair(new_image)),
    ]
    extended, added = extend_split(
        split, [n[0] for n in new], [n[1] for n in new], [n[2] for n in new]
    )
    assert all(extended.assignment[s] == split.assignment[s] for s in split.assignment)
    assert extended.assignment["m" * 64] == "val"
    assert extended.assignment["n" * 64] == "train"
    assert added == {"val": 1, "train": 1}
    assert val_hash == extended.hashes[val_sha]


def test_bad_split_requests_are_typed_errors() -> None:
    with pytest.raises(SplitError, match="at least 3"):
        make_split(["a", "b"], ["x", "y"], [(0, 0), (1, 1)])
    with pytest.raises(SplitError, match="fractions"):
        make_split(
            ["a", "b", "c"], ["x", "y", "x"], [(0, 0)] * 3, val_fraction=0.9, test_fraction=0.2
        )


def test_unreadable_split_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "split.json"
    bad.write_text("{not json")
    with pytest.raises(SplitError, match="split.json"):
        Split.load(bad)


def test_too_few_distinct_photos_is_a_clear_error(tmp_path: Path) -> None:
    one = phash_pair(photo(5, "Red"))
    with pytest.raises(SplitError, match="distinct photo"):
        make_split(["a", "b", "c"], ["Red", "Red", "Blue"], [one, one, one])
    few = [phash_pair(photo(i, "Red")) for i in range(4)]  # fewer groups than folds: still splits
    split = make_split(["a", "b", "c", "d"], ["Red", "Red", "Blue", "Blue"], few, val_fraction=0.15)
    assert 1 <= len(split.members("val")) <= 2


def test_split_command_records_a_three_way_split(tmp_path: Path, capsys) -> None:
    from trainer.cli import main

    root = make_folder(tmp_path / "d", per_class=10)
    assert main(["split", str(root), "--out", str(tmp_path / "s.json"), "--seed", "1"]) == 0
    split = Split.load(tmp_path / "s.json")
    assert {n: sum(c.values()) for n, c in split.counts().items()}["test"] >= 3
    assert sum(len(split.members(n)) for n in ("train", "val", "test")) == 30


def test_mirror_near_duplicates_are_found_in_both_directions() -> None:
    """h1 is 1 bit from m0 but far from h0 and from m1: only the h_j ~ m_i check sees it."""
    full = (1 << 64) - 1
    hashes = [(0, full), (full ^ 1, 0xFFFFFFFF00000000)]
    assert near_duplicate_pairs(hashes, threshold=10) == [(0, 1)]
    assert near_duplicate_pairs(list(reversed(hashes)), threshold=10) == [(0, 1)]


def test_new_photo_linking_train_and_val_groups_is_set_aside() -> None:
    far = 0xFFFFFFFF00000000
    split = Split(
        assignment={"t" * 64: "train", "v" * 64: "val"},
        labels={"t" * 64: "Red", "v" * 64: "Red"},
        hashes={"t" * 64: (0, far), "v" * 64: (0xFFFFF, far)},  # 20 bits apart: two groups
        groups={"t" * 64: 0, "v" * 64: 1},
    )
    bridge = (0x3FF, far)  # 10 bits from each: joins both groups
    extended, added = extend_split(split, ["b" * 64], ["Red"], [bridge])
    assert "b" * 64 not in extended.assignment
    assert added == {"aside": 1}
    assert extended.assignment == split.assignment
