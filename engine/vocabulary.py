"""How PoxScreen names and colours its classes, defined once for every screen, report and export.

The store and the model keep the model's raw class names ("Monkeypox", "refer"); people read the
display names below. Two forms: the long one where there is room (the review panel, the report,
the exports' readable columns), the short one on tiles, chips and axis labels. Colours are the
Okabe-Ito palette, safe for colour-blind readers, and always shown beside the class text.

No Qt and nothing heavy: the gallery, the review panel, the PDF report and the CLI all read this
module. Names go through :func:`engine.i18n._` when they are asked for, not when this module is
imported, so a change of language applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.i18n import N_, _

__all__ = [
    "CLASS_ORDER",
    "PALETTE",
    "REFER",
    "UNKNOWN_COLOUR",
    "class_colour",
    "long_name",
    "short_name",
]

#: The class a clinician uses for "refer / uncertain" (stored as this raw name).
REFER = "refer"

#: The shipped model's classes in its output order (the number keys follow it).
CLASS_ORDER: tuple[str, ...] = ("Chickenpox", "Measles", "Monkeypox", "Normal")


@dataclass(frozen=True)
class Okabe:
    """The Okabe-Ito palette (Okabe & Ito 2008), by its own colour names."""

    orange: str = "#E69F00"
    sky_blue: str = "#56B4E9"
    bluish_green: str = "#009E73"
    yellow: str = "#F0E442"
    blue: str = "#0072B2"
    vermillion: str = "#D55E00"
    reddish_purple: str = "#CC79A7"
    grey: str = "#999999"


#: The palette by name, for anything else that needs a colour-blind-safe colour (training curves).
PALETTE = Okabe()

_COLOURS: dict[str, str] = {
    "Chickenpox": PALETTE.orange,
    "Measles": PALETTE.sky_blue,
    "Monkeypox": PALETTE.vermillion,
    "Normal": PALETTE.bluish_green,
    REFER: PALETTE.reddish_purple,
}
#: A class the palette does not know (a custom model's) is grey, still paired with its name.
UNKNOWN_COLOUR = PALETTE.grey

# raw name -> (long form, short form); both marked for translation
_NAMES: dict[str, tuple[str, str]] = {
    "Chickenpox": (N_("Chickenpox"), N_("Chickenpox")),
    "Measles": (N_("Measles"), N_("Measles")),
    "Monkeypox": (N_("Mpox (monkeypox)"), N_("Mpox")),
    "Normal": (N_("Normal skin"), N_("Normal")),
    REFER: (N_("Refer / uncertain"), N_("Refer")),
}


def long_name(raw: str | None) -> str:
    """A class as a clinician reads it where there is room; no class at all reads as a dash."""
    if not raw:
        return "-"
    pair = _NAMES.get(raw)
    return _(pair[0]) if pair else raw


def short_name(raw: str | None) -> str:
    """A class as a tile or an axis label shows it; no class at all reads as a dash."""
    if not raw:
        return "-"
    pair = _NAMES.get(raw)
    return _(pair[1]) if pair else raw


def class_colour(raw: str | None) -> str:
    """The palette colour (``#RRGGBB``) of a raw class name, grey for one it does not know."""
    return _COLOURS.get(raw or "", UNKNOWN_COLOUR)
