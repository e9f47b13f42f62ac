"""reportlab flowables for the case report: the cover page, one block per image, the error list.

reportlab is imported at the top: engine.report.writer imports this module only when a report is
made (never on the command line's start-up path). Classes read as engine.vocabulary names them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

from engine.cases import Case, CaseSet
from engine.i18n import N_, _, format_datetime, format_number
from engine.paths import display_path
from engine.report.options import NOTICE, ReportOptions
from engine.report.pictures import Pictures
from engine.report.styles import esc, image_flowable
from engine.vocabulary import REFER, class_colour, long_name

GRID = colors.HexColor("#B0B0B0")
PALE = colors.HexColor("#F2F2F2")


def _colour(name: str | None) -> Any:
    return colors.HexColor(class_colour(name))


_FIGURES = (("accuracy", N_("accuracy")), ("macro_f1", N_("macro-F1")), ("ece", N_("ECE")))
_SPLITS = {"val": N_("validation"), "test": N_("test")}
#: A screening run's status (engine.store.tables.RUN_STATUSES) as the cover prints it.
_STATUS = {
    "running": N_("running"),
    "finished": N_("finished"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
}


def _figures(metrics: dict[str, Any], split: str) -> str:
    m = metrics.get(split)
    if not isinstance(m, dict) or not m:
        return ""
    parts = []
    for key, label in _FIGURES:
        if isinstance(m.get(key), (int, float)):
            parts.append(f"{_(label)} {format_number(m[key], 3)}")
    if m.get("n"):
        parts.append(f"n = {m['n']}")
    return f"{_(_SPLITS.get(split, split))}: " + ", ".join(parts) if parts else ""


def _model_lines(case_set: CaseSet) -> tuple[str, str]:
    model = case_set.model
    if not model:
        return _("(no model recorded)"), _("none recorded")
    trained = (
        _("trained") if case_set.model_trained else _("NOT TRAINED: results are not meaningful")
    )
    figures = [f for f in (_figures(model["metrics"], s) for s in ("val", "test")) if f]
    return f"{esc(model['version'])} ({trained})", esc("; ".join(figures) or _("none recorded"))


def cover(
    case_set: CaseSet,
    shown: Sequence[Case],
    opts: ReportOptions,
    device_text: str,
    made: datetime,
    st: dict[str, Any],
    width: float,
) -> list[Any]:
    """The first page: who, what, with which model, the counts, and the notice."""
    model_line, figures = _model_lines(case_set)
    run = case_set.run
    screened_on = str(run.options.get("device", "")) if run else ""
    not_recorded = _("(not recorded)")
    rows = [
        (_("Date"), esc(format_datetime(made, zone=True))),
        (_("Clinic"), esc(opts.clinic or _("(not set)"))),
        (_("Selection"), esc(case_set.title)),
        (_("Model"), model_line),
        (_("Validation figures"), figures),
        (_("Screening device"), esc(screened_on or not_recorded)),
        (_("Referral rule"), esc(case_set.referral_text or not_recorded)),
    ]
    if run:
        when = format_datetime(run.started_at)
        status = _(_STATUS[run.status]) if run.status in _STATUS else run.status
        screened = _("{when} UTC, status {status}").format(when=when, status=status)
        rows.insert(3, (_("Screened"), esc(screened)))
    if device_text:
        rows.append((_("Grad-CAM computed on"), esc(device_text)))
    info = _kv_table(rows, st, width)
    story: list[Any] = [Paragraph(esc(_("PoxScreen case report")), st["title"])]
    story += [Spacer(1, 4 * mm), _notice(st, width), Spacer(1, 5 * mm), info]
    story += [Paragraph(esc(_("Counts")), st["h2"]), _counts_table(case_set, shown, st, width)]
    return story


def _kv_table(rows: Sequence[tuple[str, str]], st: dict[str, Any], width: float) -> Table:
    data = [[Paragraph(esc(k), st["bold"]), Paragraph(v, st["base"])] for k, v in rows]
    table = Table(data, colWidths=[40 * mm, width - 40 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _notice(st: dict[str, Any], width: float) -> Table:
    table = Table([[Paragraph(esc(_(NOTICE)), st["notice"])]], colWidths=[width])
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, _colour(REFER)),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#FBEFF6")),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _counts_table(
    case_set: CaseSet, shown: Sequence[Case], st: dict[str, Any], width: float
) -> Table:
    predicted = Counter(c.top_class for c in shown if c.top_class)
    labelled = Counter(c.label for c in shown if c.label)
    data: list[list[Any]] = [
        [Paragraph(esc(h), st["bold"]) for h in (_("Class"), _("Predicted"), _("Clinician labels"))]
    ]
    for name in [*case_set.classes, REFER]:
        pred = "" if name == REFER else format_number(predicted.get(name, 0))
        labels = format_number(labelled.get(name, 0))
        data.append([Paragraph(esc(long_name(name)), st["base"]), pred, labels])
    unreadable = sum(1 for c in case_set.cases if c.error is not None)
    totals = [
        (_("Images in this report"), len(shown)),
        (_("Reviewed by a clinician"), sum(1 for c in shown if c.label)),
        (_("Referrals (flagged by the rule or labelled refer)"), sum(c.referral for c in shown)),
        (_("Disagreements (clinician label differs from the model)"),
         sum(c.disagreement for c in shown)),
        (_("Files that could not be read"), unreadable),
    ]  # fmt: skip
    data += [[Paragraph(esc(k), st["base"]), format_number(v), ""] for k, v in totals]
    table = Table(data, colWidths=[width - 70 * mm, 35 * mm, 35 * mm])
    n_cls = len(case_set.classes) + 1
    style = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, n_cls), (-1, n_cls), 0.8, colors.black),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("FONTNAME", (1, 1), (-1, -1), st["regular"]),
        ("FONTSIZE", (1, 1), (-1, -1), 9),
    ]
    for i, name in enumerate([*case_set.classes, REFER], start=1):
        style.append(("LINEBEFORE", (0, i), (0, i), 4, _colour(name)))
    table.setStyle(TableStyle(style))
    return table


def _probabilities(case: Case, classes: Sequence[str]) -> str:
    parts = []
    for name in classes:
        p = case.probabilities.get(name)
        if p is None:
            continue
        text = f"{esc(long_name(name))} {format_number(p, 2)}"
        parts.append(f"<b>{text}</b>" if name == case.top_class else text)
    return " · ".join(parts)


def _clinician(case: Case) -> str:
    if not case.label:
        not_reviewed = esc(_("not reviewed"))
        return _("Clinician: {label}").format(label=f"<i>{not_reviewed}</i>")
    text = _("Clinician: {label}").format(label=f"<b>{esc(long_name(case.label))}</b>")
    if case.label_who:
        text += " " + esc(_("by {who}").format(who=case.label_who))
    if case.label_at:
        text += f", {esc(format_datetime(case.label_at))} UTC"
    if case.disagreement:
        disagrees = esc(_("disagrees with the model"))
        text += f" <b>({disagrees})</b>"
    if case.label_note:
        text += "<br/>" + esc(_("Note: {note}").format(note=case.label_note))
    return text


def _check_photo(case: Case) -> str:
    """The "?" mark: not a skin photo? and quality issues (empty when neither)."""
    marks = [esc(_("not a skin photo?"))] if case.out_of_scope else []
    marks += [esc(case.quality_issues)] if case.quality_issues else []
    if not marks:
        return ""
    heading = esc(_("Check photo:"))
    return f"<b>? {heading}</b> {'; '.join(marks)}"


def _details(case: Case, classes: Sequence[str], problem: str | None, st: dict[str, Any]) -> list:
    """The text column of one image: name, prediction, probabilities, clinician, referral."""
    colour = class_colour(case.top_class)
    conf = f" {format_number(case.confidence, 2)}" if case.confidence is not None else ""
    yes = esc(_("Referral: YES"))
    flag = f'<font color="{class_colour(REFER)}">\u2691</font> <b>{yes}</b>'
    mark = f'<font color="{colour}">\u25a0</font> <b>{esc(long_name(case.top_class))}</b>'
    lines = [
        f"<b>{esc(case.name)}</b>",
        _("Predicted: {class_name}").format(class_name=mark) + conf,
        _probabilities(case, classes),
        _clinician(case),
        flag if case.referral else esc(_("Referral: no")),
        _check_photo(case),
    ]
    out = [Paragraph(line, st["base"]) for line in lines if line]
    small = f"SHA-256 {esc((case.sha256 or '')[:16])}…"
    if problem:
        small += "<br/>" + esc(_("Picture unavailable: {why}").format(why=problem))
    out.append(Paragraph(small, st["small"]))
    return out


def case_block(
    case: Case,
    pics: Pictures,
    classes: Sequence[str],
    opts: ReportOptions,
    st: dict[str, Any],
    width: float,
) -> Any:
    """One image: thumbnail | Grad-CAM overlay | text, kept on one page, referrals marked."""
    thumb_w, over_w = 36 * mm, 27 * mm
    thumb = image_flowable(pics.thumb, thumb_w, thumb_w) if pics.thumb else _missing(st)
    over = image_flowable(pics.overlay, over_w, over_w) if pics.overlay else ""
    text = _details(case, classes, pics.problem, st)
    table = Table(
        [[thumb, over, text]],
        colWidths=[thumb_w + 3 * mm, over_w + 3 * mm, width - thumb_w - over_w - 6 * mm],
    )
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LINEBEFORE", (0, 0), (0, 0), 3, _colour(case.top_class)),
    ]
    if case.referral:
        style.append(("BACKGROUND", (2, 0), (2, 0), colors.HexColor("#FBEFF6")))
    table.setStyle(TableStyle(style))
    return KeepTogether([table])


def _missing(st: dict[str, Any]) -> Paragraph:
    text = esc(_("no picture"))
    return Paragraph(f"<i>{text}</i>", st["small"])


def errors_table(failed: Sequence[Case], st: dict[str, Any], width: float) -> list[Any]:
    """Files of the run that could not be read, with the reason."""
    head = (_("File"), _("Why it could not be read"))
    data = [[Paragraph(esc(h), st["bold"]) for h in head]]
    data += [
        [Paragraph(esc(display_path(c.path)), st["small"]), Paragraph(esc(c.error), st["small"])]
        for c in failed
    ]
    table = Table(data, colWidths=[width * 0.55, width * 0.45], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), PALE),
            ]
        )
    )
    return [Paragraph(esc(_("Files that could not be screened")), st["h2"]), table]


#: The cover's building blocks, for the other reports of the package (the visit report).
kv_table = _kv_table
notice = _notice
