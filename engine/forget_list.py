"""The forget list as a screening sees it: photos forgotten in the case store are skipped
(listed with the reason "forgotten on <date>", their pixels and names never stored again) unless
the clinician asked to add them again, which takes them off the list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from engine.pipeline import Prediction


class ForgetList:
    """The forgotten photos one screening meets; empty without a store."""

    def __init__(self, store: Any, *, readd: bool = False) -> None:
        read = getattr(store, "forgotten_hashes", None)
        found: dict[str, datetime] = read() if callable(read) else {}
        self.store = store
        self.readd = readd
        #: skipped: hash -> when it was forgotten
        self.skipped: dict[str, datetime] = {} if readd else found
        #: to add again (taken off the list once screened)
        self.to_readd: set[str] = set(found) if readd else set()
        self.count = 0

    def skip(self, done: set[str]) -> Callable[[str], bool] | None:
        """The pipeline's skip test: screened before (``done``) or forgotten."""
        if self.to_readd:
            done -= self.to_readd  # re-added photos are screened afresh
        if not done and not self.skipped:
            return None
        return lambda sha: sha in done or sha in self.skipped

    def reason(self, p: Prediction) -> str | None:
        """The CSV's source cell for a forgotten photo, None for any other."""
        when = self.skipped.get(p.sha256 or "")
        return None if when is None else f"skipped: forgotten on {when:%Y-%m-%d}"

    def split(self, batch: Sequence[Prediction]) -> list[Prediction]:
        """The batch without its forgotten photos (nothing of them goes to the store); photos
        being re-added come off the forget list first."""
        back = [p.sha256 for p in batch if p.sha256 in self.to_readd and p.ok]
        if back:
            self.store.readd_forgotten(back)
        kept = [p for p in batch if (p.sha256 or "") not in self.skipped]
        self.count += len(batch) - len(kept)
        return kept
