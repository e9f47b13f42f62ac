"""PoxScreen's own text in the user's language: one gettext domain for the engine, the trainer,
the command line and the desktop (desktop.services.i18n re-exports this module).

Catalogues live in ``resources/locale/<lang>/LC_MESSAGES/poxscreen.mo`` (compiled from the
``.po`` beside them by ``make translations``). Text is translated when it is shown, never when
a module is imported: module-level constants are marked with :func:`N_` and passed through
:func:`_` at use, so :func:`set_language` takes effect at once, also at run time.

The language comes from ``--lang`` or Settings (:func:`set_language`), else from the system
locale (``POXSCREEN_LANG``, ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, then the
platform's locale), else English. A language chosen with :func:`set_language` is also put in
``POXSCREEN_LANG``, so a child process (the trainer) speaks the same language. Numbers and dates
follow the language through Babel, imported only when something is formatted (start-up stays
lean).
"""

from __future__ import annotations

import gettext as _gettext
import locale
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from engine.paths import resources_dir

__all__ = [
    "DOMAIN",
    "LANG_ENV",
    "LANGUAGE_NAMES",
    "SUPPORTED",
    "N_",
    "_",
    "current_language",
    "format_date",
    "format_datetime",
    "format_number",
    "format_percent",
    "gettext",
    "locale_dir",
    "ngettext",
    "normalise_language",
    "set_language",
    "system_language",
]

DOMAIN = "poxscreen"
#: The languages PoxScreen ships; English is the source language (no catalogue needed).
SUPPORTED: tuple[str, ...] = ("en", "fr", "pt")
DEFAULT = "en"
#: Each language in its own words, for a language picker.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "fr": "Français", "pt": "Português"}
#: Names the language for this process and its children (set by :func:`set_language`).
LANG_ENV = "POXSCREEN_LANG"
#: Babel locales for numbers and dates: English as most English-speaking clinics write dates
#: (day before month); Portuguese neutral between Brazil and Mozambique ("pt" is Brazil's).
_BABEL_LOCALE = {"en": "en_GB", "fr": "fr", "pt": "pt"}

_state: dict[str, Any] = {"lang": None, "tr": None, "exported": None}


def locale_dir() -> Path:
    """The folder of the compiled catalogues (a source checkout or the packaged app)."""
    return resources_dir() / "locale"


def normalise_language(code: str | None) -> str | None:
    """``"fr_FR.UTF-8"``, ``"pt-BR"``, ``"French_France"`` -> ``"fr"``, ``"pt"``; None when the
    code names no language PoxScreen ships (``"C"``, ``"de"``, empty)."""
    if not code:
        return None
    head = code.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    words = {"english": "en", "french": "fr", "portuguese": "pt"}  # Windows locale names
    head = words.get(head, head)
    return head if head in SUPPORTED else None


def system_language() -> str:
    """The language the system asks for, as POSIX gettext reads it; English when none is
    supported (or the locale is ``C``/``POSIX``)."""
    wanted = os.environ.get(LANG_ENV, "")
    if normalise_language(wanted):
        return str(normalise_language(wanted))
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if not value:
            continue
        for entry in value.split(":"):
            found = normalise_language(entry)
            if found:
                return found
        if name != "LANGUAGE":  # the first locale variable set decides, as for POSIX
            return DEFAULT
    try:
        platform = locale.getlocale()[0]
    except ValueError:
        platform = None
    return normalise_language(platform) or DEFAULT


def set_language(code: str | None) -> str:
    """Use ``code`` (``"fr"``, ``"pt_BR"``...; None: the system's) from now on; returns the
    language chosen (English for one PoxScreen does not ship)."""
    if not code and _state.get("exported") and os.environ.get(LANG_ENV) == _state["exported"]:
        del os.environ[LANG_ENV]  # this process's own earlier choice is not the system's
    lang = (normalise_language(code) if code else system_language()) or DEFAULT
    if lang == DEFAULT:
        tr: _gettext.NullTranslations = _gettext.NullTranslations()
    else:
        tr = _gettext.translation(DOMAIN, locale_dir(), languages=[lang], fallback=True)
    _state["lang"], _state["tr"] = lang, tr
    if code:  # children (the trainer) follow a choice; the system's they read themselves
        os.environ[LANG_ENV] = _state["exported"] = lang
    return lang


def current_language() -> str:
    """The language in use (``"en"``, ``"fr"`` or ``"pt"``)."""
    if _state["lang"] is None:
        set_language(None)
    return str(_state["lang"])


def _translations() -> _gettext.NullTranslations:
    if _state["tr"] is None:
        set_language(None)
    return _state["tr"]  # type: ignore[no-any-return]


def gettext(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    return _translations().gettext(message)


#: The usual short name of :func:`gettext` (``from engine.i18n import _``); modules whose
#: tests refuse underscore imports write ``from engine.i18n import gettext as _``.
_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, as the current language counts."""
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark ``message`` for extraction without translating it (pass it through :func:`_` when
    it is shown)."""
    return message


def _babel_locale() -> str:
    return _BABEL_LOCALE.get(current_language(), "en_GB")


def format_number(value: float, decimals: int | None = None) -> str:
    """``value`` with the language's decimal sign and grouping (``0,85`` in French);
    ``decimals`` fixes the digits after the sign (None: as needed, at most three)."""
    from babel.numbers import format_decimal

    pattern = None if decimals is None else "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=_babel_locale())


def format_percent(value: float, decimals: int = 0) -> str:
    """A share (0.85) as the language writes a percentage (``85 %`` in French)."""
    from babel import Locale
    from babel.numbers import format_percent as babel_percent

    loc = _babel_locale()
    pattern = Locale.parse(loc).percent_formats[None].pattern  # "#,##0 %" in French
    if decimals:
        pattern = pattern.replace("0", "0." + "0" * decimals, 1)
    return babel_percent(value, format=pattern, locale=loc)


def format_date(value: date | datetime, format: str = "medium") -> str:
    """A date as the language writes it (``format``: short, medium, long or a CLDR pattern)."""
    from babel.dates import format_date as babel_date

    return babel_date(value, format=format, locale=_babel_locale())


def format_datetime(value: datetime, *, seconds: bool = False, zone: bool = False) -> str:
    """A date and time as the language writes them (``7 déc. 2026, 14:05`` in French), in the
    value's own time zone; ``zone`` adds the zone's short name."""
    from babel.dates import format_time, get_datetime_format

    loc = _babel_locale()
    time_text = format_time(value, "medium" if seconds else "short", locale=loc)
    pattern = get_datetime_format("medium", locale=loc)
    text = pattern.replace("{1}", format_date(value)).replace("{0}", time_text)
    if zone and value.tzinfo is not None:
        text += f" {value.strftime('%Z')}"
    return text
