"""The clinic's overview: how often clinicians agree with the model, the referral rule shared by
every client of the database, and the status-bar counts."""

from __future__ import annotations

from sqlalchemy import case, func, select

from engine.referral import ReferralRule
from engine.store import audit, registry, settings
from engine.store.database import Database
from engine.store.dto import AgreementCounts, StoreStats
from engine.store.tables import REFER, Image, Prediction, utcnow


class Clinic:
    """Agreement, referral rule and stats of the case store (``store.clinic``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def agreement(self, model_version: str | None = None) -> dict[str, AgreementCounts]:
        """Per clinician label (``refer`` left out): how many of that model's (default: the
        active model's) top classes agreed with it and how many did not."""
        with self.db.read() as s:
            model = registry.find(s, model_version) if model_version else registry.active_model(s)
            if model is None:
                return {}
            agreed = func.sum(case((Prediction.top_class == Image.current_label, 1), else_=0))
            rows = s.execute(
                select(Image.current_label, agreed, func.count())
                .join(Prediction, Prediction.image_id == Image.id)
                .where(
                    Prediction.model_id == model.id,
                    Image.current_label.is_not(None),
                    Image.current_label != REFER,
                )
                .group_by(Image.current_label)
                .order_by(Image.current_label)
            )
            return {
                str(label): AgreementCounts(int(ok or 0), int(n) - int(ok or 0))
                for label, ok, n in rows
            }

    def referral_rule(self) -> ReferralRule:
        """The referral rule every client of this database applies (default until set)."""
        with self.db.read() as s:
            return settings.referral_rule(s)

    def set_referral_rule(self, rule: ReferralRule, *, who: str) -> ReferralRule:
        """Store a new referral rule (validated by ReferralRule itself)."""
        with self.db.write() as s:
            before = settings.referral_rule(s).to_json()
            settings.put(s, settings.REFERRAL_KEY, rule.to_json(), who, utcnow())
            details = {"setting": settings.REFERRAL_KEY, "before": before, "after": rule.to_json()}
            audit.record(s, "settings", who=audit.acting(self.db, who), details=details)
            return settings.referral_rule(s)

    def stats(self) -> StoreStats:
        """Images screened by the active model, how many carry a label, how many are left."""
        with self.db.read() as s:
            model = registry.active_model(s)
            if model is None:
                return StoreStats()
            screened, reviewed = s.execute(
                select(func.count(), func.count(Image.current_label))
                .select_from(Prediction)
                .join(Image, Image.id == Prediction.image_id)
                .where(Prediction.model_id == model.id)
            ).one()
            return StoreStats(int(screened), int(reviewed), int(screened) - int(reviewed))
