"""The model's and the clinicians' visit-level Mpox calls against the lab (PCR) results.

Only visits with a result count (``positive`` or ``negative``; ``pending`` is no result yet).
The model calls a visit Mpox when any of its photos' top class is Mpox; the clinicians call it
Mpox when their visit decision is Mpox, not Mpox for any other class, and make no call when
they referred it as uncertain or have not decided (those visits are counted apart).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.visits import wilson_interval

__all__ = ["Comparison", "Rate", "compare_with_lab"]


@dataclass(frozen=True)
class Rate:
    """A proportion with its 95% Wilson interval (``n`` 0: not defined)."""

    hits: int
    n: int

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.hits, self.n) if self.n else None

    def text(self) -> str:
        """ "0.83 (5/6, 95% CI 0.44-0.97)", or "n/a (no visits)"."""
        if not self.n or self.interval is None:
            return "n/a (no visits)"
        low, high = self.interval
        return f"{self.hits / self.n:.2f} ({self.hits}/{self.n}, 95% CI {low:.2f}-{high:.2f})"


@dataclass(frozen=True)
class Comparison:
    """One caller (the model, the clinicians) against the lab."""

    who: str
    sensitivity: Rate
    specificity: Rate
    no_call: int  # visits with a result but no call from this caller


def _rates(who: str, pairs: list[tuple[bool | None, bool]]) -> Comparison:
    called = [(c, truth) for c, truth in pairs if c is not None]
    positives = [c for c, truth in called if truth]
    negatives = [c for c, truth in called if not truth]
    return Comparison(
        who,
        Rate(sum(positives), len(positives)),
        Rate(sum(not c for c in negatives), len(negatives)),
        len(pairs) - len(called),
    )


def compare_with_lab(rows: Iterable[object], mpox_class: str = "Mpox") -> list[Comparison]:
    """Sensitivity and specificity of the model and the clinicians over visits with a lab
    result; ``rows`` are engine.store.visits.VisitRow (anything with ``lab_result``,
    ``model_mpox`` and ``decision``)."""
    model: list[tuple[bool | None, bool]] = []
    clinicians: list[tuple[bool | None, bool]] = []
    for row in rows:
        result = getattr(row, "lab_result", None)
        if result not in ("positive", "negative"):
            continue
        truth = result == "positive"
        model.append((bool(getattr(row, "model_mpox", False)), truth))
        decision = getattr(row, "decision", None)
        call = None if decision in (None, "refer") else decision == mpox_class
        clinicians.append((call, truth))
    return [_rates("model", model), _rates("clinicians", clinicians)]
