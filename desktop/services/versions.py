"""Model versions for the models view and the comparison (Qt-free): the comparison report,
import, export, the model card, agreement and evaluation. Changes of the active version
(activate, roll back, promote) are made through :class:`desktop.services.active_model.ActiveModel`.

Promotion goes through ``Store.promote`` (the gate re-checked inside the activating transaction);
a forced promotion is noted on the run's training record. Model files are validated by a full
load (engine.checkpoint: hash, architecture, classes) before anything is registered.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.activation import activate_checked, review_activation
from engine.atomic import atomic_path
from engine.i18n import N_, _, format_number
from engine.modelmeta import ModelMeta
from engine.paths import user_data_dir
from engine.store import ModelInfo, NotFoundError, Store, StoreError
from engine.training import trainer_command
from engine.vocabulary import long_name

__all__ = ["Comparison", "ModelInfo", "PromotionRefused", "evaluation_root"]


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
    split: str = "gate"
    training_run: int | None = None

    @property
    def gate_allows(self) -> bool:
        return bool(self.decision.get("activate"))


def load_comparison(run_dir: Path) -> Comparison:
    """Read a finished training run's report; StoreError naming the file when unusable.

    Both models are shown on the images the decision judged them on: the clinic's labelled
    photos, each answered by a fold model that did not see it (cross-fitting), or the recorded
    gate slice (the validation images for reports written before the gate existed)."""
    path = Path(run_dir) / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        splits = report["splits"]
        split = next(
            (n for n in ("gate", "cross-fit") if (splits.get(n) or {}).get("metrics")), "val"
        )
        section = report["splits"][split]
        in_use = report.get("model_in_use") or {}
        figures = {
            name.removeprefix(f"{split}_").removesuffix(".png"): Path(run_dir) / name
            for name in section.get("figures", [])
        }
        return Comparison(
            run_dir=Path(run_dir),
            classes=list(report["classes"]),
            new_version=str(report["version"]),
            new_model=Path(report["model"]),
            new_val=dict(section["metrics"]),
            active_version=in_use.get("version"),
            active_val=in_use.get(split),
            decision=dict(report.get("promotion") or {}),
            figures=figures,
            status=str(report.get("status", "")),
            split=split,
            training_run=(report.get("registered") or {}).get("training_run"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(
            _("{path}: not a readable training report ({error})").format(path=path, error=exc)
        ) from exc


def validate_model_file(path: Path) -> ModelMeta:
    """Load the whole file (hash, architecture, classes checked); ModelFileError says why not."""
    from engine.checkpoint import load_model  # imports torch: only here, on a worker thread

    _, meta = load_model(path)
    return meta


def import_model(store: Store, path: Path) -> ModelInfo:
    """Validate, copy beside the database and register (not activated)."""
    validate_model_file(path)
    return store.add_model_file(path, activate=False)


def promote(store: Store, comparison: Comparison, *, force: bool, who: str) -> ModelInfo:
    """Make the run's model active through the store's gate, or forced (noted as forced)."""
    ref = comparison.new_version.rsplit("@", 1)[-1]
    result = store.promote(ref, force=force, who=who)
    if not result.promoted:
        raise PromotionRefused(result.reason)
    if force and comparison.training_run is not None:
        note = {"forced": True, "by": who, "previous": result.previous}
        store.update_training_run(
            comparison.training_run,
            metrics={"promotion_by_user": note},
            append_log=f"promoted against the gate by {who} (forced)\n",
        )
    return result.model


def discard(store: Store, comparison: Comparison, who: str) -> None:
    """Discard the new version: the registry marks it discarded (hidden from the list and from
    activation; the row stays for the history) and deletes its copy in the store's model folder.
    Its training record says who discarded it; the run folder is marked so the fine-tune dialog
    does not offer it again. The active model is refused (roll back first)."""
    ref = comparison.new_version.rsplit("@", 1)[-1]
    with contextlib.suppress(NotFoundError):  # never registered (an older run): nothing to mark
        store.discard_model(ref)
    if comparison.training_run is not None:
        store.update_training_run(
            comparison.training_run, append_log=f"discarded by {who} after comparison\n"
        )
    (comparison.run_dir / "DISCARDED").write_text(f"discarded by {who}\n", encoding="utf-8")


def activate(
    store: Store, ref: str | None, *, who: str, reason: str = "", rollback: bool = False
) -> ModelInfo:
    """Activate ``ref`` (roll back: default the active model's parent), recording who and why;
    a model its records advise against needs ``reason`` (engine.activation.ReasonNeeded)."""
    return activate_checked(store, ref, who=who, reason=reason, rollback=rollback)


def review(store: Store, ref: str | None, *, rollback: bool = False) -> Any:
    """What activating ``ref`` (or rolling back) means: concerns and marks (ActivationReview)."""
    return review_activation(store, ref, rollback=rollback)


def current_user() -> str:
    """Who is recorded for a decision: $POXSCREEN_USER, else the login name."""
    try:
        return os.environ.get("POXSCREEN_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def agreement(store: Store, version: str) -> dict[str, tuple[int, int]]:
    """Per clinician label: (agreed, disagreed) with this version's top class."""
    return {k: (v.agreed, v.disagreed) for k, v in store.agreement(version).items()}


def export_model(info: ModelInfo, dest: Path) -> Path:
    if not info.path or not Path(info.path).is_file():
        raise StoreError(
            _("{version}: its model file is not on this computer").format(version=info.version)
        )
    with atomic_path(dest) as tmp:
        shutil.copyfile(info.path, tmp)
    return Path(dest)


def _num(value: object, digits: int = 3) -> str:
    """A figure for people: whole numbers as they are, others rounded; "-" when missing."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else (_("yes") if value else _("no"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value, digits)
    return str(value)


#: The splits a card lists, in words.
SPLIT_WORDS = {"train": N_("train"), "val": N_("val"), "test": N_("test")}


def _split(name: object) -> str:
    return _(SPLIT_WORDS[name]) if name in SPLIT_WORDS else str(name)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (QTextBrowser.setMarkdown draws it as a table)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _when(value: object) -> str:
    return str(value)[:16].replace("T", " ") if value else "-"


def model_card(info: ModelInfo) -> str:
    """A readable card from the model's recorded metadata (Markdown: tables, rounded figures)."""
    meta, metrics = info.meta, info.metrics
    lines = [f"# {info.version}", "", meta.get("description") or "", ""]
    lines += _table(["", ""], [
        [_("Created"), _when(meta.get("created_at", info.created_at))],
        [_("Parent"), info.parent_hash[:12] if info.parent_hash else _("none")],
        [_("Classes"), ", ".join(long_name(c) for c in meta.get("classes", []))],
        [_("Trained"), _num(meta.get("trained"))],
        [_("Calibration temperature"), _num(meta.get("temperature"))],
    ])  # fmt: skip
    counts = (meta.get("training") or {}).get("split_counts")
    if isinstance(counts, dict) and counts:
        lines += ["## " + _("Data (images per split)"), ""]
        classes = list(meta.get("classes") or [])
        for per in counts.values():
            classes += [c for c in (per if isinstance(per, dict) else {}) if c not in classes]
        rows = [
            [
                _split(split),
                *(_num(per.get(c, 0)) for c in classes),
                _num(sum(v for v in per.values() if isinstance(v, int))),
            ]
            if isinstance(per, dict)
            else [_split(split), *("-" for _c in classes), _num(per)]
            for split, per in counts.items()
        ]
        lines += _table([_("Split"), *(long_name(c) for c in classes), _("Total")], rows)
    rows = [
        [_split(split), *(_num(m.get(k)) for k in ("accuracy", "macro_f1", "ece", "n"))]
        for split, m in ((s, metrics.get(s)) for s in ("val", "test"))
        if isinstance(m, dict)
    ]
    if rows:
        lines += ["## " + _("Metrics"), ""]
        lines += _table([_("Split"), _("Accuracy"), _("Macro-F1"), _("ECE"), _("Images")], rows)
    lines += [_("Screening aid, not a diagnosis.")]
    return "\n".join(lines)


def start_evaluation(model: Path, folder: Path, out_dir: Path) -> subprocess.Popen[bytes]:
    """``python -m trainer evaluate`` as a child process (report.json + PNGs in ``out_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = (out_dir / "evaluate.log").open("wb")
    cmd = [*trainer_command(), "evaluate", str(model), str(folder)]
    return subprocess.Popen(
        [*cmd, "--out", str(out_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=str(Path(__file__).resolve().parents[2]),
    )


def evaluation_root() -> Path:
    """Where evaluations on a folder are kept (inside the user data folder)."""
    return user_data_dir() / "evaluations"


def models(store: Store) -> list[ModelInfo]:
    """Every registered version, newest first."""
    return sorted(store.models(), key=lambda m: m.created_at, reverse=True)
