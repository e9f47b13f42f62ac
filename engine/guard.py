"""The "not a skin photo" guard: how far a picture's features lie from the training photos'.

A screenshot, a document or a chart still gets a confident class from a softmax; the guard asks
instead whether the network's own features look like the photos it was trained on. The feature
is the backbone's globally pooled output (1280-d, the same forward pass that gives the logits),
square-rooted (a variance-stabilising transform for non-negative activations). The score is a
class-conditional Mahalanobis distance with one shared (shrinkage) covariance inside the
training features' leading principal subspace, plus the energy left outside that subspace,
weighted so both parts count alike (the residual is where documents and textures stand out).

Measured on the shipped model (see the model card): the 256-d pre-logits alone flagged about 65%
of non-skin pictures at a 95% pass rate on validation photos; this score flags over 90%.

The statistics travel in the model file as tensors named ``scope_guard.*`` (part of the content
hash); a file without them has no guard ("guard unavailable"). ``score`` returns distances
divided by the threshold that validation photos chose, so ``1.0`` is the line on every model.

Torch-free: the ONNX Runtime screening path reads the statistics with safetensors' numpy API
(:func:`load_guard`), and the case store checks them on import; engine.checkpoint makes the
tensors for a model file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PREFIX = "scope_guard."
FEATURE = "backbone_pool_sqrt"
UNAVAILABLE = "guard unavailable: the model file carries no out-of-scope statistics"
DISABLED = (
    "guard disabled: the model file's out-of-scope statistics are damaged "
    "(no photo is flagged as not a skin photo)"
)
#: The largest pooled backbone feature (the backbone's last activation is ReLU6).
FEATURE_MAX = 6.0
#: The smallest sane threshold as a share of :meth:`ScopeGuard.max_distance` (the shipped
#: model's is about 6e-3 of it): below, statistics are damaged, not fitted.
THRESHOLD_FLOOR = 1e-6
_NAMES = ("center", "basis", "class_means", "precision", "residual_weight", "threshold")


def pooled_features(feature_map: torch.Tensor) -> torch.Tensor:
    """The guard's input from the backbone's output map (B x 1280 x H x W): global average."""
    return feature_map.float().mean(dim=(2, 3))


@dataclass
class ScopeGuard:
    """Fitted statistics: ``score(features) > 1`` means "probably not a skin photo"."""

    center: np.ndarray  # (D,) mean of the transformed training features
    basis: np.ndarray  # (D, k) leading principal directions
    class_means: np.ndarray  # (C, k) per-class means in the subspace
    precision: np.ndarray  # (k, k) shared within-class precision in the subspace
    residual_weight: float  # scales the out-of-subspace energy to the in-subspace one
    threshold: float  # raw distance above which a picture is out of scope

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    def raw_distance(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Unscaled distance for pooled backbone features (B x D)."""
        x = np.sqrt(np.clip(_as_array(features), 0.0, None))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"guard expects features of shape (B, {self.dim}), got {x.shape}")
        centred = x - self.center
        z = centred @ self.basis
        residual = np.einsum("ij,ij->i", centred, centred) - np.einsum("ij,ij->i", z, z)
        # (z - m)' P (z - m) = z'Pz - 2 z'Pm + m'Pm for every class mean m, as matrix products
        zp = z @ self.precision
        mp = self.class_means @ self.precision
        maha = (
            np.einsum("ij,ij->i", zp, z)[:, None]
            - 2.0 * zp @ self.class_means.T
            + np.einsum("cj,cj->c", mp, self.class_means)[None, :]
        ).min(axis=1)
        return maha + self.residual_weight * np.maximum(residual, 0.0)

    def score(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Distance divided by the threshold: above 1.0 is out of scope."""
        return self.raw_distance(features) / self.threshold

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The statistics as float32 arrays named ``scope_guard.*`` for the model file (the
        writer turns them into tensors: this module stays torch-free, so the case store can
        check a file's statistics)."""
        values = {
            "center": self.center,
            "basis": self.basis,
            "class_means": self.class_means,
            "precision": self.precision,
            "residual_weight": np.array([self.residual_weight]),
            "threshold": np.array([self.threshold]),
        }
        return {PREFIX + k: np.ascontiguousarray(v, dtype=np.float32) for k, v in values.items()}

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Any]) -> ScopeGuard | None:
        """The guard stored in a model file's tensors (torch tensors or numpy arrays), or None
        when it has none."""
        if not any(k.startswith(PREFIX) for k in tensors):
            return None
        missing = [n for n in _NAMES if PREFIX + n not in tensors]
        if missing:
            raise ValueError(f"incomplete out-of-scope statistics (missing {missing})")
        a = {n: _as_array(tensors[PREFIX + n]) for n in _NAMES}
        guard = cls(
            center=a["center"],
            basis=a["basis"],
            class_means=a["class_means"],
            precision=a["precision"],
            residual_weight=float(a["residual_weight"].reshape(-1)[0]),
            threshold=float(a["threshold"].reshape(-1)[0]),
        )
        guard.validate()
        return guard

    def validate(self) -> None:
        """Raise ``ValueError`` when the shapes or numbers cannot be a fitted guard."""
        d, k = self.basis.shape if self.basis.ndim == 2 else (-1, -1)
        if self.center.shape != (d,) or self.precision.shape != (k, k):
            raise ValueError("out-of-scope statistics have inconsistent shapes")
        if self.class_means.ndim != 2 or self.class_means.shape[1] != k:
            raise ValueError("out-of-scope class means have the wrong shape")
        self._validate_numbers()

    def _validate_numbers(self) -> None:
        """Damaged statistics flag every photo, or none, without a sign: refuse NaN/inf, a
        subspace that is not orthonormal, a precision that is not positive definite, and a
        threshold above any distance a picture can get, or a vanishing share of it."""
        arrays = (self.center, self.basis, self.class_means, self.precision)
        scalars = (self.residual_weight, self.threshold)
        if not all(np.isfinite(a).all() for a in arrays) or not np.isfinite(scalars).all():
            raise ValueError("out-of-scope statistics hold NaN or infinite values")
        if not (self.threshold > 0 and self.residual_weight >= 0):
            raise ValueError("out-of-scope threshold must be positive")
        if not np.allclose(np.linalg.norm(self.basis, axis=0), 1.0, atol=1e-2):
            raise ValueError("out-of-scope subspace is not orthonormal")
        if not np.allclose(self.precision, self.precision.T, rtol=1e-3, atol=1e-6):
            raise ValueError("out-of-scope precision is not symmetric")
        if np.linalg.eigvalsh(self.precision).min() <= 0:
            raise ValueError("out-of-scope precision is not positive definite")
        reach = self.max_distance()
        if not THRESHOLD_FLOOR * reach <= self.threshold <= reach:
            raise ValueError(
                f"out-of-scope threshold {self.threshold:g} is outside the range its statistics "
                f"allow ({THRESHOLD_FLOOR * reach:.3g} to {reach:.3g}): it would flag every "
                "photo or none"
            )

    def max_distance(self) -> float:
        """An upper bound of the raw distance any picture can get: the backbone ends in ReLU6,
        so the square-rooted features lie in [0, sqrt 6] per dimension. A threshold above it
        flags nothing; one far below it flags everything."""
        reach = float(np.linalg.norm(self.center)) + float(np.sqrt(FEATURE_MAX * self.dim))
        spread = reach + float(np.linalg.norm(self.class_means, axis=1).max(initial=0.0))
        top = float(np.linalg.eigvalsh(self.precision).max(initial=0.0))
        return top * spread**2 + self.residual_weight * reach**2

    def summary(self) -> dict[str, Any]:
        """Small facts for the model's metadata (the tensors stay out of the JSON)."""
        return {
            "feature": FEATURE,
            "dim": self.dim,
            "components": int(self.basis.shape[1]),
            "classes": int(self.class_means.shape[0]),
        }


