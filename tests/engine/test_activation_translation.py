"""The model-in-use words the engine hands to the window and the command line (the device,
the marks of a forced or unguarded model, the checks a model lacks, why activation needs a
reason) follow the language chosen, and read English again after it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from engine.activation import ModelChecks, missing_checks, model_marks
from engine.device import select_device
from engine.i18n import set_language
from engine.store import ModelInfo


@pytest.fixture
def french() -> Iterator[None]:
    set_language("fr")
    yield
    set_language("en")


def _info(**meta: object) -> ModelInfo:
    return ModelInfo(
        "a" * 64, "clinic", None, dict(meta), {}, None, datetime.now(timezone.utc), True
    )


def test_translation_device_reason_is_french(french: None) -> None:
    assert select_device("cpu").reason == "processeur (CPU) demandé"


def test_translation_marks_and_missing_checks_are_french_then_english(french: None) -> None:
    forced = {"activations": [{"forced": True, "who": "dr-a", "at": "2026-12-07T10:31:00"}]}
    marks = model_marks(_info(**forced), ModelChecks(False, None, True))
    assert [m.word for m in marks] == ["forcé", "non entraîné", "sans garde"]
    assert "dr-a" in marks[0].why and "contre l'avis" in marks[0].why
    full, bare = ModelChecks(True, 1.4, True), ModelChecks(False, None, False)
    lacks = missing_checks(bare, full, "this")
    assert len(lacks) == 3 and all(line.startswith("ce modèle") for line in lacks)
    assert full.lines()[1] == "calibré : oui (température 1,40)"
    set_language("en")
    assert missing_checks(bare, full)[0].startswith("the new model has no out-of-scope guard")
    assert [m.word for m in model_marks(_info(), ModelChecks(True, None, True))] == ["untrained"]
