"""The referral rule: which screened photos a clinician must see, the same everywhere.

A photo is flagged for referral when the model is unsure (its top-class probability is below
``min_confidence``) or when Mpox cannot be ruled out (the Mpox probability is above
``mpox_above``, whatever the top class). The rule is kept in the case store, so the desktop app,
the command line and the CSV apply one rule; :data:`DEFAULT_REFERRAL_RULE` is the default of a
new store. No Qt, no SQL: plain values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

MPOX_CLASS = "Monkeypox"


@dataclass(frozen=True)
class ReferralRule:
    """Refer when top-class probability < ``min_confidence`` or P(``mpox_class``) > ``mpox_above``.

    The defaults were chosen on held-out predictions, not by hand (``trainer.thresholds``): of
    the 518 non-test MSID photos, each predicted by the cross-validation fold that did not train
    on it, the rule referring the fewest photos while referring >= 95% of Mpox photos and keeping
    the unreferred ones >= 95% right. Out of fold it referred 46% of photos, 97% of Mpox photos,
    and left 95% of the rest right (the model card has the figures on the test split).
    """

    min_confidence: float = 0.75
    mpox_above: float = 0.05
    mpox_class: str = MPOX_CLASS

    def __post_init__(self) -> None:
        for name in ("min_confidence", "mpox_above"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"referral rule: {name} must be a number, got {value!r}")
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"referral rule: {name} must be within [0, 1], got {value}")
        if not isinstance(self.mpox_class, str) or not self.mpox_class:
            raise ValueError("referral rule: mpox_class must be a class name")

    def flags(self, probabilities: Mapping[str, float]) -> bool:
        """Whether a photo with these (calibrated) class probabilities is referred."""
        if not probabilities:
            return False
        top = max(float(p) for p in probabilities.values())
        return (
            top < self.min_confidence
            or float(probabilities.get(self.mpox_class, 0.0)) > self.mpox_above
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReferralRule:
        known = {"min_confidence", "mpox_above", "mpox_class"}
        return cls(**{k: v for k, v in data.items() if k in known})


def needs_photo_check(out_of_scope: bool | None, quality_issues: str | None) -> bool:
    """The "check photo" referral: the guard says "not a skin photo?" or the quality check
    found an issue (blurry, too dark...). Such photos are referred whatever the probabilities."""
    return bool(out_of_scope) or bool(quality_issues)


DEFAULT_REFERRAL_RULE = ReferralRule()
"""The one place the default thresholds live."""
