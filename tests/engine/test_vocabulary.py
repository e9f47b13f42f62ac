"""The one class vocabulary: names and colours every screen and report reads."""

from __future__ import annotations

import re

from engine import vocabulary as v


def test_every_shipped_class_has_a_distinct_colour_and_both_names():
    colours = {v.class_colour(c) for c in (*v.CLASS_ORDER, v.REFER)}
    assert len(colours) == len(v.CLASS_ORDER) + 1
    assert v.UNKNOWN_COLOUR not in colours
    for raw in (*v.CLASS_ORDER, v.REFER):
        assert re.fullmatch(r"#[0-9A-F]{6}", v.class_colour(raw))
        assert v.long_name(raw) and v.short_name(raw)
        assert len(v.short_name(raw)) <= len(v.long_name(raw))


def test_mpox_is_named_as_clinicians_say_it():
    assert v.short_name("Monkeypox") == "Mpox"
    assert v.long_name("Monkeypox").startswith("Mpox")


def test_unknown_and_missing_classes():
    assert v.long_name("Scabies") == "Scabies"
    assert v.short_name("Scabies") == "Scabies"
    assert v.class_colour("Scabies") == v.UNKNOWN_COLOUR
    assert v.long_name(None) == v.short_name("") == "-"
