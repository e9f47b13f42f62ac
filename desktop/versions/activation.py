"""Activate and Roll back in the models view: when the records advise against the version (it
scored lower than the model in use, was never evaluated or compared, or lacks the out-of-scope
guard) the figures are shown and a reason is asked for, Cancel being the default; the reason is
recorded with who and when, and the version's activations are listed in the view."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from desktop.services import model_checks
from desktop.services import versions as ops
from desktop.services.active_model import ActiveModel
from desktop.services.i18n import N_, _
from desktop.services.store import ModelInfo
from desktop.services.tasks import run_in_pool
from desktop.shell.confirm import ask_reason

#: How a version was made active (the registry's words), as the history lists it.
HOW = {
    "activate": N_("activated"),
    "roll back": N_("rolled back to"),
    "rollback": N_("rolled back to"),
    "promote": N_("promoted"),
}


def _question(review: model_checks.ActivationReview, rollback: bool) -> str:
    """The figures, the marks it will carry, and the question (plain text)."""
    listed = "\n".join(f"\u2022 {c[0].upper()}{c[1:]}." for c in review.concerns)
    marks = ", ".join(m.word for m in review.marks)
    ask = _("Roll back to it anyway?") if rollback else _("Activate it anyway?")
    return _(
        "Before {version} screens your photos:\n\n{concerns}\n\nWhile it is in use, the "
        "status bar shows \u201c\u26a0 Model: {marks}\u201d.\n{question} Your reason is "
        "recorded with your name and the time; you can activate another model in this view at "
        "any time."
    ).format(version=review.target.version, concerns=listed, marks=marks, question=ask)


def history_html(records: list[dict[str, Any]]) -> str:
    """Who activated the version, when, how, and why (newest first)."""
    if not records:
        return "<i>" + _("No activation of this version is recorded.") + "</i>"
    lines = []
    for r in reversed(records[-8:]):
        when = str(r.get("at", ""))[:16].replace("T", " ")
        how = _(HOW[r.get("how")]) if r.get("how") in HOW else str(r.get("how"))
        line = f"{html.escape(when)} \u00b7 {html.escape(str(r.get('who')))} \u00b7 {how}"
        if r.get("forced"):
            advice = _("against the records' advice")
            line += f" <b style='color:#B00020'>{advice}</b>"
        if r.get("reason"):
            line += f": \u201c{html.escape(str(r['reason']))}\u201d"
        lines.append(line)
    return "<br/>".join(lines)


class ActivationQuestions:
    """Mixed into the models view (which provides ``active``, ``selected``, ``say``,
    ``_failed``): changes of the model in use, asked about first where the records advise."""

    active: ActiveModel

    if TYPE_CHECKING:  # provided by the models view

        def selected(self) -> ModelInfo | None: ...

        def say(self, text: str, error: bool = False) -> None: ...

        def _failed(self, exc: BaseException) -> None: ...

    def activate_selected(self) -> None:
        """The selected version screens from now on (through the window's ActiveModel). When its
        records advise against it (lower scores than the model in use, none, or a missing check)
        the figures are shown first and a reason is asked for; Cancel is the default answer."""
        model = self.selected()
        if model is None:
            return
        store, content_hash = self.active.store, model.content_hash
        run_in_pool(
            lambda: ops.review(store, content_hash),
            lambda review: self._change_if_agreed(review, rollback=False),
            self._failed,
        )

    def roll_back(self) -> None:
        """Back to the active model's parent, asked about as Activate is."""
        store = self.active.store
        run_in_pool(
            lambda: ops.review(store, None, rollback=True),
            lambda review: self._change_if_agreed(review, rollback=True),
            self._failed,
        )

    def _change_if_agreed(self, review: model_checks.ActivationReview, rollback: bool) -> None:
        version, reason = review.target.version, ""
        if review.needs_reason:
            answer = self.confirm_activation(review, rollback)
            if answer is None:
                self.say(
                    _("Not activated: {version}; the model in use stays.").format(version=version)
                )
                return
            reason = answer
        if rollback:
            self.active.roll_back(
                on_done=lambda i: self.say(
                    _("Rolled back; active model: {version}").format(version=i.version)
                ),
                on_error=self._failed, ref=review.target.content_hash, reason=reason,
            )  # fmt: skip
        else:
            self.active.activate(
                review.target.content_hash,
                on_done=lambda i: self.say(_("Active model: {version}").format(version=i.version)),
                on_error=self._failed, reason=reason,
            )  # fmt: skip

    def confirm_activation(
        self, review: model_checks.ActivationReview, rollback: bool = False
    ) -> str | None:
        """Ask for a reason before using a version its records advise against (Cancel by
        default); the reason, or None when the clinician cancelled."""
        return ask_reason(
            self,
            _("Roll back to this model?") if rollback else _("Activate this model?"),
            _question(review, rollback),
            _("Roll back to it anyway") if rollback else _("Activate anyway"),
        )
