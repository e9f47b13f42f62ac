"""The model registry through the store: register model files (copied next to the database, so
the registry never points at a file that may vanish), list them, activate one, and record
training runs. The SQL is in engine.store.registry."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.atomic import atomic_path
from engine.hashes import HEX_PREFIX
from engine.modelmeta import (
    ModelFileError,
    ModelMeta,
    file_weights_hash,
    graph_path,
    identity_hash,
    read_meta,
    verify_weights,
)
from engine.store import audit, registry
from engine.store.database import Database
from engine.store.dto import ModelInfo, TrainingRunInfo
from engine.store.errors import StoreError
from engine.store.tables import utcnow


def parent_hash(meta: Any) -> str | None:
    """The content hash of the model ``meta`` was fine-tuned from, when it records one."""
    parent = (getattr(meta, "parent", None) or "").rsplit("@", 1)[-1].lower()
    return parent if HEX_PREFIX.match(parent) else None


def same_model(target: Path, meta: Any) -> bool:
    """Whether ``target`` already holds this model (an intact copy from an earlier call)."""
    if not target.is_file():
        return False
    try:
        found = read_meta(target)
        return found.content_hash == meta.content_hash and (
            file_weights_hash(target) == found.weights_hash
        )
    except ModelFileError:
        return False


def copy_graph(source: Path, target: Path, content_hash: str) -> None:
    """A model's screening graph (see engine.modelmeta.graph_path) travels with its file when it
    has one; without it screening still works, on PyTorch, so a failed copy is not an error."""
    src, dst = graph_path(source, content_hash), graph_path(target, content_hash)
    if not src.is_file() or dst.exists() or src.resolve() == dst.resolve():
        return
    try:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    except OSError:
        pass


def copy_model_file(source: Path, target: Path) -> None:
    """Copy a model file into place atomically (a crash leaves no half-written model)."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def file_problem(path: Path, content_hash: str) -> str | None:
    """Why the model file at ``path`` is not the model ``content_hash`` (None: it is)."""
    if not path.is_file():
        return "file missing"
    try:
        meta = read_meta(path)
        actual = identity_hash(file_weights_hash(path), meta)
    except ModelFileError as exc:
        return exc.reason
    if actual != content_hash.lower():
        return (
            f"holds other weights than were registered (their identity is {actual[:12]}, "
            f"registered {content_hash[:12]})"
        )
    return None


def checked_model_file(path: str | os.PathLike[str]) -> ModelMeta:
    """A model file's metadata once its weights are what the metadata says (recomputed from the
    bytes: intact metadata over corrupted tensors would otherwise be registered under the
    original's identity) and its out-of-scope statistics are usable numbers."""
    from safetensors import SafetensorError

    from engine.guard import load_guard

    try:
        meta = verify_weights(path)
        load_guard(path)
    except ModelFileError as exc:
        raise StoreError(f"{exc}; not registered") from exc
    except (ValueError, OSError, SafetensorError) as exc:
        raise StoreError(f"{path}: {exc}; not registered") from exc
    return meta


def remove_stored_copy(path: Path, content_hash: str, folder: Path) -> None:
    """Delete a model file and its graph when they lie in the store's ``folder`` (never
    elsewhere: a file the user keeps on a stick or in a run folder is theirs)."""
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return
    if not inside:
        return
    for file in (path, graph_path(path, content_hash)):
        try:
            file.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{file}: discarded, but the file could not be deleted ({exc})"
            ) from exc


def record_activation(
    s: Session,
    db: Database,
    info: ModelInfo,
    note: registry.ActivationNote | None,
    kind: str | None = None,
) -> None:
    """The ``activate``, ``rollback`` or ``promote`` audit event (with the reason given and
    whether it went against the model's records), in the activating transaction."""
    how = note.how if note is not None else "activate"
    kind = kind or ("rollback" if how == "roll back" else "activate")
    details = {"version": info.version}
    if note is not None:
        details.update(reason=note.reason, forced=note.forced, concerns=list(note.concerns))
    who = audit.acting(db, note.who if note is not None else None)
    audit.record(s, kind, who=who, obj=audit.model(info.content_hash), details=details)


