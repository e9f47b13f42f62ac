"""Patients and visits: the unit a clinician decides about (no store, no Qt).

A photo can belong to a patient and a visit. Both are pseudonymous identifiers chosen by the
clinic (never names): :func:`check_identifier` refuses what could not be one (a path separator,
a control character, more than 64 characters). They come from a folder layout
(``PATIENT/VISIT/photo.jpg``, :func:`by_layout`), a CSV manifest ``file,patient,visit``
(:func:`read_manifest`) or the clinician's hand.
"""

from __future__ import annotations

import csv
import math
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from engine.paths import display_path

__all__ = [
    "LAB_RESULTS",
    "LAYOUTS",
    "MAX_ID_LENGTH",
    "LayoutResult",
    "Manifest",
    "ManifestError",
    "Misfit",
    "VisitIdError",
    "by_layout",
    "check_identifier",
    "parse_visit_ref",
    "read_manifest",
    "wilson_interval",
]

MAX_ID_LENGTH = 64
LAYOUTS = ("patient/visit",)
#: PCR results a visit can carry; "pending" counts as no result yet.
LAB_RESULTS = ("positive", "negative", "pending")


class VisitIdError(ValueError):
    """A patient or visit identifier that cannot be one (the message says why)."""


class ManifestError(ValueError):
    """A manifest that cannot be read at all (the message names the file and the reason)."""


def check_identifier(text: str, what: str = "identifier") -> str:
    """``text`` stripped, or VisitIdError: identifiers name folders and report covers, so a
    path separator, a control character or an over-long text (a name typed by mistake, a
    pasted note) is refused rather than stored."""
    value = (text or "").strip()
    if not value:
        raise VisitIdError(f"{what} is empty")
    if "/" in value or "\\" in value or os.sep in value:
        raise VisitIdError(f"{what} {value!r} contains a path separator")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise VisitIdError(f"{what} {value!r} contains a control character")
    if len(value) > MAX_ID_LENGTH:
        raise VisitIdError(
            f"{what} {value[:20]!r}... has {len(value)} characters (at most {MAX_ID_LENGTH})"
        )
    return value


def parse_visit_ref(text: str) -> tuple[str, str]:
    """``PATIENT/VISIT`` (the CLI's way to name a visit) as checked identifiers."""
    parts = (text or "").split("/")
    if len(parts) != 2:
        raise VisitIdError(f"{text!r}: give the visit as PATIENT/VISIT")
    return check_identifier(parts[0], "patient"), check_identifier(parts[1], "visit")


@dataclass(frozen=True)
class Misfit:
    """A folder whose photos do not fit the layout: where, why, and which files."""

    folder: Path
    reason: str
    files: tuple[Path, ...]


@dataclass
class LayoutResult:
    """Each fitting photo's (patient, visit), and the folders that did not fit."""

    visits: dict[Path, tuple[str, str]] = field(default_factory=dict)
    misfits: list[Misfit] = field(default_factory=list)


def by_layout(root: Path, paths: list[Path], layout: str = "patient/visit") -> LayoutResult:
    """Read patient and visit from each photo's place under ``root``:
    ``root/PATIENT/VISIT/photo.jpg``. Photos elsewhere (directly in ``root``, in a patient
    folder without a visit, deeper down) or under a folder name that is no identifier are
    grouped by folder into ``misfits``; they are still screened, without a visit."""
    if layout not in LAYOUTS:
        raise VisitIdError(f"unknown layout {layout!r}; use {', '.join(LAYOUTS)}")
    result = LayoutResult()
    bad: dict[Path, tuple[str, list[Path]]] = {}
    for path in paths:
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            parts = ()
        reason = ""
        if len(parts) != 3:
            reason = "not in a PATIENT/VISIT folder"
        else:
            try:
                patient = check_identifier(parts[0], "patient")
                visit = check_identifier(parts[1], "visit")
            except VisitIdError as exc:
                reason = str(exc)
        if reason:
            bad.setdefault(path.parent, (reason, []))[1].append(path)
        else:
            result.visits[path] = (patient, visit)
    result.misfits = [
        Misfit(folder, reason, tuple(files)) for folder, (reason, files) in sorted(bad.items())
    ]
    return result


@dataclass
class Manifest:
    """A manifest's rows that name an existing file, and what was left out (line: reason)."""

    visits: dict[Path, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a CSV with the columns ``file,patient,visit``; a relative ``file`` is relative to
    the manifest's folder. A row for a missing file or with a bad identifier is listed in
    ``problems`` (the rest still count); a file that cannot be read, or lacks the columns, is
    a ManifestError naming it."""
    where = Path(path)
    try:
        with open(where, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
            columns = set(rows[0].keys()) if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"{display_path(where)}: cannot read the manifest ({exc})") from exc
    missing = {"file", "patient", "visit"} - {str(c).strip().lower() for c in columns}
    if rows and missing:
        raise ManifestError(
            f"{display_path(where)}: the manifest lacks the column(s) {', '.join(sorted(missing))}"
            " (expected file,patient,visit)"
        )
    manifest = Manifest()
    for number, row in enumerate(rows, start=2):
        cells = {str(k).strip().lower(): (v or "") for k, v in row.items() if k is not None}
        file = Path(cells["file"].strip())
        target = file if file.is_absolute() else where.parent / file
        try:
            ids = (
                check_identifier(cells["patient"], "patient"),
                check_identifier(cells["visit"], "visit"),
            )
        except VisitIdError as exc:
            manifest.problems.append(f"line {number}: {exc}")
            continue
        if not cells["file"].strip() or not target.is_file():
            manifest.problems.append(f"line {number}: {display_path(target)}: no such file")
            continue
        manifest.visits[target.resolve()] = ids
    return manifest


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound at small n and at 0 or 1)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
