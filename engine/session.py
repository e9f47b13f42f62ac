"""The model in use, opened from the case store: the one choice the GUI and the CLI share.

Every model the store registers has its file in ``store.models_dir``. On first use the shipped
default is copied there and registered WITH that path (a path-less row made later training start
from ImageNet without a word, and left the promotion gate nothing to score). The network itself
is loaded lazily: opening is cheap (header only), the first ``.model`` access imports torch.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import paths
from engine.device import check_preference
from engine.modelmeta import ModelFileError, ModelMeta, read_meta

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from torch import nn

    from engine.device import DeviceChoice
    from engine.pipeline import BatchPredictor
    from engine.store import ModelInfo, Store


@dataclass
class ActiveModel:
    """A model file opened for screening and review: metadata now, weights on first use.

    ``device_preference`` is what the user asked for (auto, cpu, cuda, cuda:N); the torch
    device behind ``device`` is resolved on first use, since that imports torch and CPU
    screening (ONNX Runtime) never needs it.
    """

    path: Path | None  # None only for the untrained fallback when no store is used
    meta: ModelMeta
    device_preference: str = "auto"
    registered: bool = True
    _model: Any = field(default=None, repr=False)
    _guard: Any = field(default=None, repr=False)  # engine.guard.ScopeGuard, loaded with the model
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _device: Any = field(default=None, repr=False)

    @property
    def device(self) -> DeviceChoice:
        """The torch device for the network (Grad-CAM, training), with a readable reason."""
        if self._device is None:
            from engine.device import select_device

            self._device = select_device(self.device_preference)
        return self._device

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def trained(self) -> bool:
        return bool(self.meta.trained)

    @property
    def model(self) -> nn.Module:
        """The network in eval mode on ``device``; loaded (and its hash checked) once."""
        with self._lock:
            if self._model is None:
                from engine.checkpoint import load_model_and_guard

                assert self.path is not None
                model, meta, guard = load_model_and_guard(self.path, device=self.device.device)
                if meta.content_hash != self.meta.content_hash:
                    raise ModelFileError(self.path, "the file changed since it was opened")
                self._model, self._guard = model, guard
            return self._model

    @property
    def guard(self) -> Any:
        """The "not a skin photo" guard stored with the weights (None: the file has none)."""
        _ = self.model  # the guard is read with the weights, in the same (hash-checked) pass
        return self._guard

    def predictor(self, batch_size: int = 16, workers: int | None = None) -> BatchPredictor:
        """The fastest usable screening predictor: ONNX Runtime on CPU when this model has a
        graph (no torch import), else PyTorch on ``device``; ``.note`` says why when it fell back.
        Both carry the model file's out-of-scope guard."""
        from engine.backends import screening_predictor

        return screening_predictor(
            self.path,
            meta=self.meta,
            device=self.device_preference,
            batch_size=batch_size,
            workers=workers,
            load_torch=lambda: (self.model, self.meta, self.guard),
        )


def _untrained_into(store: Store) -> ModelInfo:
    """No shipped model: save the honest untrained start into the store, so it has a file."""
    from engine.checkpoint import save_model
    from engine.default_model import untrained_model

    model, meta = untrained_model()
    target = store.model_file_target(meta)
    if not target.is_file():
        save_model(target, model, meta)
    return store.register_model_file(target, activate=None)


def _register_new_default(store: Store) -> None:
    """After an upgrade, register the new shipped default beside the model in use, never
    replacing it (engine.upgrade: the GUI offers it with its card). A failure here must not
    stop the clinic's own model from opening: it is logged."""
    from engine.store import StoreError
    from engine.upgrade import register_shipped_default

    try:
        register_shipped_default(store)
    except (StoreError, ModelFileError, OSError) as exc:
        log.warning("the shipped default model could not be registered: %s", exc)


def ensure_active_model(store: Store) -> ModelInfo:
    """The store's active model, registering the shipped default (copied into
    ``store.models_dir``) on first use; a registered default whose file is missing (older
    databases registered it without one) is repaired the same way.

    Raises ModelFileError naming the file when the active model's file is missing otherwise.
    """
    from engine.store import StoreError
    from engine.upgrade import register_shipped_default

    info = store.active_model()
    shipped = paths.default_model_path()
    try:
        if info is not None and info.path and Path(info.path).is_file():
            meta = read_meta(info.path)
            if meta.content_hash != info.content_hash and meta.weights_hash == info.content_hash:
                # registered before identities covered metadata (by its weights' hash): the
                # same file under its identity now, made active in its place
                return store.add_model_file(info.path, activate=True)
            return info
        if info is None:
            registered = register_shipped_default(store)  # first use: it becomes active
            return registered.info if registered is not None else _untrained_into(store)
        if shipped.is_file() and info.content_hash in _identities(read_meta(shipped)):
            return store.add_model_file(shipped, activate=True)
    except StoreError as exc:
        raise ModelFileError(store.models_dir, str(exc)) from exc
    where = info.path or info.version
    raise ModelFileError(
        where,
        f"the active model {info.version} has no model file (missing or never stored); "
        "activate another model (poxscreen models activate) or add its file again",
    )


def open_active_model(store: Store, device: str = "auto") -> ActiveModel:
    """The store's active model, ready to screen with (weights load on first ``.model``).

    A newer app version's default model is registered beside it here, never activated
    (engine.upgrade; the trainer, which calls ensure_active_model, leaves the registry alone)."""
    info = ensure_active_model(store)
    _register_new_default(store)
    assert info.path is not None
    return _open(Path(info.path), device, expected=info.content_hash)


def _identities(meta: ModelMeta) -> tuple[str, str]:
    """A model's identity now and the weights-only hash older versions registered it by."""
    return meta.content_hash, meta.weights_hash


def open_model(
    store: Store | None, path: str | os.PathLike[str] | None = None, device: str = "auto"
) -> ActiveModel:
    """``--model FILE`` (copied into the store and registered; active only if none is), else the store's
    active model; without a store the file, else the shipped default, else the untrained start.
    """
    if store is not None:
        if path is None:
            return open_active_model(store, device)
        from engine.store import StoreError

        try:
            info = store.add_model_file(path, activate=None)
        except StoreError as exc:
            raise ModelFileError(path, str(exc).removeprefix(f"{path}: ")) from exc
        assert info.path is not None
        return _open(Path(info.path), device, expected=info.content_hash)
    if path is not None:
        return _open(Path(path), device, registered=False)
    if paths.default_model_path().is_file():
        return _open(paths.default_model_path(), device, registered=False)
    from engine.default_model import untrained_model

    model, meta = untrained_model()
    active = ActiveModel(None, meta, check_preference(device), registered=False)
    active._model = model.to(active.device.device)
    return active


def _open(
    path: Path, device: str, *, expected: str | None = None, registered: bool = True
) -> ActiveModel:
    meta = read_meta(path)
    if expected is not None and meta.content_hash != expected:
        raise ModelFileError(path, "the file does not hold the model registered for it")
    return ActiveModel(path, meta, check_preference(device), registered=registered)
