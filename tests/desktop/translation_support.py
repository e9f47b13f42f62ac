"""Reading every visible text of a window or dialog, and judging whether a French window still
shows English: helpers for tests/desktop/test_window_translation.py."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDockWidget,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QMenuBar,
    QMessageBox,
    QPlainTextEdit,
    QTableWidget,
    QTreeWidget,
    QWidget,
)

ROOT = Path(__file__).resolve().parents[2]
FR_PO = ROOT / "resources" / "locale" / "fr" / "LC_MESSAGES" / "poxscreen.po"
#: Names that read the same in every language (products, methods, formats, units).
ALLOWED = {
    "poxscreen", "grad", "cam", "mpox", "sha", "onnx", "cpu", "gpu", "cuda", "mcc", "ece",
    "csv", "pdf", "msid", "imagenet", "sqlalchemy", "url", "png", "jpg", "db", "ctrl", "shift",
    "esc", "space", "backspace", "inferno", "viridis", "magma", "plasma", "cividis", "dr",
    "english", "français", "português", "ms", "px", "min", "bala", "hossain", "monkeypox",
    "skin", "images", "dataset", "by", "cc", "ok",
}  # fmt: skip


@cache
def catalogue() -> dict[str, str]:
    """English msgid -> French msgstr (singular forms; plural forms both ways)."""
    with FR_PO.open("rb") as f:
        cat = read_po(f, locale="fr")
    out: dict[str, str] = {}
    for m in cat:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strs = m.string if isinstance(m.string, tuple) else (m.string,)
        for i, s in zip(ids, strs, strict=False):
            out[i] = s
    return out


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ]{2,}", text)}


def _source_strings() -> Iterator[str]:
    """Every string literal of the desktop's code (marked for translation or not yet)."""
    for path in (ROOT / "desktop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.value


@cache
def english_only_words() -> frozenset[str]:
    """Words of the English msgids and of the desktop's string literals that no French
    translation uses (so a text holding one of them is English)."""
    cat = catalogue()
    texts = [*cat, *_source_strings()]
    english = set().union(*(_words(re.sub(r"\{[^}]*\}|<[^>]*>", " ", k)) for k in texts))
    french = set().union(*(_words(v) for v in cat.values()))
    return frozenset(english - french - ALLOWED)


def _variants(text: str) -> set[str]:
    """The text, without accelerators, without a trailing "(shortcut)", line by line."""
    out = set()
    for line in [text, *text.split("\n")]:
        line = line.replace("&&", "\0").replace("&", "").replace("\0", "&").strip()
        out |= {line, re.sub(r"\s*\([^()]*\)$", "", line).strip(), line.rstrip(".…")}
    return {v for v in out if v}


def untranslated(texts: Iterable[str]) -> list[str]:
    """Texts that are an English msgid whose French translation differs."""
    cat = catalogue()
    bad = []
    for t in texts:
        for v in _variants(t):
            for key in (v, v + "...", v + "."):
                fr = cat.get(key)
                if fr and fr.replace("&", "") != key.replace("&", ""):
                    bad.append(t)
    return sorted(set(bad))


def _prose(text: str) -> str:
    """``text`` without paths, file names, model versions and hashes (data, not words)."""
    return re.sub(r"\S*[/\\@]\S*|\S+\.[A-Za-z]{2,4}\b|\b[0-9a-f]{6,}\b", " ", text)


def still_english(english: Iterable[str], french: Iterable[str]) -> list[str]:
    """Texts shown alike in the English and the French window that hold English words."""
    words = english_only_words()
    same = set(english) & set(french)
    return sorted(t for t in same if _words(_prose(t)) & words)


def action_texts(actions: Iterable[QAction]) -> list[str]:
    out = []
    for a in actions:
        if a.isSeparator():
            continue
        out += [a.text(), a.toolTip(), a.statusTip()]
        if a.menu() is not None:
            out += menu_texts(a.menu())
    return [t for t in out if t]


def menu_texts(menu: QMenu | QMenuBar) -> list[str]:
    texts = [menu.title()] if isinstance(menu, QMenu) else []
    return texts + action_texts(menu.actions())


def widget_texts(root: QWidget) -> list[str]:
    """Every text ``root`` and its children show: titles, labels, buttons, placeholders,
    tooltips, combo items, list items and headers."""
    out = [root.windowTitle()]
    for w in [root, *root.findChildren(QWidget)]:
        out.append(w.toolTip())
        if isinstance(w, (QLabel, QAbstractButton)):
            out.append(w.text())
        elif isinstance(w, QGroupBox):
            out.append(w.title())
        elif isinstance(w, (QLineEdit, QPlainTextEdit)):
            out.append(w.placeholderText())
        elif isinstance(w, QComboBox):
            out += [w.itemText(i) for i in range(w.count())]
        elif isinstance(w, QListWidget):
            out += [w.item(i).text() for i in range(w.count())]
        elif isinstance(w, QTreeWidget):
            head = w.headerItem()
            out += [head.text(i) for i in range(head.columnCount())]
        elif isinstance(w, QTableWidget):
            out += [
                w.horizontalHeaderItem(i).text()
                for i in range(w.columnCount())
                if w.horizontalHeaderItem(i)
            ]
        elif isinstance(w, QDockWidget):
            out.append(w.windowTitle())
        if isinstance(w, QMessageBox):
            out += [w.text(), w.informativeText()]
        out += action_texts(QWidget.actions(w))  # the review panel's .actions is its own
    return [t for t in out if t and t.strip()]


def modal_texts(open_modal: Callable[[], Any]) -> list[str]:
    """Texts of the modal dialog ``open_modal`` shows, read and closed from a timer."""
    seen: list[str] = []

    def read_and_close() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(50, read_and_close)
            return
        seen.extend(widget_texts(dialog))
        dialog.close()

    QTimer.singleShot(50, read_and_close)
    open_modal()
    return seen


def accelerator_clashes(menu: QMenu | QMenuBar) -> list[str]:
    """Menus (and the menu bar) where two visible entries share an ``&`` key."""
    clashes = []
    keys: dict[str, str] = {}
    for a in menu.actions():
        if a.isSeparator() or not a.isVisible():
            continue
        m = re.search(r"&([^&])", a.text().replace("&&", ""))
        if m:
            key = m.group(1).lower()
            if key in keys:
                clashes.append(f"{keys[key]!r} / {a.text()!r}")
            keys[key] = a.text()
        if a.menu() is not None:
            clashes += accelerator_clashes(a.menu())
    return clashes
