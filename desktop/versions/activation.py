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
from desktop.services.store import ModelInfo
from desktop.services.tasks import run_in_pool
from desktop.shell.confirm import ask_reason


def _question(review: model_checks.ActivationReview, verb: str) -> str:
    """The figures, the marks it will carry, and the question (plain text)."""
    listed = "\n".join(f"\u2022 {c[0].upper()}{c[1:]}." for c in review.concerns)
    marks = ", ".join(m.word for m in review.marks)
    return (
        f"Before {review.target.version} screens your photos:\n\n{listed}\n\n"
        f"While it is in use, the status bar shows \u201c\u26a0 Model: {marks}\u201d.\n"
        f"{verb} it anyway? Your reason is recorded with your name and the time; you can "
        "activate another model in this view at any time."
    )


def history_html(records: list[dict[str, Any]]) -> str:
    """Who activated the version, when, how, and why (newest first)."""
    if not records:
        return "<i>No activation of this version is recorded.</i>"
    lines = []
    for r in reversed(records[-8:]):
        when = str(r.get("at", ""))[:16].replace("T", " ")
        line = f"{html.escape(when)} \u00b7 {html.escape(str(r.get('who')))} \u00b7 {r.get('how')}"
        if r.get("forced"):
            line += " <b style='color:#B00020'>against the records' advice</b>"
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
                self.say(f"Not activated: {version}; the model in use stays.")
                return
            reason = answer
        if rollback:
            self.active.roll_back(
                on_done=lambda i: self.say(f"Rolled back; active model: {i.version}"),
                on_error=self._failed, ref=review.target.content_hash, reason=reason,
            )  # fmt: skip
        else:
            self.active.activate(
                review.target.content_hash,
                on_done=lambda i: self.say(f"Active model: {i.version}"),
                on_error=self._failed, reason=reason,
            )  # fmt: skip

    def confirm_activation(
        self, review: model_checks.ActivationReview, rollback: bool = False
    ) -> str | None:
        """Ask for a reason before using a version its records advise against (Cancel by
        default); the reason, or None when the clinician cancelled."""
        verb = "Roll back to" if rollback else "Activate"
        return ask_reason(
            self,
            "Roll back to this model?" if rollback else "Activate this model?",
            _question(review, verb),
            f"{verb} anyway" if rollback else "Activate anyway",
        )
