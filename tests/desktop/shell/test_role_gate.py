"""A clinician on a shared store with roles: the admin actions are disabled, saying why (the
server refuses them anyway: tests/engine/store/test_store_roles.py)."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.shell.role_gate import NEEDS_ADMIN
from desktop.shell.settings_dialog import SettingsDialog
from desktop.versions.models_dialog import ModelsDialog


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_role_clinician_sees_admin_actions_disabled(
    filled: tuple[Any, dict[str, str]], qtbot: Any, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    w, _ = filled
    monkeypatch.setattr("desktop.shell.role_gate.store_role", lambda _store: role)
    w.roles.read(w.store)
    qtbot.waitUntil(lambda: w.roles.role == role)
    admin = role == "admin"
    w.gallery.select_row(0)
    assert w.care.forget.isEnabled() is admin
    assert (NEEDS_ADMIN in w.care.forget.toolTip()) is not admin
    settings = SettingsDialog(w.settings, w.cases.current_rule, w.roles.admin, w)
    qtbot.addWidget(settings)
    assert settings.min_conf.isEnabled() is admin
    models = ModelsDialog(w.active, parent=w, admin=w.roles.admin)
    qtbot.addWidget(models)
    qtbot.waitUntil(lambda: bool(models.models))
    registered = [m for m in models.models if not m.active]
    if registered:
        models.table.selectRow(models.models.index(registered[0]))
    assert not models.buttons["activate"].isEnabled() or admin
    assert (models.buttons["activate"].toolTip() == NEEDS_ADMIN) is not admin
    models.close()


def test_role_of_a_sqlite_store_is_admin(filled: tuple[Any, dict[str, str]], qtbot: Any) -> None:
    w, _ = filled
    qtbot.waitUntil(lambda: w.roles.role is not None)
    assert w.roles.role == "admin" and w.roles.admin
