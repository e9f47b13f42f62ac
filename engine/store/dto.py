"""Plain, immutable results handed out by the store (no live ORM objects leave a session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.store.owner import owner_gone


@dataclass(frozen=True)
class ImageRecord:
    id: int
    sha256: str
    path: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    format: str | None
    stored_path: str | None
    current_label: str | None
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class PredictionRecord:
    model_version: str
    model_name: str
    top_class: str
    confidence: float
    entropy: float | None
    probabilities: dict[str, float]
    run_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class RunCounts:
    """``screened``: new predictions made by the run; ``skipped``: files already screened with the
    same model; ``failed``: files that could not be screened; ``seen``: files recorded so far."""

    seen: int = 0
    screened: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(frozen=True)
class RunInfo:
    id: int
    folder: str
    options: dict[str, Any]
    model_version: str
    model_name: str
    status: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    total: int | None
    counts: RunCounts
    error: str | None
    owner_host: str | None = None
    owner_pid: int | None = None
    heartbeat_at: datetime | None = None

    @property
    def rescreen_of(self) -> int | None:
        """The earlier run this one screened again with another model (None: a first screening)."""
        value = self.options.get("rescreen_of")
        return int(value) if isinstance(value, int) else None

    @property
    def interrupted(self) -> bool:
        """Still marked running, but its owner is gone: the process died on this host, or gave
        no sign of life (batch or heartbeat) for OWNER_SILENT_SECONDS (see engine.store.owner)."""
        if self.status != "running":
            return False
        last = max(self.updated_at, self.heartbeat_at or self.updated_at)
        return owner_gone(self.owner_host, self.owner_pid, last, datetime.now(timezone.utc))


@dataclass(frozen=True)
class RecordStats:
    """What one ``record_results`` batch did (same meanings as RunCounts)."""

    screened: int
    skipped: int
    failed: int


@dataclass(frozen=True)
class LabelEntry:
    """One event of an image's label history; ``label_after`` is the current label it left.
    ``kind``: set, undo or redo. ``model_version`` / ``predicted_class`` / ``confidence``: the
    model prediction the clinician was shown when labelling (None when unknown)."""

    id: int
    kind: str
    label: str | None
    who: str
    note: str | None
    source: str
    created_at: datetime
    undoes_id: int | None
    label_after: str | None
    model_version: str | None = None
    predicted_class: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class LabelOutcome:
    """Result of a label or undo: the event written and where the image copy is (if any)."""

    sha256: str
    event_id: int
    current_label: str | None
    stored_path: Path | None
    warning: str | None = None


@dataclass(frozen=True)
class LabelledImage:
    """A training example: the image file to read (store copy first) and its current label."""

    sha256: str
    label: str
    file: Path | None
    disputed: bool = False  # clinicians disagree: left out of training until settled


@dataclass(frozen=True)
class ModelInfo:
    content_hash: str
    name: str
    path: str | None
    meta: dict[str, Any]
    metrics: dict[str, Any]
    parent_hash: str | None
    created_at: datetime
    active: bool
    discarded: bool = False

    @property
    def version(self) -> str:
        """``name@hash12``, as engine.checkpoint.ModelMeta.version spells it."""
        return f"{self.name}@{self.content_hash[:12]}"


@dataclass(frozen=True)
class TrainingRunInfo:
    id: int
    base_model: str | None
    result_model: str | None
    params: dict[str, Any]
    data_summary: dict[str, Any]
    status: str
    metrics: dict[str, Any]
    log: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class ReviewItem:
    """One row of the review queue: an image and the chosen model's prediction for it."""

    image_id: int
    sha256: str
    path: str | None
    stored_path: str | None
    width: int | None
    height: int | None
    top_class: str
    confidence: float
    entropy: float | None
    probabilities: dict[str, float]
    current_label: str | None
    prediction_id: int
    scope_score: float | None = None  # distance / threshold; > 1: probably not a skin photo
    out_of_scope: bool | None = None  # None: the model had no guard
    quality_issues: str | None = None  # "blurry;too dark"; "" fine; None: not checked
    model_name: str | None = None  # the model that made this prediction
    model_version: str | None = None  # its content hash
    run_id: int | None = None  # the run that made it (None: its run was deleted)
    patient: str | None = None  # pseudonymous identifiers (None: not given)
    visit: str | None = None
    disputed: bool = False  # clinicians' labels disagree (engine.store.disputes)
    readings: tuple[Any, ...] = ()  # then who gave which label when (disputes.Reading)

    @property
    def model_text(self) -> str:
        """The model version that made the prediction, as a clinician reads it: "name@hash6"."""
        if not self.model_version:
            return self.model_name or "model"
        return f"{self.model_name or 'model'}@{self.model_version[:6]}"

    @property
    def check_photo(self) -> bool:
        """Refer with "check photo": not a skin photo? or a quality problem (never dropped)."""
        from engine.referral import needs_photo_check

        return needs_photo_check(self.out_of_scope, self.quality_issues)


@dataclass(frozen=True)
class ReviewPage:
    """A page of the queue; pass ``next_cursor`` back as ``after`` for the next page."""

    items: list[ReviewItem] = field(default_factory=list)
    next_cursor: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class AgreementCounts:
    """For one clinician label class: images where the model's top class agreed or not."""

    agreed: int = 0
    disagreed: int = 0

    @property
    def total(self) -> int:
        return self.agreed + self.disagreed


@dataclass(frozen=True)
class StoreStats:
    """Status-bar counts for the active model: images it screened, of them labelled, left."""

    screened: int = 0
    reviewed: int = 0
    to_review: int = 0


@dataclass(frozen=True)
class Registration:
    """What registering a trained model did: its stored file, whether it became active, why."""

    path: str
    version: str
    activated: bool
    training_run: int
    reason: str


@dataclass(frozen=True)
class PromotionResult:
    """The answer to a Promote: whether ``model`` is now active and, in plain words, why."""

    promoted: bool
    reason: str
    model: ModelInfo
    previous: str | None  # the version that was active before
