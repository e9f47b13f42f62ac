"""What the review panel says about its Grad-CAM: the caption naming the class explained, the
class a clinician picks on the probability chart, the colour legend and recolouring.

The caption follows the overlay: it is hidden while the overlay is off. Clicking a class's bar
asks the services for that class's Grad-CAM (on the Grad-CAM thread); the answer comes back
through the panel's ``explain`` handling like the top class's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from desktop.services.i18n import N_, _, format_number
from desktop.services.vocabulary import long_name

if TYPE_CHECKING:
    from desktop.review.panel import ReviewPanel
    from desktop.services.review import ImageExplanation

CAPTION = N_("Grad-CAM: where the model looked for {name} ({probability})")
COMPUTING = N_("Computing Grad-CAM...")
COMPUTING_FOR = N_("Computing Grad-CAM for {name}...")
OTHER_MODEL = N_("{caption} (active model {version})")
TOOLTIP = N_("Model {version}")
TOOLTIP_TIMED = N_("Model {version}, computed in {ms:.0f} ms")


class GradCam(QObject):
    """The panel's Grad-CAM caption, class choice and legend (``panel.gradcam``)."""

    def __init__(self, panel: ReviewPanel) -> None:
        super().__init__(panel)
        self.panel, self.info = panel, panel.info
        self.last: ImageExplanation | None = None  # recolouring needs no Grad-CAM
        panel.chart.classClicked.connect(self.choose)
        panel.overlay_box.toggled.connect(self.info.setVisible)
        self.legend = panel.overlay_bar.legend

    def reset(self) -> None:
        """A new image: no explanation yet."""
        self.last = None
        self.panel.chart.set_explained(None)

    def computing(self) -> None:
        self.info.setText(_(COMPUTING))

    def show(self, ex: ImageExplanation) -> None:
        """Name the class the heatmap explains, with its probability; outline its bar."""
        self.last = ex
        target = ex.target_class
        self.panel.chart.set_explained(target)
        probability = format_number(ex.probabilities.get(target, ex.confidence), 2)
        text = _(CAPTION).format(name=long_name(target), probability=probability)
        item = self.panel.current_item()
        if (
            item is not None
            and item.model_version
            and item.model_version[:12] not in str(ex.model_version)
        ):  # an earlier run's prediction: the heatmap is the active model's
            text = _(OTHER_MODEL).format(caption=text, version=ex.model_version)
        self.info.setText(text)
        ms = ex.elapsed_ms
        tip = _(TOOLTIP_TIMED) if ms else _(TOOLTIP)
        self.info.setToolTip(tip.format(version=ex.model_version, ms=ms))

    def choose(self, name: str) -> None:
        """Show where the model looked for ``name`` (a click on its bar)."""
        panel = self.panel
        item = panel.current_item()
        if item is None or (self.last is not None and self.last.target_class == name):
            return
        request = panel.request_id()
        self.info.setText(_(COMPUTING_FOR).format(name=long_name(name)))
        panel.services.explain(item, request, lambda: panel.request_id() == request, target=name)

    def set_colormap(self, name: str) -> None:
        """Heatmap colours (Settings): the legend and the image on show are recoloured on a
        worker, without running Grad-CAM again; later images use ``name`` directly."""
        services = self.panel.services
        services.colormap = name
        services.legend(name)
        if self.last is not None:
            services.recolour(self.last, name, self.panel.request_id())

    def show_legend(self, colormap: str, ramp: QImage) -> None:
        if colormap == self.panel.services.colormap:  # not an older request's answer
            self.legend.set_ramp(colormap, ramp)
