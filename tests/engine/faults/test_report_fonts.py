"""CJK file names, notes and clinic names in the PDF report are drawn with a font that has their
glyphs, or, on a computer without one, as readable ``\\u4e2d`` escapes: never as empty boxes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from engine.report import ReportOptions, write_report
from engine.report import styles as report_styles
from engine.store import Store

NAME = "中文照片_発疹.jpg"


def _forget_fallback() -> None:
    found = getattr(report_styles, "fallback_font", None)
    if found is not None:
        found.cache_clear()


@pytest.fixture
def fresh_fonts() -> Iterator[None]:
    _forget_fallback()
    yield
    _forget_fallback()


def _report(tmp_path: Path) -> tuple[str, set[str]]:
    """The report's text and the names of the fonts it embeds, for a run with a CJK name."""
    from tests.engine.store.conftest import fake_result

    with Store.open(tmp_path / "case.db") as store:
        run = store.begin_run("/photos", {}, "a" * 64, model_meta={"classes": ["Measles"]})
        store.record_results(run, [fake_result(1, path=f"/photos/{NAME}")])
        out = tmp_path / "r.pdf"
        opts = ReportOptions(gradcam=False, device="cpu", clinic="東京クリニック")
        write_report(store, out, run, options=opts)
    reader = PdfReader(out)
    text = " ".join(re.sub(r"\s+", " ", p.extract_text() or "") for p in reader.pages)
    fonts = {
        str(f.get_object()["/BaseFont"])
        for page in reader.pages
        for f in (page["/Resources"].get("/Font") or {}).values()
    }
    return text, fonts


def test_without_a_cjk_font_names_print_as_escapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_fonts: None
) -> None:
    monkeypatch.setattr(report_styles, "CJK_FONT_CANDIDATES", (), raising=False)
    monkeypatch.delenv("POXSCREEN_REPORT_FONT", raising=False)
    text, _ = _report(tmp_path)
    assert "\\u4e2d\\u6587\\u7167\\u7247_\\u767a\\u75b9.jpg" in text  # 中文照片_発疹
    assert "\\u6771\\u4eac" in text  # the clinic in the footer
    assert "中" not in text and "東" not in text  # no character drawn as an empty box


def test_a_cjk_font_draws_the_names(tmp_path: Path, fresh_fonts: None) -> None:
    found = report_styles.fallback_font()
    if found is None:
        pytest.skip("no CJK TrueType font on this computer (e.g. apt install fonts-droid-fallback)")
    text, fonts = _report(tmp_path)
    assert NAME in text and "東京クリニック" in text and "\\u" not in text
    stem = Path(found[0]).stem.split("-")[0].lower()
    assert any(stem[:8] in name.lower() for name in fonts), fonts  # embedded, subset
