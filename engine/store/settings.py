"""Settings shared by every PoxScreen on one database (``settings`` table, JSON values)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule
from engine.store.errors import StoreError
from engine.store.tables import Setting

REFERRAL_KEY = "referral_rule"


def get(session: Session, key: str) -> dict[str, Any] | None:
    row = session.scalar(select(Setting).where(Setting.key == key))
    return dict(row.value) if row is not None else None


def put(session: Session, key: str, value: dict[str, Any], who: str | None, now: datetime) -> None:
    row = session.scalar(select(Setting).where(Setting.key == key).with_for_update())
    if row is None:
        session.add(Setting(key=key, value=dict(value), updated_at=now, updated_by=who))
    else:
        row.value, row.updated_at, row.updated_by = dict(value), now, who
    session.flush()


def referral_rule(session: Session) -> ReferralRule:
    """The database's rule, or the default when none was set (or the stored one is unusable)."""
    value = get(session, REFERRAL_KEY)
    if value is None:
        return DEFAULT_REFERRAL_RULE
    try:
        return ReferralRule.from_json(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the stored referral rule is unusable ({exc}); set it again") from exc
