"""Exports: a run (or everything) as CSV, and labelled images as ``<out>/<class>/<sha256>.<ext>``.

The image-folder export is the hand-over format for retraining elsewhere: one folder per current
label, files named by the original's content hash (so duplicates collapse and re-exporting is
idempotent), read from the app's image store first and from the last seen original path otherwise,
always checked against the recorded hash, and written without metadata (engine.exif: no GPS,
serials or dates); ``manifest.csv`` records each file's original and exported SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, null, select
from sqlalchemy.orm import Session

from engine import csvsafe
from engine.atomic import WriteFailed, atomic_open, write_failed
from engine.paths import display_path, path_from_text
from engine.store.errors import StoreError, StoreWriteError
from engine.store.imagestore import ImageStore, file_ext
from engine.store.tables import REFER, Image, ModelVersion, Prediction, Run, RunItem

_UNSAFE = re.compile(r"[^\w\-. ]+")


@dataclass
class ExportSummary:
    out: Path
    written: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    forgotten: int = 0  # labelled photos forgotten on request: their pixels are gone, by design
    # exported file (relative to out) -> (original's SHA-256, exported file's SHA-256)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    manifest: Path | None = None


def _safe_dirname(label: str) -> str:
    name = _UNSAFE.sub("_", label).strip(" .")
    return name or "_"


def export_csv(session: Session, out_file: Path, *, model_id: int, run_id: int | None) -> int:
    """Write one row per file of the run (or per known image) with the model's prediction."""
    pred_join = and_(Prediction.image_id == Image.id, Prediction.model_id == model_id)
    if run_id is not None:
        stmt = (
            select(RunItem.path, RunItem.error, Image, Prediction)
            .outerjoin(Image, Image.id == RunItem.image_id)
            .outerjoin(Prediction, pred_join)
            .where(RunItem.run_id == run_id)
            .order_by(RunItem.id)
        )
    else:
        stmt = (
            select(Image.path, null().label("error"), Image, Prediction)
            .outerjoin(Prediction, pred_join)
            .order_by(Image.id)
        )
    classes = _classes(session, model_id)
    header = ["path", "sha256", "error", "width", "height", "top_class", "confidence", "entropy"]
    header += [f"p_{c}" for c in classes] + ["label", "stored_path"]
    header += ["out_of_scope", "scope_score", "quality_issues"]
    try:
        rows = session.execute(stmt.execution_options(yield_per=2000))
        return _write_csv(out_file, header, classes, rows)
    except WriteFailed as exc:
        raise StoreWriteError(str(exc)) from exc


def _write_csv(out_file: Path, header: list[str], classes: list[str], rows: Any) -> int:
    """The CSV written atomically: a reader never sees half an export."""
    n = 0
    with atomic_open(out_file, "w", newline="", encoding="utf-8") as f:
        writer = csvsafe.writer(f)
        writer.writerow(header)
        for path, error, img, pred in rows:
            probs: dict[str, Any] = dict(pred.probabilities) if pred is not None else {}
            writer.writerow(
                [
                    display_path(path) if path else "",
                    img.sha256 if img else "",
                    error or "",
                    img.width if img else "",
                    img.height if img else "",
                    pred.top_class if pred else "",
                    f"{pred.confidence:.6f}" if pred else "",
                    f"{pred.entropy:.6f}" if pred and pred.entropy is not None else "",
                    *[f"{probs[c]:.6f}" if c in probs else "" for c in classes],
                    (img.current_label or "") if img else "",
                    (img.stored_path or "") if img else "",
                    *_checks(pred),
                ]
            )
            n += 1
    return n


