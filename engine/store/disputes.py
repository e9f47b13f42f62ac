"""Two readers: when different clinicians' labels of a photo disagree, the photo is disputed.

The rule, on the stack of label-giving events in force (engine.store.labels.replay):
- from the latest adjudication on (or from the start), each clinician's latest label counts;
  a clinician changing their own mind replaces their own label (a relabel, not a dispute);
- ``refer`` ("uncertain") is no class and disputes nothing;
- two or more different classes among those labels: disputed (``images.disputed``, kept in
  the same transaction as each label event, so filters and the trainer read one column);
- a label given by a clinician who is not one of the disagreeing readers settles it: it is
  recorded as an adjudication (``source="adjudicate"``, an ``adjudicate`` audit event).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.store.errors import StoreError
from engine.store.tables import REFER, LabelEvent

ADJUDICATE = "adjudicate"


@dataclass(frozen=True)
class Reading:
    """One clinician's label in force on a disputed photo."""

    who: str
    label: str
    at: datetime


def _key(who: str) -> str:
    return who.strip().casefold()


def _latest_per_reader(events: Iterable[LabelEvent]) -> list[Reading]:
    """Each clinician's latest event among ``events`` as a reading (``refer`` and undone labels
    left out), the clinician who last spoke last."""
    latest: dict[str, LabelEvent] = {}
    for event in events:
        latest.pop(_key(event.who), None)
        latest[_key(event.who)] = event
    return [
        Reading(e.who, e.label or "", e.created_at)
        for e in latest.values()
        if e.label and e.label != REFER
    ]


def readings(stack: Sequence[LabelEvent]) -> list[Reading]:
    """Each clinician's latest class in force since the last adjudication (``refer`` left out),
    oldest first."""
    since = max((i for i, e in enumerate(stack) if e.source == ADJUDICATE), default=0)
    return _latest_per_reader(stack[since:])


def is_disputed(stack: Sequence[LabelEvent]) -> bool:
    """True when clinicians' labels in force name two or more classes."""
    return len({r.label for r in readings(stack)}) > 1


def check_adjudication(stack: Sequence[LabelEvent], who: str, admin: bool, sha: str) -> None:
    """Refuse an explicit adjudication of a photo that is not disputed, or by one of the
    disagreeing clinicians who is not an admin."""
    if not is_disputed(stack):
        raise StoreError(f"image {sha[:12]}... is not disputed: nothing to adjudicate")
    if not admin and not settles(stack, who):
        raise StoreError(
            f"image {sha[:12]}...: settling a dispute you are part of needs the admin role; "
            "a third clinician's label settles it too"
        )


def settles(stack: Sequence[LabelEvent], who: str) -> bool:
    """True when a label by ``who`` settles a dispute: the photo is disputed and ``who`` is not
    one of the clinicians who disagree (a third clinician)."""
    return is_disputed(stack) and _key(who) not in {_key(r.who) for r in readings(stack)}


@dataclass(frozen=True)
class Agreement:
    """How often clinicians who labelled the same photos agree: Cohen's kappa over every pair
    of readings of one photo (None with fewer than two pairs, or one class only), and how many
    pairs fell on each pair of classes (``(a, b)`` with ``a <= b``)."""

    photos: int
    pairs: int
    kappa: float | None
    counts: dict[tuple[str, str], int]

    @property
    def agreed(self) -> int:
        return sum(n for (a, b), n in self.counts.items() if a == b)


def independent_readings(stack: Sequence[LabelEvent]) -> list[Reading]:
    """Each clinician's latest class in force on a photo, adjudications left out (they settle,
    they do not read independently); ``refer`` left out. Oldest reader first."""
    return _latest_per_reader(e for e in stack if e.source != ADJUDICATE)


def agreement(per_photo: Sequence[Sequence[Reading]]) -> Agreement:
    """Agreement over photos read by two or more clinicians (see :class:`Agreement`)."""
    first: list[str] = []
    second: list[str] = []
    photos = 0
    for readings_ in per_photo:
        if len(readings_) < 2:
            continue
        photos += 1
        for i, a in enumerate(readings_):
            for b in readings_[i + 1 :]:
                first.append(a.label)
                second.append(b.label)
    counts: dict[tuple[str, str], int] = {}
    for a, b in zip(first, second, strict=True):
        key = (min(a, b), max(a, b))
        counts[key] = counts.get(key, 0) + 1
    return Agreement(photos, len(first), _kappa(first, second), dict(sorted(counts.items())))


def _kappa(first: list[str], second: list[str]) -> float | None:
    """Cohen's kappa (scikit-learn); None when it is undefined (too few pairs, one class)."""
    if len(first) < 2 or len(set(first) | set(second)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(first, second))
