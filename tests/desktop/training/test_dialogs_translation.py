"""The fine-tune dialog, its decision and the comparison in French: no English msgid whose
French differs, no English words left, and the dialog still fits a 1366x768 screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.desktop.dialog_translation_support import english_left, french, visible_texts
from tests.desktop.models_support import labelled_store, screenshot
from tests.desktop.training import test_finetune_fit as english_fit
from tests.desktop.training.test_decision import PROMOTION, _finish
from tests.desktop.training.test_finetune_dialog import _open


def test_translation_finetune_dialog_fits_1366x768_in_french(
    qtbot: Any, store_env: Path, monkeypatch: Any
) -> None:
    """French is about a fifth longer: the English fit test again, in French, and no row wider
    than the screen; $POXSCREEN_SCREENSHOTS=docs/screenshots saves finetune_dialog_fr.png."""
    from PySide6.QtWidgets import QApplication

    from desktop.training.finetune_dialog import FinetuneDialog

    with french():
        english_fit.test_the_dialog_fits_a_1366x768_screen_with_advanced_open_or_not(
            qtbot, store_env, monkeypatch
        )
        dialog = next(  # the one just opened (an earlier test's window may not be deleted yet)
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, FinetuneDialog) and w.isVisible()
        )
        assert dialog.windowTitle() == "Affiner le modèle"
        assert dialog.minimumSizeHint().width() <= english_fit.SMALL.width()
        dialog.resize(1100, 648)
        qtbot.wait(50)
        row = dialog.recipe.layout().itemAt(0).layout()  # the main settings in one row
        assert row.minimumSize().width() <= dialog.recipe.width()
        for button in (dialog.start_button, dialog.stop_button, dialog.compare_button):
            assert button.width() >= button.sizeHint().width(), button.text()
        screenshot(dialog, "finetune_dialog_fr")


def test_translation_finetune_dialog_speaks_french(qtbot: Any, store_env: Path) -> None:
    with french():
        ls = labelled_store(store_env, {"Blue": 3, "Green": 12}, refer=2)
        dialog = _open(qtbot, ls.store, store_env / "runs")
        dialog.recipe.advanced_toggle.setChecked(True)
        qtbot.wait(50)
        texts = visible_texts(dialog)
        assert "Affiner le modèle" in texts and "Époques" in texts
        assert "Taux d\u2019apprentissage" in texts
        assert "Comparer avec le modèle actif..." in texts
        assert english_left(texts) == []
        assert "Blue : seulement 3 exemples" in dialog.warnings.text()
        ls.store.close()


#: The trainer writes its decision in the language it was started in (POXSCREEN_LANG).
PROMOTION_FR = dict(
    PROMOTION,
    reason="macro-F1 0,9375000000001 dépasse 0,8125 de plus de 0,01",
    plain=["15 photos Blue sur 16 repérées au lieu de 12", "erreur sur 3 photos de moins"],
)


def test_translation_decision_and_comparison_speak_french(qtbot: Any, store_env: Path) -> None:
    with french():
        dialog, ls = _finish(qtbot, store_env, PROMOTION_FR)
        dialog.decision.toggle.click()
        compare = dialog.compare
        qtbot.waitUntil(lambda: "Lecture" not in compare.checks.text(), timeout=20_000)
        texts = visible_texts(dialog.decision) + visible_texts(compare)
        assert "Promouvoir (en faire le modèle actif)" in texts
        assert "jugé par validation croisée" in dialog.decision.headline.text()
        assert "garde-fou hors champ : non" in compare.checks.text()
        assert english_left(texts) == []
        assert (
            compare.minimumSizeHint().width() <= 1366 and compare.minimumSizeHint().height() <= 728
        )
        compare.resize(1060, 700)
        for button in (compare.promote_button, compare.discard_button):
            assert button.width() >= button.sizeHint().width(), button.text()
        screenshot(compare, "compare_view_fr")
        ls.store.close()


def test_translation_progress_lines_speak_french(qtbot: Any) -> None:
    """The live status under the curves: start, steps, epochs, stopping, times, in French."""
    from desktop.training.progress_view import TrainingProgress

    with french():
        view = TrainingProgress()
        qtbot.addWidget(view)
        view.restart("")
        view.handle({"event": "start", "n_train": 30, "n_val": 8, "epochs": 3, "device": "cpu",
                     "device_reason": "", "time": 100.0})  # fmt: skip
        assert view.status.text().startswith("Entraînement sur 30 images, validation sur 8")
        view.handle({"event": "step", "epoch": 1, "epochs": 3, "step": 2, "steps": 4,
                     "loss": 0.5, "time": 110.0})  # fmt: skip
        assert view.status.text() == "Époque 1/3, étape 2/4, perte d\u2019entraînement 0,500"
        view.handle({"event": "epoch", "epoch": 1, "epochs": 3, "val_macro_f1": 0.75,
                     "best_score": 0.75, "best_epoch": 1, "time": 120.0})  # fmt: skip
        assert "macro-F1 de validation 0,750" in view.status.text()
        assert "reste environ" in view.times.text()
        assert view.bar.text().endswith("\u00a0%")
        texts = visible_texts(view) + [view.status.text(), view.times.text()]
        assert english_left(texts) == []


def test_translation_activation_history_and_question_speak_french() -> None:
    from types import SimpleNamespace

    from desktop.versions.activation import _question, history_html

    with french():
        records = [{"at": "2026-12-07T10:31", "who": "dr-a", "how": "roll back", "forced": True,
                    "reason": "meilleur sur nos photos"}]  # fmt: skip
        text = history_html(records)
        assert "retour à ce modèle" in text and "contre l\u2019avis des relevés" in text
        review = SimpleNamespace(
            concerns=["macro-F1 0,80 contre 0,85"], marks=[SimpleNamespace(word="non évalué")],
            target=SimpleNamespace(version="clinic-v2@abc"),
        )  # fmt: skip
        question = _question(review, rollback=True)
        assert question.startswith("Avant que clinic-v2@abc ne trie vos photos")
        assert "Y revenir quand même ?" in question
        assert english_left([text, question]) == []