def _checks(pred: Prediction | None) -> list[str]:
    """out_of_scope (1/0, empty: not checked), scope_score, quality_issues."""
    if pred is None:
        return ["", "", ""]
    flag = "" if pred.out_of_scope is None else str(int(pred.out_of_scope))
    score = "" if pred.scope_score is None else f"{pred.scope_score:.6f}"
    return [flag, score, pred.quality_issues or ""]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _export_one(src: Path, sha256: str, folder: Path) -> Path:
    """Write the photo without metadata as ``folder/<original sha256>.<ext>``; the source is
    checked against the recorded hash first. Returns the written (or already identical) file."""
    from engine.exif import clean_image_bytes
    from engine.images import ImageLoadError, read_file_bytes

    try:
        data = read_file_bytes(src)
    except ImageLoadError as exc:
        raise StoreError(f"{src}: cannot read it ({exc.reason})") from exc
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise StoreError(f"{src}: contents changed since it was recorded; not exported")
    try:
        clean, ext = clean_image_bytes(data, name=str(src), ext=file_ext(src))
    except ImageLoadError as exc:
        raise StoreError(str(exc)) from exc
    target = folder / f"{sha256}{ext}"
    if target.is_file() and target.read_bytes() == clean:
        return target  # re-exporting is idempotent
    try:
        with atomic_open(target, "wb") as out:
            out.write(clean)
    except OSError as exc:
        raise StoreWriteError(str(write_failed(target, exc))) from exc
    return target


MANIFEST = "manifest.csv"


def _write_manifest(out_dir: Path, files: dict[str, tuple[str, str]]) -> Path:
    """``manifest.csv``: each exported file with its original's and its own SHA-256 (metadata
    removal changes the bytes, so both are needed to trace a file back). Merged with an earlier
    manifest in the same folder."""
    target = out_dir / MANIFEST
    rows: dict[str, tuple[str, str]] = {}
    if target.is_file():
        with target.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                name = csvsafe.read_cell(row["file"])
                rows[name] = (row["original_sha256"], row["exported_sha256"])
    rows.update(files)
    try:
        with atomic_open(target, "w", newline="", encoding="utf-8") as fh:
            writer = csvsafe.writer(fh)
            writer.writerow(["file", "original_sha256", "exported_sha256"])
            writer.writerows([name, *rows[name]] for name in sorted(rows))
    except OSError as exc:
        raise StoreWriteError(str(write_failed(target, exc))) from exc
    return target


def _classes(session: Session, model_id: int) -> list[str]:
    model = session.get(ModelVersion, model_id)
    listed = (model.meta or {}).get("classes") if model else None
    if isinstance(listed, list) and listed:
        return [str(c) for c in listed]
    sample = session.scalar(select(Prediction.probabilities).where(Prediction.model_id == model_id))
    return sorted(sample) if sample else []


def export_imagefolder(
    session: Session,
    out_dir: Path,
    images: ImageStore,
    *,
    run_id: int | None,
    include_refer: bool = False,
) -> ExportSummary:
    """Copy every image with a current label into ``out_dir/<label>/``; report missing files."""
    stmt = select(Image).where(Image.current_label.is_not(None)).order_by(Image.id)
    if not include_refer:
        stmt = stmt.where(Image.current_label != REFER)
    if run_id is not None:
        if session.get(Run, run_id) is None:
            raise StoreError(f"no screening run #{run_id} in this database")
        stmt = stmt.where(exists().where(RunItem.image_id == Image.id, RunItem.run_id == run_id))
    summary = ExportSummary(out=out_dir)
    counts: Counter[str] = Counter()
    for img in session.scalars(stmt):
        if img.forgotten_at is not None:
            summary.forgotten += 1
            continue
        label = img.current_label or ""
        sources = []
        if img.stored_path:
            sources.append(images.path(img.stored_path))
        if img.path:
            sources.append(Path(path_from_text(img.path)))
        reasons: list[str] = []
        for src in sources:
            try:
                written = _export_one(src, img.sha256, out_dir / _safe_dirname(label))
            except StoreWriteError:
                raise  # disk full or read-only: every later copy fails too; say so, once
            except StoreError as exc:
                reasons.append(str(exc))
                continue
            summary.files[written.relative_to(out_dir).as_posix()] = (img.sha256, _sha(written))
            counts[label] += 1
            summary.written += 1
            break
        else:
            where = display_path(img.path) if img.path else "no known path"
            why = "; ".join(reasons) or "no copy in the image store and no original path"
            summary.missing.append(f"{img.sha256} ({where}): {display_path(why)}")
    summary.manifest = _write_manifest(out_dir, summary.files)
    summary.per_class = dict(sorted(counts.items()))
    return summary
