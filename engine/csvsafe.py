"""Every CSV PoxScreen writes goes through :func:`writer`, so no cell can start a formula.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
return as a formula (CSV or formula injection). File names, notes, clinician names and class
names come from users and folders, so each such cell gets a single quote in front, as OWASP
recommends; the spreadsheet then shows the text and runs nothing. The ``csv`` module's own
quoting stays: a comma, double quote or line break inside a cell is quoted, so nothing inside
a cell can begin a new one for an RFC 4180 reader.

A plain decimal number such as ``-0.5`` or ``+1e-3`` is left alone: a spreadsheet reads it as a
number, it cannot call anything, and a numeric column stays numeric. A text that already starts
with a quote before such a character gets one more quote, so :func:`read_cell` gives back
exactly what was written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

__all__ = ["FORMULA_STARTS", "SafeWriter", "read_cell", "safe_cell", "writer"]

#: What a spreadsheet takes as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _needs_quote(text: str) -> bool:
    bare = text.lstrip("'")
    if not bare.startswith(FORMULA_STARTS):
        return False
    return len(bare) != len(text) or _NUMBER.fullmatch(text) is None


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet shows it but never runs it; non-text values pass unchanged."""
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def read_cell(text: str) -> str:
    """Undo :func:`safe_cell` for a cell read back from a CSV PoxScreen wrote."""
    if text.startswith("'") and _needs_quote(text[1:]):
        return text[1:]
    return text


class SafeWriter:
    """A ``csv.writer`` whose every cell first goes through :func:`safe_cell`."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(fh: IO[str], **kwargs: Any) -> SafeWriter:
    """The one way PoxScreen code makes a CSV writer (tests check no other is used)."""
    return SafeWriter(fh, **kwargs)
