"""Model operations for the models view and the comparison (Qt-free; the adapter's other half).

Promotion, rollback and agreement go through the store's own methods when it has them (issue
#8: ``store.promote``, ``store.rollback``, ``store.agreement``); until then they fall back to
the registry's plain activation with the trainer's gate decision read from the run's report,
and to agreement counted from the review queue. Model files are validated by a full load
(engine.checkpoint: hash, architecture, classes) before anything is registered.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path
from engine.store import REFER, ModelInfo, ReviewFilter, Store, StoreError


class PromotionRefused(Exception):
    """The gate said no and the user did not force it; the message is the gate's reason."""


@dataclass
class Comparison:
    """The active model and the new one on the same validation images (from report.json)."""

    run_dir: Path
    classes: list[str]
    new_version: str
    new_model: Path
    new_val: dict[str, Any]
    active_version: str | None
    active_val: dict[str, Any] | None
    decision: dict[str, Any]
    figures: dict[str, Path] = field(default_factory=dict)
    status: str = ""

    @property
    def gate_allows(self) -> bool:
        return bool(self.decision.get("activate"))


def load_comparison(run_dir: Path) -> Comparison:
    """Read a finished training run's report; StoreError naming the file when unusable."""
    path = Path(run_dir) / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        val = report["splits"]["val"]
        in_use = report.get("model_in_use") or {}
        figures = {
            name.removeprefix("val_").removesuffix(".png"): Path(run_dir) / name
            for name in val.get("figures", [])
        }
        return Comparison(
            run_dir=Path(run_dir),
            classes=list(report["classes"]),
            new_version=str(report["version"]),
            new_model=Path(report["model"]),
            new_val=dict(val["metrics"]),
            active_version=in_use.get("version"),
            active_val=in_use.get("val"),
            decision=dict(report.get("promotion") or {}),
            figures=figures,
            status=str(report.get("status", "")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: not a readable training report ({exc})") from exc


def validate_model_file(path: Path) -> Any:
    """Load the whole file (hash, architecture, classes checked); ModelFileError says why not."""
    from engine.checkpoint import load_model

    _, meta = load_model(path)
    return meta


def import_model(store: Store, path: Path) -> ModelInfo:
    """Validate, copy beside the database and register (not activated)."""
    validate_model_file(path)
    return store.add_model_file(path, activate=False)


def promote(store: Store, comparison: Comparison, *, force: bool, who: str) -> ModelInfo:
    """Make the run's model active if the gate allows it, or when forced (recorded as forced)."""
    if hasattr(store, "promote"):  # issue #8: the gate re-checked inside the transaction
        result = store.promote(comparison.new_version.rsplit("@", 1)[-1], force=force)
        return getattr(result, "model", None) or store.active_model()
    if not comparison.gate_allows and not force:
        raise PromotionRefused(str(comparison.decision.get("reason", "the gate said no")))
    meta = validate_model_file(comparison.new_model)
    info = store.add_model_file(comparison.new_model, activate=True)
    decision = {**comparison.decision, "forced": bool(force and not comparison.gate_allows)}
    run_id = store.start_training_run(
        comparison.active_version.rsplit("@", 1)[-1] if comparison.active_version else None,
        {"run_dir": str(comparison.run_dir), "promoted_by": who},
        {},
    )
    store.update_training_run(
        run_id, status="finished", result_hash=meta.content_hash, metrics={"promotion": decision}
    )
    return info


def discard(run_dir: Path) -> None:
    """Drop a run's model file (never registered: nothing else refers to it)."""
    (Path(run_dir) / "model.safetensors").unlink(missing_ok=True)
    (Path(run_dir) / "DISCARDED").write_text("discarded from the GUI\n")


def rollback(store: Store) -> ModelInfo:
    """Back to the active model's parent (the version it was fine-tuned from)."""
    if hasattr(store, "rollback"):
        return store.rollback()
    active = store.active_model()
    if active is None or not active.parent_hash:
        raise StoreError("the active model has no recorded parent to roll back to")
    return store.activate_model(active.parent_hash)


def agreement(store: Store, version: str) -> dict[str, tuple[int, int]]:
    """Per predicted class: (agreed, disagreed) clinician labels on this version's predictions."""
    if hasattr(store, "agreement"):
        counts = store.agreement(version)
        return {k: (int(v.agreed), int(v.disagreed)) for k, v in counts.items()}
    agreed: Counter[str] = Counter()
    disagreed: Counter[str] = Counter()
    flt = ReviewFilter(model_version=version, reviewed=True)
    after = None
    while True:
        page = store.review_queue(flt, limit=1000, after=after)
        for item in page.items:
            if item.current_label == REFER:
                continue
            (agreed if item.current_label == item.top_class else disagreed)[item.top_class] += 1
        if page.next_cursor is None:
            break
        after = page.next_cursor
    return {c: (agreed[c], disagreed[c]) for c in sorted(set(agreed) | set(disagreed))}


def export_model(info: ModelInfo, dest: Path) -> Path:
    if not info.path or not Path(info.path).is_file():
        raise StoreError(f"{info.version}: its model file is not on this computer")
    with atomic_path(dest) as tmp:
        shutil.copyfile(info.path, tmp)
    return Path(dest)


def model_card(info: ModelInfo) -> str:
    """A readable card from the model's recorded metadata (Markdown)."""
    meta, metrics = info.meta, info.metrics
    lines = [f"# {info.version}", "", meta.get("description") or "", ""]
    lines += [f"- created: {meta.get('created_at', info.created_at)}"]
    lines += [f"- parent: {info.parent_hash[:12] if info.parent_hash else 'none'}"]
    lines += [f"- classes: {', '.join(meta.get('classes', []))}"]
    lines += [f"- trained: {meta.get('trained')}; temperature {meta.get('temperature')}"]
    counts = (meta.get("training") or {}).get("split_counts")
    if counts:
        lines += ["", "## Data (images per split)", ""]
        lines += [f"- {k}: {json.dumps(v)}" for k, v in counts.items()]
    lines += ["", "## Metrics", ""]
    for split in ("val", "test"):
        if isinstance(metrics.get(split), dict):
            m = metrics[split]
            lines.append(
                f"- {split}: accuracy {m.get('accuracy', 0):.3f}, macro-F1 "
                f"{m.get('macro_f1', 0):.3f}, ECE {m.get('ece', 0):.3f}, n = {m.get('n')}"
            )
    lines += ["", "Screening aid, not a diagnosis."]
    return "\n".join(lines)


def start_evaluation(model: Path, folder: Path, out_dir: Path) -> subprocess.Popen[bytes]:
    """``python -m trainer evaluate`` as a child process (report.json + PNGs in ``out_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = (out_dir / "evaluate.log").open("wb")
    cmd = [sys.executable, "-m", "trainer", "evaluate", str(model), str(folder)]
    return subprocess.Popen(
        [*cmd, "--out", str(out_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
