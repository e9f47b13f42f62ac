"""Store methods for the review queue, exports, the model registry and training runs."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.store import export, queries, registry
from engine.store._base import StoreBase
from engine.store.dto import ModelInfo, ReviewPage, TrainingRunInfo
from engine.store.errors import StoreError
from engine.store.models import utcnow
from engine.store.queries import ReviewFilter

_HEX = re.compile(r"^[0-9a-f]{6,64}$")


class ReviewAndModels(StoreBase):
    """Queue, exports, registry and training-run methods of the Store facade."""

    # --- review queue ---------------------------------------------------------------------

    def review_queue(
        self,
        flt: ReviewFilter | None = None,
        *,
        limit: int = 100,
        after: tuple[Any, ...] | None = None,
        offset: int = 0,
    ) -> ReviewPage:
        """A page of images with the chosen model's predictions; see queries.ReviewFilter."""
        flt = flt or ReviewFilter()
        with self.read() as s:
            return queries.review_queue(
                s,
                flt,
                self._queue_model(s, flt),
                limit=limit,
                after=after,
                offset=offset,
                rule=_rule_for(s, flt),
            )

    def count(self, flt: ReviewFilter | None = None) -> int:
        flt = flt or ReviewFilter()
        with self.read() as s:
            return queries.count(s, flt, self._queue_model(s, flt), _rule_for(s, flt))

    def class_counts(self, flt: ReviewFilter | None = None) -> dict[str, int]:
        flt = flt or ReviewFilter()
        with self.read() as s:
            return queries.class_counts(s, flt, self._queue_model(s, flt), _rule_for(s, flt))

    # --- exports --------------------------------------------------------------------------

    def export_csv(self, out_file: str | os.PathLike[str], *, run_id: int | None = None) -> int:
        """Write a run's files (or all images) with predictions and labels; return row count."""
        with self.read() as s:
            model_id = self._queue_model(s, ReviewFilter(run_id=run_id))
            return export.export_csv(s, Path(out_file), model_id=model_id, run_id=run_id)

    def export_imagefolder(
        self,
        out_dir: str | os.PathLike[str],
        *,
        run_id: int | None = None,
        include_refer: bool = False,
    ) -> export.ExportSummary:
        """Copy labelled images into ``out_dir/<label>/<sha256>.<ext>``."""
        with self.read() as s:
            return export.export_imagefolder(
                s, Path(out_dir), self.images, run_id=run_id, include_refer=include_refer
            )

    # --- model registry and training runs ------------------------------------------------

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
        with self.write() as s:
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
        """Register a model file from its own metadata (name, hash, lineage, metrics)."""
        from engine.modelmeta import ModelFileError, read_meta

        try:
            meta = read_meta(path)
        except ModelFileError as exc:
            raise StoreError(str(exc)) from exc
        if not meta.content_hash:
            raise StoreError(f"{path}: the model file records no content hash")
        parent = (meta.parent or "").rsplit("@", 1)[-1].lower()
        return self.register_model(
            meta.content_hash,
            name=meta.name,
            path=Path(path).resolve(),
            meta=dataclasses.asdict(meta),
            metrics=meta.metrics,
            parent_hash=parent if _HEX.match(parent) else None,
            activate=activate,
        )

    def model_file_target(self, meta: Any) -> Path:
        """The file a model (engine.checkpoint.ModelMeta) gets in :attr:`models_dir`."""
        return self.models_dir / f"{meta.name}-{meta.content_hash[:12]}.safetensors"

    def add_model_file(
        self, path: str | os.PathLike[str], *, activate: bool | None = None
    ) -> ModelInfo:
        """Copy a model file into :attr:`models_dir` (atomically, once) and register the copy,
        so the registry never points at a file that may vanish (a USB stick, a run folder)."""
        import shutil

        from engine.atomic import atomic_path
        from engine.modelmeta import ModelFileError, read_meta

        try:
            meta = read_meta(path)
        except ModelFileError as exc:
            raise StoreError(str(exc)) from exc
        target = self.model_file_target(meta)
        if Path(path).resolve() != target.resolve() and not _same_model(target, meta):
            try:
                with atomic_path(target) as tmp:
                    shutil.copyfile(path, tmp)
            except OSError as exc:
                raise StoreError(f"{target}: cannot copy the model file ({exc})") from exc
        _copy_graph(Path(path), target, meta.content_hash)
        return self.register_model_file(target, activate=activate)

    def models(self) -> list[ModelInfo]:
        with self.read() as s:
            return registry.list_models(s)

    def active_model(self) -> ModelInfo | None:
        with self.read() as s:
            model = registry.active_model(s)
            return registry.model_info(model) if model else None

    def activate_model(self, ref: str) -> ModelInfo:
        """Make the model named by hash / hash prefix / name@hash / unique name the active one."""
        with self.write() as s:
            return registry.model_info(registry.activate(s, ref))

    def start_training_run(
        self, base_model: str | None, params: Mapping[str, Any], data_summary: Mapping[str, Any]
    ) -> int:
        with self.write() as s:
            return registry.start_training(s, base_model, params, data_summary, utcnow())

    def update_training_run(self, run_id: int, **changes: Any) -> TrainingRunInfo:
        """Change ``status``, merge ``metrics``, ``append_log`` text, set ``result_hash``."""
        with self.write() as s:
            registry.update_training(s, run_id, utcnow(), **changes)
            return registry.training_info(s, run_id)

    def training_run(self, run_id: int) -> TrainingRunInfo:
        with self.read() as s:
            return registry.training_info(s, run_id)


def _rule_for(session: Any, flt: ReviewFilter) -> Any:
    """The database's referral rule, read in the query's own transaction when it is needed."""
    from engine.store import settings

    return settings.referral_rule(session) if flt.referral is not None else None


def _same_model(target: Path, meta: Any) -> bool:
    """Whether ``target`` already holds this model (an intact copy from an earlier call)."""
    from engine.modelmeta import ModelFileError, read_meta

    if not target.is_file():
        return False
    try:
        return read_meta(target).content_hash == meta.content_hash
    except ModelFileError:
        return False


def _copy_graph(source: Path, target: Path, content_hash: str) -> None:
    """A model's screening graph (engine.onnx_predictor) travels with its file when it has one;
    without it screening still works, on PyTorch, so a failed copy is not an error."""
    import shutil

    from engine.atomic import atomic_path
    from engine.onnx_predictor import graph_path

    src, dst = graph_path(source, content_hash), graph_path(target, content_hash)
    if not src.is_file() or dst.exists() or src.resolve() == dst.resolve():
        return
    try:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    except OSError:
        pass
