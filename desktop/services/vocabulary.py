"""How classes are named and coloured on screen: the engine's vocabulary, re-exported for widgets.

Tiles, chips and chart axes use :func:`short_name`; the review header and panel and the dialogs
use :func:`long_name`. Colours are the Okabe-Ito palette, always shown beside the class text.
"""

from __future__ import annotations

from engine.vocabulary import (
    CLASS_ORDER,
    PALETTE,
    REFER,
    UNKNOWN_COLOUR,
    class_colour,
    long_name,
    short_name,
)

__all__ = [
    "CLASS_ORDER",
    "PALETTE",
    "REFER",
    "UNKNOWN_COLOUR",
    "class_colour",
    "long_name",
    "short_name",
]
