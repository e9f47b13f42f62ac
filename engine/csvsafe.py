"""Every CSV PoxScreen writes goes through :func:`writer`, so no cell can start a formula.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
return as a formula (CSV or formula injection). File names, notes, clinician names and class
names come from users and folders, so each such cell gets a single quote in front, as OWASP
recommends; the spreadsheet then shows the text and runs nothing. The ``csv`` module's own
quoting stays: a comma, double quote or line break inside a cell is quoted, so nothing inside
a cell can begin a new one for an RFC 4180 reader. A spreadsheet set to split on semicolons or
tabs (many locales) would still start a new cell inside ``note;=cmd``: a row with a semicolon or
tab before such a character has every cell quoted, which such readers honour too (OWASP: mind
the field separators, not only the first character).

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
#: Another program's separator, then (after spaces or quotes) the start of a formula.
_EMBEDDED = re.compile(r"[;\t][\s'\"]*[=+\-@]")


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
        self._quote_all = csv.writer(fh, **{**kwargs, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> Any:
        cells = [safe_cell(c) for c in row]
        if any(isinstance(c, str) and _EMBEDDED.search(c) for c in cells):
            return self._quote_all.writerow(cells)
        return self._writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(fh: IO[str], **kwargs: Any) -> SafeWriter:
    """The one way PoxScreen code makes a CSV writer (tests check no other is used)."""
    return SafeWriter(fh, **kwargs)
