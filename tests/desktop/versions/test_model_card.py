"""The model card reads as a document: tables and rounded figures, never raw JSON."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from PySide6.QtWidgets import QTextBrowser

from desktop.services.versions import model_card

CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]


def _info() -> Any:
    meta = {
        "description": "Fine-tuned on the clinic's labels",
        "created_at": "2026-12-07T10:31:12.123456",
        "classes": CLASSES,
        "trained": True,
        "temperature": 1.2345678901234567,
        "training": {
            "split_counts": {
                "train": {"Chickenpox": 12, "Measles": 9, "Monkeypox": 30, "Normal": 20},
                "val": {"Chickenpox": 3, "Measles": 2, "Monkeypox": 7, "Normal": 5},
            }
        },
    }
    metrics = {"val": {"accuracy": 0.8823529411764706, "macro_f1": 0.861234, "ece": 0.0412,
                       "n": 17}}  # fmt: skip
    return SimpleNamespace(version="finetune-20261207@abc", meta=meta, metrics=metrics,
                           created_at="2026-12-07", parent_hash="ab" * 32)  # fmt: skip


def test_the_card_has_tables_and_rounded_figures(qtbot: Any) -> None:
    card = model_card(_info())
    assert "{" not in card and "1.2345678" not in card and "0.88235" not in card
    assert "| Calibration temperature | 1.235 |" in card
    assert "| train | 12 | 9 | 30 | 20 | 71 |" in card
    assert "| val | 0.882 | 0.861 | 0.041 | 17 |" in card
    assert "2026-12-07 10:31" in card and "10:31:12.12" not in card
    view = QTextBrowser()
    qtbot.addWidget(view)
    view.setMarkdown(card)
    html = view.toHtml()
    assert html.count("<table") == 3  # summary, data per split, metrics
    text = view.toPlainText()
    assert "Chickenpox" in text and "1.235" in text and "{" not in text


def test_a_card_without_training_record_or_metrics_still_reads(qtbot: Any) -> None:
    info = SimpleNamespace(version="shipped@1", meta={"classes": CLASSES}, metrics={},
                           created_at="", parent_hash=None)  # fmt: skip
    card = model_card(info)
    assert "| Parent | none |" in card and "| Calibration temperature | - |" in card
    assert "## Metrics" not in card and "## Data" not in card
