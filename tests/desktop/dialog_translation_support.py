"""What a window shows, collected for the translation tests: every visible text of a widget
tree (window title, labels, buttons, group titles, tooltips, placeholders, combo items, table
headers, chart titles, axes and legends), and what in it is still English in French."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
#: Names and terms that read the same in French (checked word by word, lower case).
ALLOWED = {"poxscreen", "grad", "cam", "mpox", "sha", "onnx", "cpu", "cuda", "mcc", "ece", "nll",
           "macro", "f1", "csv", "pdf", "pcr", "mpxv", "imagenet", "pytorch", "utc", "kappa"}  # fmt: skip
#: Words that are English and not French: one in a French window is a string left untranslated.
_ENGLISH_WORDS = (
    "the of and with to is are for from by into at as it its this that these was were be been "
    "model models training trained labels label labelled class folder folders "
    "run runs step steps epoch epochs loss accuracy none yes no not new start stop close save "
    "open choose select show print settings advanced data clinician clinicians visit "
    "visits result results decision split agreed disagreed name "
    "created metric better worse promote discard keep later device batch "
    "frozen learning seed weight decay schedule balancing size threads early stopping "
    "cancel remove add report who what when workstation object details since everything "
    "any referred referral recorded pending lab saving writing "
    "reading checks check held out gate overall recall per reliability"
)
ENGLISH = set(_ENGLISH_WORDS.split())


@contextmanager
def french() -> Iterator[None]:
    """French for the block (PoxScreen's text, Qt's buttons, numbers in spin boxes), English
    again after it (whatever happens)."""
    from desktop.services.i18n import apply_language

    apply_language("fr")
    try:
        yield
    finally:
        apply_language("en")


@cache
def french_catalogue() -> dict[str, str]:
    """msgid -> French (singular forms; plural msgids by their singular and plural)."""
    with (ROOT / "resources/locale/fr/LC_MESSAGES/poxscreen.po").open("rb") as f:
        catalog = read_po(f, locale="fr")
    found: dict[str, str] = {}
    for m in catalog:
        if isinstance(m.id, (list, tuple)):
            found.update(zip(m.id, m.string, strict=False))
        elif m.id:
            found[m.id] = m.string
    return found


def _plain(text: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text).replace("&nbsp;", " ")
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip()


def _table_headers(widget: Any) -> list[str]:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTableView

    if not isinstance(widget, QTableView) or widget.model() is None:
        return []
    model = widget.model()
    return [
        str(model.headerData(c, Qt.Orientation.Horizontal) or "")
        for c in range(model.columnCount())
    ]


def _plot_texts(widget: Any) -> list[str]:
    import pyqtgraph as pg

    if not isinstance(widget, pg.PlotWidget):
        return []
    item = widget.getPlotItem()
    texts = [item.titleLabel.text or ""]
    texts += [item.getAxis(side).labelText or "" for side in ("left", "bottom")]
    if item.legend is not None:
        texts += [label.text for _sample, label in item.legend.items]
    return texts


def visible_texts(root: Any, skip: tuple[Any, ...] = ()) -> list[str]:
    """Every text ``root`` and its children show (HTML tags and mnemonics taken out), but for
    the widgets in ``skip`` and theirs (made by another part of the app)."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QGroupBox,
        QLabel,
        QLineEdit,
        QWidget,
    )

    texts = [root.windowTitle()]
    skipped = {id(w) for s in skip for w in [s, *s.findChildren(QWidget)]}
    for w in [root, *root.findChildren(QWidget)]:
        if id(w) in skipped:
            continue
        texts.append(w.toolTip())
        if isinstance(w, (QLabel, QAbstractButton)):
            texts.append(w.text())
        elif isinstance(w, QGroupBox):
            texts.append(w.title())
        elif isinstance(w, QLineEdit):
            texts.append(w.placeholderText())
        elif isinstance(w, QComboBox):
            texts += [w.itemText(i) for i in range(w.count())]
        if isinstance(w, QAbstractSpinBox):
            texts.append(w.specialValueText())
        texts += _table_headers(w) + _plot_texts(w)
    return [p for p in (_plain(t) for t in texts) if p]


def english_left(texts: list[str]) -> list[str]:
    """The texts a French window should not show: an English msgid whose French differs, or
    a text with English words (paths, model versions and the allowed names aside)."""
    catalogue = french_catalogue()
    left = []
    for text in texts:
        if text in catalogue and catalogue[text] and catalogue[text] != text:
            left.append(text)
            continue
        words = re.findall(
            r"[A-Za-z']+", " ".join(t for t in text.split() if "/" not in t and "@" not in t)
        )
        english = {w.lower() for w in words} & ENGLISH - ALLOWED
        if english:
            left.append(f"{text!r} ({', '.join(sorted(english))})")
    return left
