"""The open case store for the window: its runs, counts and referral rule read on worker threads
and answered with signals, the referral rule saved, another case store opened."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from desktop.services import store as ops
from desktop.services.active_model import ActiveModel
from desktop.services.i18n import _
from desktop.services.tasks import Reporter, run_task
from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule
from engine.store import Store


class CaseStore(QObject):
    """The case store in use; switching it also switches the active model's store."""

    runs = Signal(list, object)  # list[RunInfo], the active model's content hash (or None)
    stats = Signal(object)  # store.Stats
    rule = Signal(object)  # ReferralRule
    run_errors = Signal(list)  # [(path, reason)] of the selected run
    switched = Signal(object)  # the new Store

    def __init__(
        self, store: Store, active: ActiveModel, pool: QThreadPool, reporter: Reporter
    ) -> None:
        super().__init__()
        self.store, self.active, self.pool, self.reporter = store, active, pool, reporter
        self.current_rule: ReferralRule = DEFAULT_REFERRAL_RULE

    @property
    def location(self) -> str:
        return str(self.store.location)

    def refresh(self, *, rule: bool = True) -> None:
        """Runs and counts (and the referral rule), read on worker threads."""
        store, report = self.store, self.reporter
        run_task(self.pool, lambda: (ops.runs(store), ops.active_version(store)),
                 lambda found: self.runs.emit(*found),
                 what=_("Could not read the screening runs"), reporter=report)  # fmt: skip
        run_task(self.pool, lambda: ops.stats(store), self.stats.emit,
                 what=_("Could not count the case store"), reporter=report)  # fmt: skip
        if rule:
            run_task(self.pool, lambda: ops.referral_rule(store), self._on_rule,
                     what=_("Could not read the referral rule"), reporter=report)  # fmt: skip

    def _on_rule(self, rule: ReferralRule) -> None:
        self.current_rule = rule
        self.rule.emit(rule)

    def read_run_errors(self, run_id: int) -> None:
        store = self.store

        def shown(errors: list[tuple[str, str]] | None) -> None:
            if errors is not None:
                self.run_errors.emit(errors)

        run_task(self.pool, lambda: ops.run_errors(store, run_id), shown, reporter=self.reporter)

    def run_folder(self, run_id: int, then: Callable[[str], None]) -> None:
        """The folder of a run, handed to ``then(folder)`` on the GUI thread."""
        store = self.store
        run_task(self.pool, lambda: ops.run_folder(store, run_id), then, reporter=self.reporter)

    def set_referral_rule(self, min_confidence: float, mpox_above: float, who: str) -> None:
        store = self.store
        run_task(
            self.pool,
            lambda: ops.set_referral_rule(store, min_confidence, mpox_above, who),
            lambda _rule: self.refresh(),
            what=_("Could not save the referral rule"),
            reporter=self.reporter,
        )

    def switch(self, db: str | None) -> bool:
        """Open another case store (``None``: the default); the current one stays open when it
        cannot be opened (newer, foreign, locked: the reporter says why)."""
        try:
            store = ops.open_store(db)
        except Exception as exc:  # StoreError, StoreVersionError, OSError...
            self.reporter.report(
                _(
                    "The case store {location} could not be opened; the current one stays open"
                ).format(location=db or _("(default)")),
                exc,
            )
            return False
        old, self.store = self.store, store
        self.active.set_store(store)
        self.switched.emit(store)
        if old is not store:
            old.close()  # its opener marker goes: a restore may now run over that file
        return True