def _as_array(values: Any) -> np.ndarray:
    """float64 numpy from a numpy array or a (CPU or GPU) torch tensor, without importing torch."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def usable_guard(tensors: Mapping[str, Any], path: str | os.PathLike[str]) -> ScopeGuard | None:
    """The guard in a model file's tensors, or None, with a warning naming the file, when its
    statistics are damaged: screening then says "guard disabled" instead of silently flagging
    every photo, or none."""
    try:
        return ScopeGuard.from_tensors(tensors)
    except ValueError as exc:
        log.warning("%s: out-of-scope guard disabled: %s", os.fspath(path), exc)
        return None


def read_guard_tensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Only the ``scope_guard.*`` tensors of a model file, read with safetensors' numpy API (no
    torch). Raises ``OSError`` / safetensors' error for an unreadable file."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="np") as fh:
        names = [k for k in fh.keys() if k.startswith(PREFIX)]  # noqa: SIM118 (no __iter__)
        return {k: fh.get_tensor(k) for k in names}


def load_guard(path: str | os.PathLike[str]) -> ScopeGuard | None:
    """The guard in the model file at ``path`` (no torch). None: the file has none. Raises
    ``ValueError`` for incomplete or damaged statistics and ``OSError`` / safetensors' error for
    an unreadable file."""
    return ScopeGuard.from_tensors(read_guard_tensors(path))


def split_guard_tensors(
    state: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(network weights, guard tensors) from a model file's tensors."""
    net = {k: v for k, v in state.items() if not k.startswith(PREFIX)}
    guard = {k: v for k, v in state.items() if k.startswith(PREFIX)}
    return net, guard
