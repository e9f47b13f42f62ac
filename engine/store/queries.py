"""The review queue the GUI pages through, built to stay fast at 100,000 images.

Every query is anchored on one model's predictions (``model_id`` leads each index), then filtered
and sorted by indexed columns: ``(model_id, confidence, image_id)``, ``(model_id, top_class,
confidence, image_id)``, ``(model_id, entropy, image_id)``, ``images.current_label``,
``run_items(image_id, run_id)``. Ties are broken by ``image_id`` (unique for one model).
Pagination is keyset (``after`` = the previous page's ``next_cursor``) so page 500 costs what
page 1 does; ``offset`` exists for simple callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, and_, case, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from engine.i18n import gettext as _
from engine.paths import path_from_text
from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule
from engine.store import records, registry, settings
from engine.store.dto import ReviewItem, ReviewPage
from engine.store.errors import NotFoundError, StoreError
from engine.store.tables import REFER, Image, ModelVersion, Prediction, RunItem

SortKey = Literal["confidence", "entropy", "newest", "name", "class"]


@dataclass(frozen=True)
class ReviewFilter:
    """What to show. ``None`` means "do not filter on this".

    - ``model_version``: whose predictions to show (default: the run's model, else the active one)
    - ``all_models``: with no run and no model version, every screened image once, with the
      active model's prediction where it has one, else the newest prediction of any model (the
      gallery's "All runs": results stay with the runs that made them after a model switch)
    - ``by_label``: ``predicted_class`` and the ``class`` sort read the clinician's label where
      one is given (``refer`` excepted), the model's class elsewhere
    - ``run_id``: only images met by this screening run
    - ``predicted_class``: the model's top class
    - ``reviewed``: True = has a current label (``refer`` included), False = not yet labelled
    - ``label``: current label equals this (e.g. ``"refer"``)
    - ``disagreement``: True = labelled with a class that differs from the model's top class
      (``refer`` is not a disagreement); False = not such a case
    - ``max_confidence``: top-class confidence strictly below this threshold
    - ``out_of_scope``: True = the guard says "not a skin photo?", False = it does not (or the
      model had no guard)
    - ``check_photo``: True = out of scope or a quality issue (the "check photo" referral)
    - ``referral``: True = flagged by the store's referral rule (engine.referral) or by "check
      photo", False = neither
    - ``patient`` / ``visit``: only photos of this patient / visit (pseudonymous identifiers)
    - ``disputed``: True = clinicians' labels disagree (engine.store.disputes), False = not
    - ``search``: file-path substring, case-insensitive (e.g. part of a file name)
    - ``sort``: ``confidence`` (lowest first), ``entropy`` (highest first), ``newest``
      (latest prediction first), ``name`` (by file path as stored) or ``class`` (by class name,
      the label's where ``by_label``)
    """

    model_version: str | None = None
    run_id: int | None = None
    predicted_class: str | None = None
    reviewed: bool | None = None
    label: str | None = None
    disagreement: bool | None = None
    max_confidence: float | None = None
    out_of_scope: bool | None = None
    check_photo: bool | None = None
    referral: bool | None = None
    search: str | None = None
    patient: str | None = None
    visit: str | None = None
    sort: SortKey = "confidence"
    all_models: bool = False
    by_label: bool = False
    disputed: bool | None = None


def shown_class(flt: ReviewFilter) -> Any:
    """The class a filter and the ``class`` sort read: the clinician's label where given (and
    asked for), else the model's top class."""
    if not flt.by_label:
        return Prediction.top_class
    labelled = and_(Image.current_label.is_not(None), Image.current_label != REFER)
    return case((labelled, Image.current_label), else_=Prediction.top_class)


def _one_per_image(active_id: int | None) -> Any:
    """The prediction shown for an image across models: the active model's, else the newest."""
    other = aliased(Prediction)
    order = [other.id.desc()]
    if active_id is not None:
        order.insert(0, case((other.model_id == active_id, 0), else_=1))
    best = (
        select(other.id)
        .where(other.image_id == Prediction.image_id)
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )
    return Prediction.id == best


def _disagrees() -> Any:
    return and_(
        Image.current_label.is_not(None),
        Image.current_label != REFER,
        Image.current_label != Prediction.top_class,
    )


def check_photo_clause() -> Any:
    """SQL for "refer: check photo" (out of scope, or any quality issue)."""
    return or_(
        Prediction.out_of_scope.is_(True),
        and_(Prediction.quality_issues.is_not(None), Prediction.quality_issues != ""),
    )


def referral_clause(rule: ReferralRule) -> Any:
    """SQL for ReferralRule.flags on the stored prediction (SQLite and PostgreSQL JSON), plus
    the "check photo" referral: a picture the guard or the quality check flags is never dropped
    silently out of triage."""
    mpox = Prediction.probabilities[rule.mpox_class].as_float()
    return or_(
        Prediction.confidence < rule.min_confidence,
        func.coalesce(mpox, 0.0) > rule.mpox_above,
        check_photo_clause(),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class AcrossModels:
    """A queue over every model's predictions, one per image (``_one_per_image``)."""

    active_id: int | None


#: Whose predictions a queue reads: one model's (its id), or every model's, one per image.
Scope = int | AcrossModels


def _filtered(
    stmt: Select[Any], flt: ReviewFilter, model_id: Scope, rule: ReferralRule | None = None
) -> Select[Any]:
    if isinstance(model_id, AcrossModels):
        stmt = stmt.where(_one_per_image(model_id.active_id))
    else:
        stmt = stmt.where(Prediction.model_id == model_id)
    if flt.referral is not None:
        clause = referral_clause(rule or DEFAULT_REFERRAL_RULE)
        stmt = stmt.where(clause if flt.referral else ~clause)
    if flt.search:
        pattern = f"%{_escape_like(flt.search.strip())}%"
        stmt = stmt.where(Image.path.ilike(pattern, escape="\\"))
    if flt.patient is not None:
        stmt = stmt.where(Image.patient == flt.patient)
    if flt.visit is not None:
        stmt = stmt.where(Image.visit == flt.visit)
    if flt.run_id is not None:
        stmt = stmt.where(
            exists().where(RunItem.image_id == Prediction.image_id, RunItem.run_id == flt.run_id)
        )
    if flt.predicted_class is not None:
        stmt = stmt.where(shown_class(flt) == flt.predicted_class)
    if flt.reviewed is True:
        stmt = stmt.where(Image.current_label.is_not(None))
    elif flt.reviewed is False:
        stmt = stmt.where(Image.current_label.is_(None))
    if flt.label is not None:
        stmt = stmt.where(Image.current_label == flt.label)
    if flt.disagreement is True:
        stmt = stmt.where(_disagrees())
    elif flt.disagreement is False:
        stmt = stmt.where(~_disagrees())
    if flt.disputed is not None:
        stmt = stmt.where(Image.disputed.is_(flt.disputed))
    if flt.max_confidence is not None:
        stmt = stmt.where(Prediction.confidence < flt.max_confidence)
    if flt.out_of_scope is True:
        stmt = stmt.where(Prediction.out_of_scope.is_(True))
    elif flt.out_of_scope is False:
        stmt = stmt.where(Prediction.out_of_scope.is_not(True))
    if flt.check_photo is True:
        stmt = stmt.where(check_photo_clause())
    elif flt.check_photo is False:
        stmt = stmt.where(~check_photo_clause())
    return stmt


#: The queue's filter for other queries over the same rows (e.g. the visits' counts).
apply_filter = _filtered


def _base() -> Select[Any]:
    return (
        select(Prediction, Image, ModelVersion.name, ModelVersion.content_hash)
        .join(Image, Image.id == Prediction.image_id)
        .join(ModelVersion, ModelVersion.id == Prediction.model_id)
    )


def _keyset(stmt: Select[Any], flt: ReviewFilter, after: tuple[Any, ...] | None) -> Select[Any]:
    # image_id breaks ties: unique per model, and the last column of each queue index.
    sort = flt.sort
    if sort == "class":
        cls = shown_class(flt)
        if after is not None:
            stmt = stmt.where(tuple_(cls, Prediction.image_id) > tuple_(*after))
        return stmt.order_by(cls, Prediction.image_id)
    if sort == "confidence":
        if after is not None:
            stmt = stmt.where(tuple_(Prediction.confidence, Prediction.image_id) > tuple_(*after))
        return stmt.order_by(Prediction.confidence, Prediction.image_id)
    if sort == "entropy":
        if after is not None:
            stmt = stmt.where(tuple_(Prediction.entropy, Prediction.image_id) < tuple_(*after))
        return stmt.order_by(Prediction.entropy.desc(), Prediction.image_id.desc())
    if sort == "newest":
        if after is not None:
            stmt = stmt.where(Prediction.id < after[0])
        return stmt.order_by(Prediction.id.desc())
    if sort == "name":
        name = func.coalesce(Image.path, "")
        if after is not None:
            stmt = stmt.where(tuple_(name, Prediction.image_id) > tuple_(*after))
        return stmt.order_by(name, Prediction.image_id)
    raise StoreError(f"unknown sort {sort!r}; use confidence, entropy, newest, name or class")


def _cursor(pred: Prediction, img: Image, flt: ReviewFilter) -> tuple[Any, ...]:
    sort = flt.sort
    if sort == "class":
        labelled = flt.by_label and img.current_label not in (None, REFER)
        return (img.current_label if labelled else pred.top_class, pred.image_id)
    if sort == "name":
        return (img.path or "", pred.image_id)
    if sort == "confidence":
        return (pred.confidence, pred.image_id)
    if sort == "entropy":
        return (pred.entropy, pred.image_id)
    return (pred.id,)


def review_queue(
    session: Session,
    flt: ReviewFilter,
    model_id: Scope,
    *,
    limit: int = 100,
    after: tuple[Any, ...] | None = None,
    offset: int = 0,
    rule: ReferralRule | None = None,
) -> ReviewPage:
    """One page of the queue in the filter's sort order."""
    if limit <= 0:
        raise StoreError("limit must be positive")
    stmt = _keyset(_filtered(_base(), flt, model_id, rule), flt, after)
    rows = session.execute(stmt.offset(offset).limit(limit)).all()
    items = [
        ReviewItem(
            image_id=img.id,
            sha256=img.sha256,
            path=path_from_text(img.path) if img.path else None,
            stored_path=img.stored_path,
            width=img.width,
            height=img.height,
            top_class=pred.top_class,
            confidence=pred.confidence,
            entropy=pred.entropy,
            probabilities=dict(pred.probabilities),
            current_label=img.current_label,
            prediction_id=pred.id,
            scope_score=pred.scope_score,
            out_of_scope=pred.out_of_scope,
            quality_issues=pred.quality_issues,
            model_name=name,
            model_version=content_hash,
            run_id=pred.run_id,
            patient=img.patient,
            visit=img.visit,
            disputed=bool(img.disputed),
        )
        for pred, img, name, content_hash in rows
    ]
    cursor = _cursor(rows[-1][0], rows[-1][1], flt) if len(rows) == limit else None
    return ReviewPage(items=items, next_cursor=cursor)


def count(
    session: Session, flt: ReviewFilter, model_id: Scope, rule: ReferralRule | None = None
) -> int:
    """How many images the filter selects (for "n to review" badges)."""
    stmt = select(func.count()).select_from(Prediction).join(Image, Image.id == Prediction.image_id)
    return session.scalar(_filtered(stmt, flt, model_id, rule)) or 0


def class_counts(
    session: Session, flt: ReviewFilter, model_id: Scope, rule: ReferralRule | None = None
) -> dict[str, int]:
    """Images per predicted class under the filter (the gallery's class tabs).

    Pictures the guard calls "not a skin photo" are not counted in any class unless the filter
    asks for them (``out_of_scope=True``): a screenshot is no Mpox case.
    """
    cls = shown_class(flt)
    stmt = (
        select(cls, func.count())
        .select_from(Prediction)
        .join(Image, Image.id == Prediction.image_id)
    )
    stmt = _filtered(stmt, flt, model_id, rule)
    if flt.out_of_scope is None:
        stmt = stmt.where(Prediction.out_of_scope.is_not(True))
    stmt = stmt.group_by(cls)
    return {cls: n for cls, n in session.execute(stmt)}


def queue_model(session: Session, flt: ReviewFilter) -> int:
    """The id of the model whose predictions a queue (or export) shows: the filter's model,
    else its run's model, else the active model."""
    if flt.model_version:
        return registry.find(session, flt.model_version).id
    if flt.run_id is not None:
        return records.get_run(session, flt.run_id).model_id
    model = registry.active_model(session)
    if model is None:
        raise NotFoundError(_("no model is registered yet; screen a folder first"))
    return model.id


def queue_scope(session: Session, flt: ReviewFilter) -> Scope:
    """Whose predictions a queue shows: ``queue_model``'s, or with ``all_models`` and neither a
    run nor a model version, every model's (the active one's first)."""
    if flt.all_models and flt.run_id is None and not flt.model_version:
        model = registry.active_model(session)
        return AcrossModels(model.id if model is not None else None)
    return queue_model(session, flt)


def rule_for(session: Session, flt: ReviewFilter) -> ReferralRule | None:
    """The database's referral rule, read in the query's own transaction when it is needed."""
    return settings.referral_rule(session) if flt.referral is not None else None
