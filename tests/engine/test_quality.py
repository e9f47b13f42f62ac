"""Photo-quality check: each issue is found on a photo that has it and not on one that does not;
on the shared photos the measured rates hold (<= 5% of photos, >= 90% of degraded ones)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from engine.images import load_image
from engine.quality import BLURRY, OVER_EXPOSED, TOO_DARK, TOO_SMALL, check_quality


def _skin_like(size: int = 448, seed: int = 0) -> Image.Image:
    """A sharp, mid-toned, textured picture: skin tones with small dark spots and fine grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([190 + 20 * x, 140 + 20 * y, 120 + 10 * x * y], axis=-1)
    base += rng.normal(0, 12, base.shape)
    for cx, cy in rng.uniform(0.1, 0.9, (40, 2)):
        spot = ((x - cx) ** 2 + (y - cy) ** 2) < 0.0004
        base[spot] = (120, 60, 60)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def darken(im: Image.Image) -> Image.Image:
    return Image.fromarray((np.asarray(im).astype(np.float64) / 5).astype(np.uint8))


def over_expose(im: Image.Image) -> Image.Image:
    return Image.fromarray(
        np.clip(np.asarray(im).astype(np.float64) * 2.5, 0, 255).astype(np.uint8)
    )


def blur(im: Image.Image) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(3 * min(im.size) / 224))


def test_a_good_photo_has_no_issue() -> None:
    report = check_quality(_skin_like())
    assert report.issues == () and report.text == ""


@pytest.mark.parametrize(
    ("degrade", "issue"), [(blur, BLURRY), (darken, TOO_DARK), (over_expose, OVER_EXPOSED)]
)
def test_each_degradation_is_named(degrade, issue: str) -> None:
    assert check_quality(degrade(_skin_like())).issues == (issue,)


def test_blur_is_judged_at_the_model_scale_not_the_camera_resolution() -> None:
    """The same blur relative to the photo is found on a small and on a large copy."""
    small, large = _skin_like(300), _skin_like(1200)
    assert check_quality(blur(small)).issues == (BLURRY,)
    assert check_quality(blur(large)).issues == (BLURRY,)
    assert check_quality(large).issues == ()


def test_too_small_uses_the_original_size_and_issues_join() -> None:
    im = darken(_skin_like(160))
    assert check_quality(im).text == f"{TOO_DARK};{TOO_SMALL}"
    # a reduced decode of a large photo is not "too small"
    assert TOO_SMALL not in check_quality(_skin_like(160), original_size=(4000, 3000)).issues


def test_grey_and_odd_modes_are_checked() -> None:
    assert check_quality(_skin_like().convert("L")).issues == ()


def test_rates_on_the_shared_photos(shared_dir: Path) -> None:
    paths = sorted((shared_dir / "datasets" / "msid").rglob("*.png"))
    assert len(paths) > 500
    photos = [load_image(p) for p in paths]
    flagged = np.mean([bool(check_quality(im).issues) for im in photos])
    assert flagged <= 0.05
    for degrade in (blur, darken, over_expose):
        assert np.mean([bool(check_quality(degrade(im)).issues) for im in photos]) >= 0.90


def test_screening_csv_carries_the_checks_and_refers_a_flagged_photo(
    model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    """A too-small photo is referred ("check photo") even by a rule that refers nothing."""
    import csv

    from engine.predictor import Predictor
    from engine.referral import ReferralRule
    from engine.screening import ScreeningJob

    out = tmp_path / "out.csv"
    predictor = Predictor.from_file(model_file, device="cpu")  # no guard in this file
    ScreeningJob(
        predictor,
        photo_folder,
        recursive=True,
        csv_path=out,
        referral=ReferralRule(min_confidence=0.0, mpox_above=1.0),
    ).run()
    with open(out, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if not r["error"]]
    assert len(rows) == 6
    assert {r["quality_issues"] for r in rows} == {TOO_SMALL}  # 96 x 80 px test photos
    assert {r["referral"] for r in rows} == {"true"}
    assert {r["out_of_scope"] for r in rows} == {""} and {r["scope_score"] for r in rows} == {""}
