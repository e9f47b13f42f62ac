"""Metrics agree with scikit-learn on a known confusion matrix; ECE and temperature by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef, precision_score, recall_score

from trainer.calibration import fit_temperature, softmax_t
from trainer.metrics import classification_metrics, expected_calibration_error, is_better

CLASSES = ["A", "B", "C"]
# rows: true class, columns: predicted class
CM = np.array([[5, 1, 0], [2, 3, 1], [0, 1, 7]])


def _from_confusion(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = [], []
    for t in range(cm.shape[0]):
        for p in range(cm.shape[1]):
            y_true += [t] * int(cm[t, p])
            y_pred += [p] * int(cm[t, p])
    return np.array(y_true), np.array(y_pred)


def test_metrics_match_sklearn_and_hand_values_on_known_confusion_matrix() -> None:
    y, pred = _from_confusion(CM)
    probs = np.full((len(y), 3), 0.1)
    probs[np.arange(len(y)), pred] = 0.8
    m = classification_metrics(y, probs, CLASSES)
    assert m["confusion_matrix"] == CM.tolist()
    assert m["accuracy"] == pytest.approx(15 / 20)
    # class A: precision 5/7, recall 5/6 (by hand)
    assert m["per_class"]["A"]["precision"] == pytest.approx(5 / 7)
    assert m["per_class"]["A"]["recall"] == pytest.approx(5 / 6)
    assert m["per_class"]["B"]["support"] == 6
    for avg in ("macro", "weighted"):
        assert m[f"{avg}_precision"] == pytest.approx(precision_score(y, pred, average=avg))
        assert m[f"{avg}_recall"] == pytest.approx(recall_score(y, pred, average=avg))
        assert m[f"{avg}_f1"] == pytest.approx(f1_score(y, pred, average=avg))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(np.mean([5 / 6, 3 / 6, 7 / 8]))
    # perfectly ranked scores for class C give ROC-AUC 1 and AP 1
    assert 0.0 <= m["per_class"]["A"]["roc_auc"] <= 1.0
    assert m["ece"] == pytest.approx(abs(0.75 - 0.8))  # one bin: accuracy 0.75, confidence 0.8


def test_ece_hand_computed_two_bins() -> None:
    # four predictions at confidence 0.9 (3 right), two at 0.6 (1 right), 10 bins
    probs = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    y = np.array([0, 0, 0, 1, 0, 1])
    expected = 4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.5 - 0.6)
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(expected)


def test_absent_class_gives_none_auc_not_a_crash() -> None:
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    m = classification_metrics(y, probs, CLASSES)
    assert m["per_class"]["C"]["roc_auc"] is None
    assert m["per_class"]["C"]["support"] == 0
    assert m["macro_f1"] == pytest.approx(1.0)  # averaged over the classes present


def test_temperature_scaling_recovers_the_true_temperature() -> None:
    rng = np.random.default_rng(0)
    n, k, true_t = 4000, 4, 2.5
    logits = rng.normal(0, 3, (n, k))
    probs = softmax_t(logits, true_t)  # the labels really follow softmax(logits / 2.5)
    y = np.array([rng.choice(k, p=p) for p in probs])
    t = fit_temperature(logits, y)
    assert t == pytest.approx(true_t, rel=0.1)
    before = expected_calibration_error(softmax_t(logits, 1.0), y)
    after = expected_calibration_error(softmax_t(logits, t), y)
    assert after < before / 2


def test_is_better_respects_direction_and_rejects_unknown_metric() -> None:
    assert is_better({"macro_f1": 0.9}, {"macro_f1": 0.8})
    assert not is_better({"macro_f1": 0.8}, {"macro_f1": 0.8})
    assert is_better({"ece": 0.02}, {"ece": 0.05}, metric="ece")
    assert not is_better({"macro_f1": 0.85}, {"macro_f1": 0.8}, min_delta=0.1)
    with pytest.raises(ValueError, match="unknown comparison metric"):
        is_better({}, {}, metric="vibes")
