"""The translation catalogues: committed .mo files match their .po sources, French is complete,
every string the code marks is in the catalogues, and text is translated when it is shown."""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from engine import i18n
from engine.vocabulary import CLASS_ORDER, REFER, long_name, short_name

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "resources" / "locale"
LANGUAGES = ("fr", "pt")
#: What `make translations` extracts: keep in step with the Makefile.
SOURCES = ("engine", "trainer", "desktop", "launcher")
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "N_": None, "ngettext": (1, 2)}


def _po(lang: str):
    with (LOCALE / lang / "LC_MESSAGES" / "poxscreen.po").open("rb") as f:
        return read_po(f, locale=lang)


def _frozen(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _messages(catalog) -> dict[object, object]:
    """msgid -> msgstr (tuples for plural forms: the .mo reader gives lists)."""
    return {_frozen(m.id): _frozen(m.string) for m in catalog if m.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translation_mo_files_are_compiled_from_their_po(lang: str) -> None:
    """A .po edited without `make translations` leaves the app reading the old .mo."""
    source = _po(lang)
    compiled = io.BytesIO()
    write_mo(compiled, source)  # what `pybabel compile` makes of the .po (fuzzy left out)
    compiled.seek(0)
    expected = _messages(read_mo(compiled))
    with (LOCALE / lang / "LC_MESSAGES" / "poxscreen.mo").open("rb") as f:
        committed = _messages(read_mo(f))
    assert committed == expected, "run `make translations` and commit the .mo files"


def test_translation_french_catalogue_is_complete() -> None:
    catalog = _po("fr")
    untranslated, fuzzy = [], []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings):
            untranslated.append(m.id)
        if m.fuzzy:
            fuzzy.append(m.id)
    assert untranslated == [] and fuzzy == []
    assert catalog.num_plurals == 2


def _extracted() -> set[object]:
    found: set[object] = set()
    for folder in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message)
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translation_catalogues_hold_every_string_of_the_code(lang: str) -> None:
    """A string newly marked with _() but not yet in the catalogues: run `make translations`
    (and translate it; French must stay complete)."""
    missing = _extracted() - set(_messages(_po(lang)))
    assert missing == set(), f"not in {lang}/poxscreen.po: {sorted(map(str, missing))[:10]}"


def test_translation_markers_are_never_inside_f_strings() -> None:
    """Python 3.11's tokenizer hands pybabel an f-string as one token: a _("...") inside it is
    never extracted, so it would stay English for ever."""
    hidden = []
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.JoinedStr):
                    continue
                for call in ast.walk(node):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Name)
                        and call.func.id in KEYWORDS
                        and call.args
                        and isinstance(call.args[0], ast.Constant)
                    ):
                        hidden.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert hidden == []


def test_translation_switches_class_names_at_run_time() -> None:
    i18n.set_language("fr")
    assert [long_name(c) for c in CLASS_ORDER] == [
        "Varicelle",
        "Rougeole",
        "Mpox (variole simienne)",
        "Peau normale",
    ]
    assert long_name(REFER) == "À référer / incertain" and short_name("Monkeypox") == "Mpox"
    i18n.set_language("pt")
    assert long_name("Measles") == "Sarampo" and long_name("Chickenpox") == "Varicela"
    i18n.set_language("en")
    assert long_name("Measles") == "Measles" and long_name(REFER) == "Refer / uncertain"


def test_translation_plural_forms_follow_the_language() -> None:
    i18n.set_language("fr")
    assert (
        i18n.ngettext("{n} of {total} photo", "{n} of {total} photos", 1) == "{n} photo sur {total}"
    )
    assert (
        i18n.ngettext("{n} of {total} photo", "{n} of {total} photos", 3)
        == "{n} photos sur {total}"
    )
    i18n.set_language("en")
    assert (
        i18n.ngettext("{n} of {total} photo", "{n} of {total} photos", 0) == "{n} of {total} photos"
    )


def test_translation_numbers_and_dates_follow_the_language() -> None:
    when = datetime(2026, 3, 5, 14, 7, tzinfo=timezone.utc)
    i18n.set_language("fr")
    assert i18n.format_number(0.85, 2) == "0,85"
    assert i18n.format_number(12345) == "12\u202f345"
    assert i18n.format_percent(0.853) == "85\xa0%"
    assert i18n.format_date(when) == "5 mars 2026"
    assert i18n.format_datetime(when) == "5 mars 2026, 14:07"
    i18n.set_language("pt")
    assert i18n.format_number(1234.5, 1) == "1.234,5"
    i18n.set_language("en")
    assert i18n.format_number(0.85, 2) == "0.85" and i18n.format_percent(0.853) == "85%"
    assert i18n.format_datetime(when, zone=True) == "5 Mar 2026, 14:07 UTC"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANGUAGE": "de:pt_BR", "LANG": "en_US.UTF-8"}, "pt"),
        ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),
        ({"LC_MESSAGES": "fr_CD.UTF-8"}, "fr"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"POXSCREEN_LANG": "pt", "LANG": "fr_FR.UTF-8"}, "pt"),
    ],
)
def test_translation_language_comes_from_the_system_locale(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name in ("POXSCREEN_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert i18n.system_language() == expected


def test_translation_back_to_the_system_language_after_a_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings' "system language" after a choice: the choice exported for children must not
    pass for the system's."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "pt_MZ.UTF-8")
    assert i18n.set_language("fr") == "fr" and os.environ["POXSCREEN_LANG"] == "fr"
    assert i18n.set_language(None) == "pt" and long_name("Measles") == "Sarampo"


def test_translation_unknown_language_falls_back_to_english() -> None:
    assert i18n.set_language("de_DE") == "en" and long_name("Measles") == "Measles"
    assert i18n.normalise_language("pt-BR") == "pt" and i18n.normalise_language("French_France")


def test_translation_a_child_process_speaks_the_language_set() -> None:
    """set_language passes the language on (the trainer child writes the decision's words)."""
    i18n.set_language("fr")
    code = "from engine.vocabulary import long_name; print(long_name('Measles'))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "Rougeole"


def test_translation_starts_without_babel() -> None:
    """Start-up stays lean: Babel is imported only when a number or date is formatted."""
    code = (
        "import sys, engine.i18n as i; i.set_language('fr'); i._('Measles');"
        "print('babel' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
