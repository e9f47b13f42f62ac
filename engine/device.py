"""Device choice with a reason a clinician or IT person can read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a device is chosen, so CLI --help stays instant
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(RuntimeError):
    """A requested device cannot be used."""


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    reason: str

    def __str__(self) -> str:
        return f"{self.device} ({self.reason})"


def cuda_status() -> tuple[bool, str]:
    """Whether CUDA can be used, and why not when it cannot."""
    import torch

    if not torch.backends.cuda.is_built():
        return False, "this PyTorch build has no CUDA support"
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception as exc:  # broken drivers raise assorted errors; report, don't crash
        return False, f"CUDA driver error: {exc}"
    if count == 0:
        return False, "no CUDA GPU or driver found"
    return True, torch.cuda.get_device_name(0)


def select_device(preference: str = "auto") -> DeviceChoice:
    """Resolve ``auto|cpu|cuda|cuda:N``; ``auto`` falls back to CPU and says why."""
    import torch

    pref = (preference or "auto").strip().lower()
    if pref not in DEVICE_CHOICES and not pref.startswith("cuda:"):
        raise DeviceError(f"unknown device {preference!r}; choose one of auto, cpu, cuda, cuda:N")
    if pref == "cpu":
        return DeviceChoice(torch.device("cpu"), "CPU requested")
    ok, info = cuda_status()
    if pref.startswith("cuda"):
        if not ok:
            raise DeviceError(f"CUDA requested but not usable: {info}")
        device = torch.device(pref)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{pref} requested but only {torch.cuda.device_count()} GPU(s) present"
            )
        return DeviceChoice(device, f"CUDA requested: {torch.cuda.get_device_name(device)}")
    if ok:
        return DeviceChoice(torch.device("cuda"), f"CUDA GPU found: {info}")
    return DeviceChoice(torch.device("cpu"), f"CUDA not used: {info}")
