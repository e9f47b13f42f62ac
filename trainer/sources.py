"""The case store as a training source (labelled images), and where store-side files live.

Kept apart from the rest of the trainer so folder-only training works without a database.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.paths import user_data_dir, user_models_dir
from engine.recipe import AdaptRecipe
from trainer.data import DataError, Sample, Skipped


def open_store(db: str | os.PathLike[str] | None) -> Any:
    """Open the case store named by ``--db`` (or $POXSCREEN_DB, or the user data dir)."""
    from engine.store import Store

    return Store.open(db)


DISPUTED = (
    "disputed: clinicians gave it different labels; left out until it is settled "
    "(a third clinician's label)"
)


def store_samples(
    store: Any,
    classes: Sequence[str] | None = None,
    lab_only: bool = False,
) -> tuple[list[Sample], list[Skipped]]:
    """Every image with a current label, except "refer / uncertain" (the store leaves those out),
    read from the store's own copy when it has one. Images whose file is gone, and disputed
    ones (clinicians disagree, not yet settled), are skipped with the reason; ``lab_only``: so
    are photos of visits without a lab result (positive or negative)."""
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    confirmed = store.visits.lab_confirmed_hashes() if lab_only else set()
    for item in store.labelled_images():
        if getattr(item, "disputed", False):
            skipped.append(Skipped(f"sha256:{item.sha256}", DISPUTED))
            continue
        if lab_only and item.sha256 not in confirmed:
            skipped.append(Skipped(f"sha256:{item.sha256}", "not a photo of a lab-confirmed visit"))
            continue
        if item.file is None:
            skipped.append(
                Skipped(
                    f"sha256:{item.sha256}",
                    "labelled, but the photo is gone (forgotten, or the original moved "
                    "and the store kept no copy)",
                )
            )
            continue
        if classes is not None and item.label not in classes:
            skipped.append(
                Skipped(str(item.file), f"label {item.label!r} not among the classes being trained")
            )
            continue
        samples.append(
            Sample(path=Path(item.file), label=item.label, sha256=item.sha256, source="store")
        )
    return samples, skipped


def clinic_photo_files(store: Any | None, recipe: AdaptRecipe) -> list[Path]:
    """The clinic's most recent photos, labelled or only screened, over which a fine-tune
    measures its backbone's BatchNorm statistics (``recipe.bn_pool`` "clinic"); none without a
    store."""
    if store is None or recipe.bn_share <= 0 or recipe.bn_pool != "clinic":
        return []
    from trainer.adapt import BN_WINDOW

    return list(store.clinic_photos(BN_WINDOW))


def store_models_dir(store: Any | None) -> Path:
    """Where registered model files are kept (the store's own folder; see Store.models_dir)."""
    return store.models_dir if store is not None else user_models_dir()


def store_split_path(store: Any | None) -> Path:
    """The split recorded for training from the store (validation stays fixed across runs)."""
    folder = store.splits_dir if store is not None else user_data_dir() / "splits"
    return folder / "store-split.json"


def current_model_path(store: Any | None, init: str = "auto") -> tuple[Path | None, bool]:
    """The model in use and whether the store knows it: the store's active model (the shipped
    default is registered, with its file, on first use), else the shipped default.

    Starting from the model in use (``init`` auto/active) when its file is missing is refused
    with the reason: training must never fall back to ImageNet without saying so. With another
    ``init`` the run goes on, and the gate reports the model in use as not comparable."""
    from engine import paths

    if store is not None:
        from engine.checkpoint import ModelFileError
        from engine.session import ensure_active_model

        try:
            info = ensure_active_model(store)
        except ModelFileError as exc:
            if init in ("auto", "active"):
                raise DataError(
                    f"cannot start from the model in use: {exc}. Use --init imagenet to start "
                    "from the ImageNet backbone on purpose"
                ) from exc
            return None, True
        return (Path(info.path) if info.path else None), True
    shipped = paths.default_model_path()
    return (shipped, False) if shipped.is_file() else (None, False)
