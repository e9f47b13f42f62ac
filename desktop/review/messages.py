"""What the review panel's status line and photo view say, in the user's language (kept out of
the panel, which only wires)."""

from __future__ import annotations

from desktop.services.i18n import _
from desktop.services.vocabulary import long_name


def failed_text(kind: str, message: str) -> str:
    """A label, undo or redo that did not save; a photo or Grad-CAM that did not load."""
    texts = {
        "label": _("Label NOT saved: {reason}"),
        "undo": _("Undo failed: {reason}"),
        "redo": _("Redo failed: {reason}"),
        "explain": _("Grad-CAM failed: {reason}"),
    }
    return texts.get(kind, _("Loading failed: {reason}")).format(reason=message)


def saved_text(kind: str, label: str | None, name: str, on_show: bool = True) -> str:
    """A label, undo or redo saved for ``name`` (another photo than the one on show: say it)."""
    now = long_name(label)
    if not on_show:
        text = {"undo": _("Undo on {name}: now {label}"), "redo": _("Redo on {name}: now {label}")}
        return text.get(kind, _("Label on {name}: now {label}")).format(name=name, label=now)
    text = {
        "undo": _("Undo saved; label now {label} for {name}"),
        "redo": _("Redo saved; label now {label} for {name}"),
    }
    return text.get(kind, _("Saved {label} for {name}")).format(name=name, label=now)


def saving_text(label: str) -> str:
    return _("Saving {label}...").format(label=long_name(label))


def loading_text(name: str) -> str:
    return _("Loading {name}...").format(name=name)


def cannot_show_text(message: str) -> str:
    return _("Cannot show this photo:\n{reason}").format(reason=message)
