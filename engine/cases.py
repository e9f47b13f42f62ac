"""Cases for export and print: a run, a review filter or a hand-picked list of queue items, each
file with its prediction, the clinician's label (who, when, note) and the referral flag.

Qt-free and torch-free: the CSV export, the printed report (engine.report), the command line and
the desktop's export dialog all read cases through :func:`collect_cases`, so the CSV and the PDF
of the same selection always agree.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import csv_columns, csvsafe
from engine.atomic import atomic_path
from engine.i18n import _, current_language, format_number, ngettext
from engine.paths import display_path
from engine.referral import needs_photo_check
from engine.store import REFER, ReviewFilter, ReviewItem, RunInfo, Store, queries
from engine.store import case_rows as rows
from engine.store.errors import NotFoundError
from engine.vocabulary import long_name

CaseSource = int | ReviewFilter | Sequence[ReviewItem]
"""A run id, a review filter, or explicit queue items (e.g. the gallery's selection)."""

ReferralCheck = Callable[[Mapping[str, float]], bool]

EXTRA_COLUMNS = csv_columns.LABEL_COLUMNS
"""What the case CSV adds to the screening CSV's columns (engine.csv_columns)."""

_PAGE = 1000


@dataclass(frozen=True)
class Case:
    """One file: what the model said, what the clinician said, and whether it is referred."""

    path: str
    sha256: str | None
    error: str | None
    top_class: str | None
    confidence: float | None
    probabilities: dict[str, float]
    label: str | None
    label_who: str | None
    label_at: datetime | None
    label_note: str | None
    referral: bool  # the rule flags it, or the clinician labelled it "refer"
    file: Path | None  # the bytes to read (ImageStore.photo_file), None when none is left
    rule_flag: bool | None = None  # the referral rule on the probabilities (None: no prediction)
    out_of_scope: bool | None = None  # "not a skin photo?" (None: not checked)
    scope_score: float | None = None
    quality_issues: str | None = None  # "blurry;too dark" ("" fine, None: not checked)
    patient: str | None = None  # pseudonymous identifiers (None: not given)
    visit: str | None = None

    @property
    def check_photo(self) -> bool:
        """Referred with "check photo": out of scope or a quality issue."""
        return needs_photo_check(self.out_of_scope, self.quality_issues)

    @property
    def disagreement(self) -> bool:
        """Labelled with a class other than the model's top class (``refer`` is not one)."""
        label, top = self.label, self.top_class
        return bool(label and top and label != REFER and label != top)

    @property
    def name(self) -> str:
        return display_path(Path(self.path).name) if self.path else (self.sha256 or "")[:12]


@dataclass(frozen=True)
class CaseSet:
    """The cases of one selection plus what describes them (model, run, a readable title)."""

    cases: list[Case]
    classes: list[str]
    model: dict[str, Any] = field(default_factory=dict)
    run: RunInfo | None = None
    title: str = ""
    referral_text: str = ""

    @property
    def model_trained(self) -> bool:
        return bool(self.model.get("meta", {}).get("trained", False))


def store_referral_check(store: Store) -> ReferralCheck:
    """The referral rule kept in the store, as a predicate on the probabilities."""
    return store.referral_rule().flags


def collect_cases(
    store: Store, source: CaseSource, *, referral: ReferralCheck | None = None
) -> CaseSet:
    """Read the cases of ``source``; ``referral`` defaults to the store's rule.

    A case is referred when the clinician labelled it ``refer`` or the rule flags its
    probabilities. A run lists unreadable files too (with their error); filters and item lists
    hold screened images only."""
    check = referral if referral is not None else store_referral_check(store)
    rule_text = (
        _("a caller's rule") if referral is not None else describe_rule(store.referral_rule())
    )
    run: RunInfo | None = None
    if isinstance(source, int):
        run = store.run(source)
        raws, model_id = _run_raws(store, source)
        title = _("Screening run #{run}: {folder}").format(
            run=source, folder=display_path(run.folder)
        )
    elif isinstance(source, ReviewFilter):
        run = store.run(source.run_id) if source.run_id is not None else None
        raws, model_id = _filter_raws(store, source)
        title = _("Selection: {what}").format(what=describe_filter(source))
    else:
        items = list(source)
        raws, model_id = _item_raws(store, items)
        n = len(items)
        title = ngettext("Selection of {n} image", "Selection of {n} images", n).format(n=n)
    with store.read() as s:
        details = rows.label_details(s, [r.image_id for r in raws if r.image_id is not None])
        model = rows.model_row(s, model_id) if model_id is not None else {}
    cases = [_case(store, r, details.get(r.image_id or -1), check) for r in raws]
    return CaseSet(cases, _classes(model, raws), model, run, title, rule_text)


def _run_raws(store: Store, run_id: int) -> tuple[list[rows.RawCase], int]:
    with store.read() as s:
        model_id = queries.queue_model(s, ReviewFilter(run_id=run_id))
        return rows.run_cases(s, run_id, model_id), model_id


def _filter_raws(store: Store, flt: ReviewFilter) -> tuple[list[rows.RawCase], int | None]:
    items: list[ReviewItem] = []
    after = None
    while True:
        page = store.review_queue(flt, limit=_PAGE, after=after)
        items.extend(page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    raws, model_id = _item_raws(store, items)
    if model_id is None:  # nothing selected: still describe the model the filter reads
        with store.read() as s:
            try:
                model_id = queries.queue_model(s, flt)
            except NotFoundError:
                model_id = None
    return raws, model_id


def _item_raws(store: Store, items: Sequence[ReviewItem]) -> tuple[list[rows.RawCase], int | None]:
    with store.read() as s:
        model_id = rows.model_of_predictions(s, [i.prediction_id for i in items])
    raws = [
        rows.RawCase(
            path=i.path or "",
            error=None,
            image_id=i.image_id,
            sha256=i.sha256,
            stored_path=i.stored_path,
            width=i.width,
            height=i.height,
            top_class=i.top_class,
            confidence=i.confidence,
            entropy=i.entropy,
            probabilities=dict(i.probabilities),
            current_label=i.current_label,
            out_of_scope=i.out_of_scope,
            scope_score=i.scope_score,
            quality_issues=i.quality_issues,
        )
        for i in items
    ]
    return raws, model_id


def _case(
    store: Store, raw: rows.RawCase, detail: rows.LabelDetail | None, check: ReferralCheck | None
) -> Case:
    label = raw.current_label
    rule_flag = bool(check(raw.probabilities)) if check and raw.probabilities else None
    if rule_flag is not None:  # "check photo" is part of the referral flag everywhere
        rule_flag = rule_flag or needs_photo_check(raw.out_of_scope, raw.quality_issues)
    flagged = label == REFER or bool(rule_flag)
    try:  # the one "which file shows this photo" lookup; None: nothing to show
        file: Path | None = store.images.photo_file(raw.sha256 or "", raw.path, raw.stored_path)
    except FileNotFoundError:
        file = None
    return Case(
        path=raw.path,
        sha256=raw.sha256,
        error=raw.error,
        top_class=raw.top_class,
        confidence=raw.confidence,
        probabilities=raw.probabilities,
        label=label,
        label_who=detail.who if detail and label else None,
        label_at=detail.at if detail and label else None,
        label_note=detail.note if detail and label else None,
        referral=flagged,
        file=file,
        rule_flag=rule_flag,
        out_of_scope=raw.out_of_scope,
        scope_score=raw.scope_score,
        quality_issues=raw.quality_issues,
        patient=raw.patient,
        visit=raw.visit,
    )


def _classes(model: Mapping[str, Any], raws: Sequence[rows.RawCase]) -> list[str]:
    listed = model.get("meta", {}).get("classes") if model else None
    if isinstance(listed, list) and listed:
        return [str(c) for c in listed]
    return sorted({c for r in raws for c in r.probabilities})


def describe_rule(rule: Any) -> str:
    """The referral rule in words (engine.referral.ReferralRule), the class as people read it."""
    return _(
        "top-class probability below {low}, or {mpox} probability above {high}; "
        "or labelled refer by a clinician"
    ).format(
        low=format_number(rule.min_confidence, 2),
        mpox=long_name(rule.mpox_class),
        high=format_number(rule.mpox_above, 2),
    )


def describe_filter(flt: ReviewFilter) -> str:
    """A short readable line for a filter: the fields that differ from the defaults."""
    default = ReviewFilter()
    parts = []
    for f in dataclasses.fields(flt):
        value = getattr(flt, f.name)
        if value != getattr(default, f.name) and f.name != "sort":
            parts.append(f"{f.name.replace('_', ' ')} = {value}")
    return ", ".join(parts) or _("all screened images")


def case_columns(classes: Sequence[str], *, for_people: bool | None = None) -> list[str]:
    """The screening CSV's header plus :data:`EXTRA_COLUMNS` (the clinician's label).

    ``for_people`` (default: the current language is not English) writes translated titles
    instead; English keeps the machine names, so a spreadsheet built on the screening CSV
    reads the English cases export too."""
    if for_people is None:
        for_people = current_language() != "en"
    if for_people:
        return csv_columns.people_header(classes, labels=True)
    return csv_columns.header(classes, labels=True)


def case_csv_row(case: Case, classes: Sequence[str], version: str, trained: bool) -> list[str]:
    """One case as a cases-export row; model columns stay empty where nothing was predicted."""
    predicted = bool(case.top_class)
    record = csv_columns.CsvRecord(
        path=case.path,
        sha256=case.sha256,
        top_class=case.top_class,
        confidence=case.confidence,
        probabilities=case.probabilities,
        model_version=version if predicted else "",
        model_trained=trained if predicted else None,
        error=case.error,
        source="case store",
        referral=case.rule_flag,
        out_of_scope=case.out_of_scope,
        scope_score=case.scope_score,
        quality_issues=case.quality_issues,
        label=case.label,
        label_who=case.label_who,
        label_at=case.label_at,
        label_note=case.label_note,
        patient=case.patient,
        visit=case.visit,
    )
    return csv_columns.row(record, classes, labels=True)


def export_cases_csv(
    store: Store,
    out_file: str | os.PathLike[str],
    source: CaseSource,
    *,
    referral: ReferralCheck | None = None,
) -> int:
    """Write ``source``'s cases as CSV (atomically); return the number of rows."""
    case_set = collect_cases(store, source, referral=referral)
    version = str(case_set.model.get("version", ""))
    with atomic_path(out_file) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csvsafe.writer(f)
        writer.writerow(case_columns(case_set.classes))
        for case in case_set.cases:
            writer.writerow(case_csv_row(case, case_set.classes, version, case_set.model_trained))
    details = {"format": "cases", "rows": len(case_set.cases), "model": version}
    store.audit.record("export", details=details)
    return len(case_set.cases)
