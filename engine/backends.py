"""Which screening backend to use: ONNX Runtime on CPU when it can, PyTorch otherwise.

ONNX Runtime needs no torch import (start-up well under a second instead of several) and ran
the network 2-4x faster than eager PyTorch on the 2-core development machine. PyTorch remains
for GPUs, for models without an exported graph and when onnxruntime is not installed; the
returned predictor's ``note`` says why it was used. Either carries the model file's "not a skin
photo" guard and runs the photo-quality check (:mod:`engine.pipeline`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.device import check_preference, cuda_driver_present
from engine.i18n import gettext as _
from engine.modelmeta import ModelMeta, read_meta
from engine.pipeline import BatchPredictor

log = logging.getLogger(__name__)

#: ``POXSCREEN_BACKEND=torch`` forces PyTorch (comparisons, troubleshooting).
BACKEND_ENV = "POXSCREEN_BACKEND"

#: Returns ``(model, meta, guard)``: the loaded network, its metadata and its ScopeGuard (or None).
TorchLoader = Callable[[], tuple[Any, ModelMeta, Any]]


def _cpu_reason(pref: str) -> str | None:
    """Why the CPU is the device (and so ONNX Runtime applies), or None to go to the GPU."""
    if pref == "cpu":
        return _("CPU requested")
    if pref != "auto":
        return None
    present, why = cuda_driver_present()
    if not present:
        return _("CUDA not used: {why}").format(why=why)
    from engine.device import cuda_status

    ok, info = cuda_status()  # a driver is there: torch decides (this imports torch)
    return None if ok else _("CUDA not used: {why}").format(why=info)


def screening_predictor(
    model_path: str | os.PathLike[str] | None,
    *,
    meta: ModelMeta | None = None,
    device: str = "auto",
    batch_size: int = 16,
    workers: int | None = None,
    load_torch: TorchLoader | None = None,
    quality_check: bool = True,
    keep_features: bool = False,
) -> BatchPredictor:
    """The fastest usable predictor for the model file at ``model_path``.

    ``model_path`` None means a model with no file (the untrained fallback): PyTorch only.
    ``load_torch`` returns ``(model, meta, guard)`` for the PyTorch fallback (default: load the
    file); ``quality_check`` and ``keep_features`` are the predictors' own options;
    raises :class:`engine.device.DeviceError` for an unusable device and
    :class:`engine.modelmeta.ModelFileError` for a bad model file.
    """
    pref = check_preference(device)
    if model_path is not None and meta is None:
        meta = read_meta(model_path)
    note = ""
    cpu_reason = _cpu_reason(pref)
    if os.environ.get(BACKEND_ENV, "").strip().lower() == "torch":
        note = f"{BACKEND_ENV}=torch"
    elif cpu_reason is not None and model_path is not None:
        from engine.onnx_predictor import OnnxPredictor, OnnxUnavailable

        try:
            return OnnxPredictor.from_model_file(
                model_path,
                meta,
                batch_size=batch_size,
                workers=workers,
                reason=cpu_reason,
                quality_check=quality_check,
                keep_features=keep_features,
            )
        except OnnxUnavailable as exc:
            note = f"ONNX Runtime not used ({exc.reason}); screening with PyTorch"
            log.warning("%s: %s", os.fspath(model_path), note)
    elif cpu_reason is not None:
        note = "this model has no file, so no ONNX graph; screening with PyTorch"
    options = {"quality_check": quality_check, "keep_features": keep_features}
    return _torch_predictor(model_path, device, batch_size, workers, load_torch, note, options)


def _torch_predictor(
    model_path: str | os.PathLike[str] | None,
    device: str,
    batch_size: int,
    workers: int | None,
    load_torch: TorchLoader | None,
    note: str,
    options: dict[str, bool],
) -> BatchPredictor:
    from engine.predictor import Predictor

    if load_torch is None:
        if model_path is None:
            raise ValueError("a model file or a load_torch callable is needed")
        from engine.checkpoint import load_model_and_guard

        path = Path(model_path)

        def load_torch() -> tuple[Any, ModelMeta, Any]:
            return load_model_and_guard(path)

    model, meta, guard = load_torch()
    predictor = Predictor(
        model, meta, device=device, batch_size=batch_size, workers=workers, guard=guard, **options
    )
    predictor.note = note
    return predictor
