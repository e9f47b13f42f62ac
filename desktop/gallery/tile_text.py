"""What a gallery tile says, as plain text (the painter draws it; tests and tooltips read it).

Once a clinician has labelled a photo, the label comes first (its class name on its colour, a
✓) and the model's prediction second, smaller; before that, the model's class and confidence.
The last line names the model version that made the prediction. A disputed photo (two
clinicians' labels disagree) says so beside the label, with each reader's label under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop.services.i18n import _, format_percent
from desktop.services.store import ReviewItem
from desktop.services.vocabulary import short_name


@dataclass(frozen=True)
class TileText:
    """``first``: the chip's text, on the colour of ``first_class``; ``first_note``: beside it
    (the confidence, or "✓ label"); ``second``: the smaller line under a label (the model's
    call, "" when unlabelled); ``model``: the version that made the prediction."""

    first: str
    first_class: str
    first_note: str
    second: str
    model: str
    labelled: bool

    def lines(self) -> list[str]:
        """The tile's text top to bottom (what a screen reader or a test reads)."""
        top = f"{self.first} {self.first_note}".strip()
        model = _("model {version}").format(version=self.model)
        return [x for x in (top, self.second, model) if x]


def tile_text(item: ReviewItem) -> TileText:
    """What the tile of ``item`` says: the clinician's label first where there is one."""
    said = f"{short_name(item.top_class)} {format_percent(item.confidence)}"
    label = item.current_label
    if item.disputed:
        said_by = " / ".join(short_name(r.label) for r in item.readings)  # who, when: tooltip
        return TileText(
            first=short_name(label or item.top_class),
            first_class=label or item.top_class,
            first_note="⚠ " + _("disputed"),
            second=said_by or _("Model: {said}").format(said=said),
            model=item.model_text,
            labelled=bool(label),
        )
    if label:
        return TileText(
            first=short_name(label),
            first_class=label,
            first_note="✓ " + _("label"),
            second=_("Model: {said}").format(said=said),
            model=item.model_text,
            labelled=True,
        )
    return TileText(
        first=short_name(item.top_class),
        first_class=item.top_class,
        first_note=format_percent(item.confidence),
        second="",
        model=item.model_text,
        labelled=False,
    )
