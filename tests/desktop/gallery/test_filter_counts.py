"""Each "Show" filter carries its number of photos, kept up to date as labels are saved, as a
new screening adds photos and as another run is chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.desktop.conftest import N_GOOD, wait_screening
from tests.desktop.review_support import skin_photo


def _counts(w: Any) -> dict[str, str]:
    return w.filters.counts()


def test_filters_show_their_counts_and_follow_labels_runs_and_screenings(
    screened_window: Any, qtbot: Any, tmp_path: Path
) -> None:
    w = screened_window
    qtbot.waitUntil(lambda: _counts(w)["to_review"] == f"To review ({N_GOOD})", timeout=10_000)
    assert _counts(w)["all"] == f"All images ({N_GOOD})"
    assert _counts(w)["reviewed"] == "Reviewed (0)"
    w.gallery.select_row(0)
    with qtbot.waitSignal(w.review.labelled, timeout=20_000):
        w.review.label_current("Measles")
    qtbot.waitUntil(lambda: _counts(w)["to_review"] == f"To review ({N_GOOD - 1})", timeout=10_000)
    assert _counts(w)["reviewed"] == "Reviewed (1)"
    first_run = w.filters.query().run_id  # "All runs"
    assert first_run is None
    more = tmp_path / "more"
    more.mkdir()
    for seed in range(3):
        skin_photo(more / f"new{seed}.png", seed=100 + seed)
    w.screen_folder(str(more))
    wait_screening(qtbot, w)
    qtbot.waitUntil(lambda: _counts(w)["all"] == f"All images ({N_GOOD + 3})", timeout=10_000)
    assert _counts(w)["to_review"] == f"To review ({N_GOOD + 2})"
    qtbot.waitUntil(lambda: w.filters.runs.count() == 3, timeout=10_000)  # All runs + two
    newest = max(w.filters._runs)
    w.filters.select_run(newest)
    qtbot.waitUntil(lambda: _counts(w)["all"] == "All images (3)", timeout=10_000)
    assert _counts(w)["reviewed"] == "Reviewed (0)"
