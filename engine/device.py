"""Device choice with a reason a clinician or IT person can read.

:func:`cuda_driver_present` answers "could there be a GPU?" without importing torch (loading
torch's CUDA build costs seconds even on a machine without a GPU), so CPU-only screening can
skip torch altogether; :func:`select_device` then asks torch itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from engine.i18n import gettext as _

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(RuntimeError):
    """A requested device cannot be used."""


@dataclass(frozen=True)
class DeviceChoice:
    """``device`` is a ``torch.device`` for the torch backend, or a plain name ("cpu")."""

    device: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.device} ({self.reason})"


def check_preference(preference: str | None) -> str:
    """Normalise ``auto|cpu|cuda|cuda:N`` or raise :class:`DeviceError` naming the choices."""
    pref = (preference or "auto").strip().lower()
    if pref not in DEVICE_CHOICES and not (pref.startswith("cuda:") and pref[5:].isdigit()):
        raise DeviceError(f"unknown device {preference!r}; choose one of auto, cpu, cuda, cuda:N")
    return pref


def cuda_driver_present() -> tuple[bool, str]:
    """Whether an NVIDIA driver is installed (no torch import), and what says so or why not."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False, _("CUDA_VISIBLE_DEVICES hides every GPU")
    if sys.platform == "darwin":
        return False, _("no CUDA on macOS")
    if sys.platform.startswith("linux") and os.path.exists("/proc/driver/nvidia/version"):
        return True, _("NVIDIA driver loaded")
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True, _("CUDA driver library {name} found").format(name=name)
    if ctypes.util.find_library("cuda") or shutil.which("nvidia-smi"):
        return True, _("CUDA driver found")
    return False, _("no CUDA GPU or driver found")


def cuda_status() -> tuple[bool, str]:
    """Whether CUDA can be used, and why not when it cannot."""
    import torch

    if not torch.backends.cuda.is_built():
        return False, _("this PyTorch build has no CUDA support")
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception as exc:  # broken drivers raise assorted errors; report, don't crash
        return False, _("CUDA driver error: {error}").format(error=exc)
    if count == 0:
        return False, _("no CUDA GPU or driver found")
    return True, torch.cuda.get_device_name(0)


def select_device(preference: str = "auto") -> DeviceChoice:
    """Resolve ``auto|cpu|cuda|cuda:N``; ``auto`` falls back to CPU and says why."""
    import torch

    pref = check_preference(preference)
    if pref == "cpu":
        return DeviceChoice(torch.device("cpu"), _("CPU requested"))
    ok, info = cuda_status()
    if pref.startswith("cuda"):
        if not ok:
            raise DeviceError(f"CUDA requested but not usable: {info}")
        device = torch.device(pref)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{pref} requested but only {torch.cuda.device_count()} GPU(s) present"
            )
        return DeviceChoice(
            device, _("CUDA requested: {gpu}").format(gpu=torch.cuda.get_device_name(device))
        )
    if ok:
        return DeviceChoice(torch.device("cuda"), _("CUDA GPU found: {gpu}").format(gpu=info))
    return DeviceChoice(torch.device("cpu"), _("CUDA not used: {why}").format(why=info))
