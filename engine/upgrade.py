"""A new app version's default model is registered and offered, never silently made active.

A clinic may have fine-tuned its model on its own patients; an upgrade that swapped it for the
new shipped default would change every screening result without anyone deciding so. The rule:

- first use (no model active): the shipped default is copied into the store's models folder,
  registered and made active;
- later versions shipping a different default: it is copied and registered (with its model
  card beside it) but left inactive; ``default_offer`` then describes it so the GUI can offer
  "a newer default model is available" with the card, and ``store.activate_model`` switches only
  when a person asks.

``engine.session.open_active_model`` calls ``register_shipped_default`` on every start (cheap:
one header read and one query when nothing changed).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path
from engine.paths import default_model_path, resources_dir, user_models_dir

CARD_SUFFIX = ".card.md"


@dataclass(frozen=True)
class DefaultRegistration:
    """What ``register_shipped_default`` did."""

    version: str  # name@hash12 of the shipped default
    path: Path  # its copy in the models folder
    newly_registered: bool  # False: this app version's default was already known
    active: bool  # True only on first use (nothing active before) or if it already was


@dataclass(frozen=True)
class DefaultOffer:
    """A shipped default that is registered but not in use: the GUI offers it with its card."""

    version: str
    name: str
    path: Path
    card: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    active_version: str | None = None  # the model in use instead (perhaps fine-tuned locally)


def shipped_card_path() -> Path:
    """The model card shipped beside the default model."""
    return resources_dir() / "MODEL_CARD.md"


def _models_dir(store: Any, models_dir: str | os.PathLike[str] | None) -> Path:
    if models_dir is not None:
        return Path(models_dir)
    return Path(getattr(store, "models_dir", None) or user_models_dir())


def _copy_atomic(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def register_shipped_default(
    store: Any,
    source: str | os.PathLike[str] | None = None,
    models_dir: str | os.PathLike[str] | None = None,
) -> DefaultRegistration | None:
    """Register this app version's default model; make it active only if nothing is active.

    Copies the file (and the model card, when shipped) into the models folder first, so the
    registry never points into the application folder that the next upgrade replaces. Returns
    None when the app ships no default model.
    """
    from engine.checkpoint import read_meta

    src = Path(source) if source is not None else default_model_path()
    if not src.is_file():
        return None
    meta = read_meta(src)
    known = {m.content_hash: m for m in store.models()}
    existing = known.get(meta.content_hash)
    if existing is not None and existing.path and Path(existing.path).is_file():
        return DefaultRegistration(meta.version, Path(existing.path), False, existing.active)
    target = _models_dir(store, models_dir) / f"{meta.name}-{meta.content_hash[:12]}.safetensors"
    if not target.is_file():
        _copy_atomic(src, target)
    card = shipped_card_path() if source is None else src.parent / "MODEL_CARD.md"
    if card.is_file():
        _copy_atomic(card, target.with_suffix(CARD_SUFFIX))
    # activate=None: active only when the registry has no active model (first use)
    info = store.register_model_file(target, activate=None)
    return DefaultRegistration(meta.version, target, existing is None, info.active)


def _parent(models: dict[str, Any], model: Any) -> Any:
    """The registered parent; lineage may record only a hash prefix (``name@hash12``)."""
    ref = (model.parent_hash or "").lower()
    if not ref:
        return None
    found = [m for h, m in models.items() if h.startswith(ref)]
    return found[0] if len(found) == 1 else None


def _descends_from(models: dict[str, Any], model: Any, ancestor_hash: str) -> bool:
    seen: set[str] = set()
    while model is not None and model.content_hash not in seen:
        if model.content_hash == ancestor_hash:
            return True
        seen.add(model.content_hash)
        model = _parent(models, model)
    return False


def default_offer(store: Any, source: str | os.PathLike[str] | None = None) -> DefaultOffer | None:
    """The shipped default when registered but not in use and not already built upon.

    None when it is active, when the active model was fine-tuned from it, when it is not yet
    registered, or when the app ships no default.
    """
    from engine.checkpoint import read_meta

    src = Path(source) if source is not None else default_model_path()
    if not src.is_file():
        return None
    shipped_hash = read_meta(src).content_hash
    models = {m.content_hash: m for m in store.models()}
    shipped = models.get(shipped_hash)
    if shipped is None or shipped.active:
        return None
    active = next((m for m in models.values() if m.active), None)
    if active is not None and _descends_from(models, active, shipped_hash):
        return None
    path = Path(shipped.path) if shipped.path else src
    card = path.with_suffix(CARD_SUFFIX)
    return DefaultOffer(
        version=shipped.version,
        name=shipped.name,
        path=path,
        card=card if card.is_file() else None,
        metrics=dict(shipped.metrics),
        active_version=active.version if active is not None else None,
    )
