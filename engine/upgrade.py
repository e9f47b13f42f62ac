"""A new app version's default model is registered and offered, never silently made active.

A clinic may have fine-tuned its model on its own patients; an upgrade that swapped it for the
new shipped default would change every screening result without anyone deciding so. The rule:

- first use (no model active): the shipped default is copied into the store's models folder,
  registered and made active;
- later versions shipping a different default: it is copied and registered (with its model
  card beside it) but left inactive; ``default_offer`` then describes it so the GUI can offer
  "a newer default model is available" with the card, and ``store.activate_model`` switches only
  when a person asks.

``engine.session.open_active_model`` (the GUI's and ``poxscreen screen``'s way to the model in
use) calls ``register_shipped_default`` every time; on first use ``ensure_active_model`` does.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import paths
from engine.atomic import atomic_path

if TYPE_CHECKING:
    from engine.store import ModelInfo, Store

CARD_SUFFIX = ".card.md"


@dataclass(frozen=True)
class DefaultRegistration:
    """What ``register_shipped_default`` did."""

    info: ModelInfo  # the registry row of the shipped default (its file is in models_dir)
    newly_registered: bool  # False: this app version's default was already known

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def path(self) -> Path:
        return Path(self.info.path or "")

    @property
    def active(self) -> bool:
        """True only on first use (nothing was active) or when someone activated it."""
        return self.info.active


@dataclass(frozen=True)
class DefaultOffer:
    """A shipped default that is registered but not in use: the GUI offers it with its card."""

    version: str
    name: str
    path: Path
    card: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    active_version: str | None = None  # the model in use instead (perhaps fine-tuned locally)


def _card_for(model_file: Path) -> Path | None:
    """The model card shipped with a default model: beside it, or in resources/ above it."""
    for candidate in (
        model_file.parent / "MODEL_CARD.md",
        model_file.parent.parent / "MODEL_CARD.md",
    ):
        if candidate.is_file():
            return candidate
    return None


def register_shipped_default(
    store: Store, source: str | os.PathLike[str] | None = None
) -> DefaultRegistration | None:
    """Register this app version's default model; it becomes active only if nothing is active.

    The file is copied into ``store.models_dir`` (the registry never points into the application
    folder that the next upgrade replaces) with its model card beside it. Cheap when nothing
    changed: one header read and one query. None when the app ships no default model.
    """
    from engine.modelmeta import read_meta

    src = Path(source) if source is not None else paths.default_model_path()
    if not src.is_file():
        return None
    content_hash = read_meta(src).content_hash
    existing = next((m for m in store.models() if m.content_hash == content_hash), None)
    if existing is not None and existing.path and Path(existing.path).is_file():
        return DefaultRegistration(existing, newly_registered=False)
    info = store.add_model_file(src, activate=None)  # None: active only when none is
    card = _card_for(src)
    if card is not None and info.path:
        with atomic_path(Path(info.path).with_suffix(CARD_SUFFIX)) as tmp:
            shutil.copyfile(card, tmp)
    return DefaultRegistration(info, newly_registered=existing is None)


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


def default_offer(
    store: Store, source: str | os.PathLike[str] | None = None
) -> DefaultOffer | None:
    """The shipped default when registered but not in use and not already built upon.

    None when it is active, when the active model was fine-tuned from it, when it is not yet
    registered, or when the app ships no default.
    """
    from engine.modelmeta import read_meta

    src = Path(source) if source is not None else paths.default_model_path()
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
