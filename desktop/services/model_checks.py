"""What a clinician should know before a model screens (Qt-free, run on a worker thread).

Two questions: which safety checks a model file carries (the out-of-scope guard, a calibration
temperature, the ONNX screening graph), and whether activating a version needs a second
thought (it scored lower than the model in use, was never evaluated, or lacks a check the
model in use has). The answers are sentences shown as they are, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.guard import read_guard_tensors
from engine.modelmeta import graph_path, read_meta
from engine.store import ModelInfo, Store

METRIC_NAMES = {
    "macro_f1": "macro-F1",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
}


@dataclass(frozen=True)
class ModelChecks:
    """The checks one model file carries (None: the file could not be read)."""

    guard: bool | None
    temperature: float | None
    graph: bool

    @property
    def calibrated(self) -> bool:
        return self.temperature is not None and abs(self.temperature - 1.0) > 1e-6

    def lines(self) -> list[str]:
        """One line per check, for the comparison's list."""
        if self.guard is None:
            return ["the model file could not be read"]
        temp = f"yes (temperature {self.temperature:.2f})" if self.calibrated else "no"
        return [
            f"out-of-scope guard: {'yes' if self.guard else 'no'}",
            f"calibrated: {temp}",
            f"ONNX screening graph: {'yes' if self.graph else 'no (screens on PyTorch, slower)'}",
        ]


def checks_of(path: str | Path | None) -> ModelChecks:
    """Read the checks from a model file's header and its guard tensors (no torch)."""
    if not path or not Path(path).is_file():
        return ModelChecks(None, None, False)
    try:
        meta = read_meta(path)
        guard = bool(read_guard_tensors(path))
    except Exception:  # ModelFileError, OSError, ValueError or safetensors' own error
        return ModelChecks(None, None, False)
    return ModelChecks(
        guard, float(meta.temperature), graph_path(path, meta.content_hash).is_file()
    )


def missing_checks(new: ModelChecks, active: ModelChecks, who: str = "the new model") -> list[str]:
    """Plain sentences for each check the model in use has and ``new`` lacks."""
    if new.guard is None or active.guard is None:
        return [] if active.guard is None else [f"{who}'s file could not be read"]
    found = []
    if active.guard and not new.guard:
        found.append(f"{who} has no out-of-scope guard: it cannot flag non-skin pictures")
    if active.calibrated and not new.calibrated:
        found.append(f"{who} is not calibrated: its percentages may read more certain than it is")
    if active.graph and not new.graph:
        found.append(f"{who} has no ONNX screening graph: screening will be slower")
    return found


def _score(metrics: dict[str, Any], split: str, metric: str) -> float | None:
    value = (metrics.get(split) or {}).get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def score_concerns(candidate: ModelInfo, active: ModelInfo) -> list[str]:
    """Why the recorded scores advise against ``candidate`` (empty: they do not)."""
    gate = candidate.metrics.get("gate") or {}
    new, old = gate.get("new_value"), gate.get("active_value")
    name = METRIC_NAMES.get(str(gate.get("metric")), str(gate.get("metric") or "score"))
    if gate and gate.get("active_hash") == active.content_hash and None not in (new, old):
        if gate.get("passed") and new >= old:
            return []
        return [
            f"this model scored {new:.3f} on its {gate.get('n', '?')} check photos; the model "
            f"in use scored {old:.3f} on the same photos ({name})"
        ]
    concerns = []
    if gate:
        concerns.append(
            f"this model was checked against {gate.get('active_version') or 'another model'}, "
            "not against the model in use"
        )
    new_val, old_val = (
        _score(candidate.metrics, "val", "macro_f1"),
        _score(active.metrics, "val", "macro_f1"),
    )
    if new_val is not None and old_val is not None and new_val < old_val:
        concerns.append(
            f"this model scored {new_val:.3f} on its validation photos; the model in use scored "
            f"{old_val:.3f} on its own (macro-F1, not the same photos)"
        )
    if not gate and new_val is None:
        concerns.append(
            "this model has no recorded evaluation: nobody has measured how well it screens"
        )
    return concerns


def activation_concerns(store: Store, content_hash: str) -> list[str]:
    """Why activating ``content_hash`` needs a second thought (empty: go ahead)."""
    active = store.active_model()
    candidate = next((m for m in store.models() if m.content_hash == content_hash), None)
    if active is None or candidate is None or active.content_hash == content_hash:
        return []
    concerns = score_concerns(candidate, active)
    concerns += missing_checks(checks_of(candidate.path), checks_of(active.path), "this model")
    return concerns


def comparison_checks(store: Store, new_model: Path) -> dict[str, Any]:
    """The checks of the comparison's new model and of the model in use, and what the new one
    lacks (the model in use now: the one a promotion would replace)."""
    active = store.active_model()
    new, old = checks_of(new_model), checks_of(active.path if active is not None else None)
    return {"new": new, "active": old, "missing": missing_checks(new, old)}
