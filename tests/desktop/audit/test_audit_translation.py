"""The Audit view in French: headers, filters, agreement and counts, no English left."""

from __future__ import annotations

from typing import Any

from engine.store import Store
from tests.desktop.audit.test_audit_view import audited  # noqa: F401 (fixture)
from tests.desktop.dialog_translation_support import english_left, french, visible_texts
from tests.desktop.models_support import screenshot


def test_translation_audit_view_speaks_french(qtbot: Any, audited: Store) -> None:  # noqa: F811
    from desktop.audit.dialog import AuditDialog

    with french():
        dialog = AuditDialog(audited)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: "kappa" in dialog.agreement.text(), timeout=10_000)
        qtbot.waitUntil(lambda: not dialog.loading, timeout=10_000)
        texts = visible_texts(dialog)
        assert "Journal d\u2019audit" in texts and "Quand (UTC)" in texts
        assert "oubli" in texts  # the event kinds in the filter, in French
        kinds = {dialog.model.cell(e, 3) for e in dialog.model.events}
        assert "étiquette" in kinds and "label" not in kinds
        assert dialog.count.text().endswith("événements")
        assert english_left(texts + [dialog.agreement.text(), dialog.count.text()]) == []
        screenshot(dialog, "audit_view_fr")
        assert dialog.minimumSizeHint().width() <= 1366  # not clipped on a 1366x768 screen