class ModelRegistry:
    """Model versions and training runs of the case store (``store.registry``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def models_dir(self) -> Path:
        """Where registered model files live: ``<db name>-models`` beside an SQLite file, else
        ``<user data dir>/models`` (a server database still keeps model files per workstation).
        Every registered model has its file here, so the store never depends on a USB stick."""
        return self.db.beside_db("models", "models")

    def register_model(
        self,
        content_hash: str,
        *,
        name: str,
        path: str | os.PathLike[str] | None = None,
        meta: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        parent_hash: str | None = None,
        activate: bool | None = None,
    ) -> ModelInfo:
        """Add or refresh a model version (see registry.register for ``activate``)."""
        with self.db.write() as s:
            model = registry.register(
                s,
                content_hash,
                name=name,
                now=utcnow(),
                path=os.fspath(path) if path else None,
                meta=meta,
                metrics=metrics,
                parent_hash=parent_hash,
                activate=activate,
            )
            return registry.model_info(model)

    def register_model_file(
        self, path: str | os.PathLike[str], *, activate: bool | None = None
    ) -> ModelInfo:
        """Register a model file where it lies, from its own metadata (name, hash, lineage,
        metrics), once its weights are checked. Files from elsewhere go through
        :meth:`add_model_file`, which copies them into :attr:`models_dir` first."""
        meta = checked_model_file(path)
        if not meta.content_hash:
            raise StoreError(f"{path}: the model file records no content hash")
        return self.register_model(
            meta.content_hash,
            name=meta.name,
            path=Path(path).resolve(),
            meta=dataclasses.asdict(meta),
            metrics=meta.metrics,
            parent_hash=parent_hash(meta),
            activate=activate,
        )

    def model_file_target(self, meta: Any) -> Path:
        """The file a model (engine.checkpoint.ModelMeta) gets in :attr:`models_dir`."""
        return self.models_dir / f"{meta.name}-{meta.content_hash[:12]}.safetensors"

    def add_model_file(
        self, path: str | os.PathLike[str], *, activate: bool | None = None
    ) -> ModelInfo:
        """Copy a model file into :attr:`models_dir` (atomically, once) and register the copy,
        so the registry never points at a file that may vanish (a USB stick, a run folder).
        The weights are checked against the metadata first: a mismatch is refused."""
        meta = checked_model_file(path)
        target = self.model_file_target(meta)
        if Path(path).resolve() != target.resolve() and not same_model(target, meta):
            try:
                copy_model_file(Path(path), target)
            except OSError as exc:
                raise StoreError(f"{target}: cannot copy the model file ({exc})") from exc
        copy_graph(Path(path), target, meta.content_hash)
        return self.register_model_file(target, activate=activate)

    def models(self, include_discarded: bool = False) -> list[ModelInfo]:
        """Every registered model version (discarded ones only when asked for)."""
        with self.db.read() as s:
            return registry.list_models(s, include_discarded)

    def discard_model(self, ref: str) -> ModelInfo:
        """Mark a version discarded and delete its copy in :attr:`models_dir` (and its ONNX
        graph). A file outside that folder is never deleted; the row stays for the history."""
        with self.db.write() as s:
            info = registry.model_info(registry.discard(s, ref, utcnow()))
            audit.record(s, "discard", who=audit.acting(self.db), obj=audit.model(info.content_hash),
                         details={"version": info.version})  # fmt: skip
        if info.path:
            remove_stored_copy(Path(info.path), info.content_hash, self.models_dir)
        return info

    def active_model(self) -> ModelInfo | None:
        """The model screening uses, or None before any is registered."""
        with self.db.read() as s:
            model = registry.active_model(s)
            return registry.model_info(model) if model else None

    def active_model_path(self) -> Path | None:
        """The active model's file, when one is registered and still on disk."""
        model = self.active_model()
        if model is None or not model.path or not Path(model.path).is_file():
            return None
        return Path(model.path)

    def check_model_files(self) -> list[str]:
        """Problems with registered model files (empty when all hold what was registered): a
        missing file, or one whose weights (hashed from its bytes, not read from its metadata)
        are not the model registered under that name, e.g. overwritten by another training."""
        problems = []
        for model in self.models():
            if model.path:
                problem = file_problem(Path(model.path), model.content_hash)
                if problem:
                    problems.append(f"model {model.version}: {model.path}: {problem}")
        return problems

    def activate_model(self, ref: str, note: registry.ActivationNote | None = None) -> ModelInfo:
        """Make the model named by hash / hash prefix / name@hash / unique name the active one;
        ``note`` (who, how, why) is recorded on its row in the same transaction."""
        with self.db.write() as s:
            info = registry.model_info(registry.activate(s, ref, note, utcnow()))
            record_activation(s, self.db, info, note)
            return info

    def start_training_run(
        self, base_model: str | None, params: Mapping[str, Any], data_summary: Mapping[str, Any]
    ) -> int:
        """Record a training run that starts now; returns its id."""
        with self.db.write() as s:
            return registry.start_training(s, base_model, params, data_summary, utcnow())

    def update_training_run(self, run_id: int, **changes: Any) -> TrainingRunInfo:
        """Change ``status``, merge ``metrics``, ``append_log`` text, set ``result_hash``."""
        with self.db.write() as s:
            registry.update_training(s, run_id, utcnow(), **changes)
            return registry.training_info(s, run_id)

    def training_run(self, run_id: int) -> TrainingRunInfo:
        """One recorded training run."""
        with self.db.read() as s:
            return registry.training_info(s, run_id)
