"""The promotion decision's plain words in French: counted with the language's plural rules,
numbers written the French way, and English again when the language is switched back."""

from __future__ import annotations

import numpy as np

from engine.i18n import set_language
from tests.trainer.test_decision import _decide
from trainer.decision import ReferenceCheck


def _outcomes() -> tuple[np.ndarray, np.ndarray]:
    act = np.ones(40, bool)
    act[:8] = False  # the model in use is wrong on 8 of 40
    cand = np.ones(40, bool)
    cand[:2] = False  # the candidate on 2
    return cand, act


def test_decision_translation_plain_words_in_french() -> None:
    set_language("fr")
    d = _decide(*_outcomes(), excluded=1)
    assert d.activate and d.reason.startswith("meilleur sur les photos du centre")
    assert d.reason.endswith("et le jeu de référence a tenu")
    assert d.plain[0] == (
        "juste sur 38 des 40 photos étiquetées du centre au lieu de 32 (6 photos erronées en moins)"
    )
    assert any(line.startswith("a repéré ") and "photos de Mpox sur 10" in line for line in d.plain)
    assert any(line.startswith("1 photo étiquetée sur laquelle") for line in d.plain)
    assert "macro-F1 0,940 sur les 87 photos de référence au lieu de 0,950" in d.plain[-1]


def test_decision_translation_a_refusal_in_french_then_english() -> None:
    cand, act = _outcomes()
    set_language("fr")
    worse = _decide(act, cand, ref=ReferenceCheck(candidate=0.5, active=0.95, n=87))
    assert worse.reason.startswith("le modèle en service est conservé : ")
    assert "il perd trop sur le jeu de référence (macro-F1 0,500 au lieu de 0,950)" in worse.reason
    assert "(6 photos erronées en plus)" in worse.plain[0]
    set_language("en")
    worse = _decide(act, cand, ref=ReferenceCheck(candidate=0.5, active=0.95, n=87))
    assert worse.reason.startswith("kept the model in use: ")
    assert "wrong on 6 more photos" in worse.plain[0]
