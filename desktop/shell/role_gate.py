"""The admin-only actions for a clinician on a shared store: disabled, saying why.

On a PostgreSQL store with roles (``poxscreen admin init-roles``) the server refuses a
clinician's admin actions whatever the app does; the app reads the role once per store and
disables those actions beforehand (forget a photo, activate or roll back a model, change the
referral rule) with the reason in their tooltips. A SQLite store's one user holds both roles.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from desktop.services.audit import act_as, store_role
from desktop.services.i18n import N_, _
from desktop.services.store import Store
from desktop.services.tasks import run_in_pool

NEEDS_ADMIN = N_("Needs the admin role: you are signed in to this shared case store as a clinician")


class RoleGate(QObject):
    """Who acts on the store in use (the audit trail names them) and whether they may take
    admin actions (``admin``; ``changed`` after each read)."""

    changed = Signal(bool)

    def __init__(self, who: Callable[[], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.who = who
        self.admin = True
        self.role: str | None = None

    def use(self, store: Store) -> None:
        """A store was opened: name the app's clinician on its events, read the role."""
        act_as(store, self.who)
        self.read(store)

    def read(self, store: Store) -> None:
        """Read the role of ``store``'s user on a worker thread."""
        run_in_pool(lambda: store_role(store), self._on_role, self._on_error)

    def _on_role(self, role: str | None) -> None:
        self.role, self.admin = role, role != "clinician"
        self.changed.emit(self.admin)

    def _on_error(self, _exc: BaseException) -> None:
        self._on_role(None)  # unknown: the server still refuses what the user may not do


def admin_tip(tip: str, admin: bool) -> str:
    """A tooltip that says why an admin action is disabled."""
    return tip if admin else f"{tip}\n{_(NEEDS_ADMIN)}"
