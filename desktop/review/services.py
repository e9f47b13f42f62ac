"""What the review panel needs from the application, and the class colours it shows.

The main window builds one :class:`ReviewServices` and hands it to the panel; the panel never
opens a store or loads a model by itself, so tests can give it a temporary store and a small
model, and the app can swap the model without rebuilding the panel.

Wiring in a main window::

    panel = ReviewPanel(services)
    panel.navigate.connect(gallery.go)           # "next" | "prev" | "unreviewed" | "uncertain"
    panel.labelled.connect(gallery.refresh_row)  # (sha256, label now in force or "")
    panel.reveal.connect(gallery.select_sha)     # optional: an undo changed another image
    review_menu.addActions(panel.review_actions())
    gallery.current_changed.connect(panel.show_item)   # a ReviewItem, or None
    # settings: panel.set_colormap(name), panel.set_opacity(x); model change:
    # panel.reset_explainer(); closing: panel.wait_idle()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QColor

#: The shipped model's classes, in its order (the number keys follow it); a model with other
#: classes replaces them when its first image is shown.
DEFAULT_CLASSES: tuple[str, ...] = ("Chickenpox", "Measles", "Monkeypox", "Normal")

#: Okabe-Ito colours (safe for colour-blind readers), always shown together with the class text.
CLASS_COLOURS: dict[str, str] = {
    "Chickenpox": "#E69F00",
    "Measles": "#56B4E9",
    "Monkeypox": "#D55E00",
    "Normal": "#009E73",
    "refer": "#CC79A7",
}
#: A class not in the palette (a custom model) gets a neutral grey, still paired with its name.
OTHER_COLOUR = "#7F7F7F"

#: How the panel spells a class for a clinician (the store keeps the model's class names).
DISPLAY_NAMES: dict[str, str] = {"Monkeypox": "Mpox (Monkeypox)", "refer": "Refer / uncertain"}


def class_colour(name: str | None) -> QColor:
    """The palette colour of a class (``refer`` included), grey for an unknown one."""
    return QColor(CLASS_COLOURS.get(name or "", OTHER_COLOUR))


def display_name(name: str | None) -> str:
    """A class name as a clinician reads it; ``None`` (no label) becomes a dash."""
    if not name:
        return "-"
    return DISPLAY_NAMES.get(name, name)


@dataclass
class ReviewServices:
    """Everything the review panel calls.

    ``explainer`` is a zero-argument callable returning an ``engine.explain.Explainer``; it may
    import torch and load a model, so the panel calls it only on a worker thread and caches the
    result. ``who`` returns the clinician name recorded with each label. ``pool`` runs every
    decode, Grad-CAM and store write. ``colormap`` and ``opacity`` are the overlay defaults.
    """

    store: Any
    explainer: Callable[[], Any]
    who: Callable[[], str]
    pool: QThreadPool
    colormap: str = "inferno"
    opacity: float = 0.45
