"""Live training curves: loss (train and validation) and validation accuracy / macro-F1 per
epoch, drawn with pyqtgraph (fast, no matplotlib in the GUI thread)."""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from desktop.services.i18n import _
from desktop.services.vocabulary import PALETTE

# Okabe-Ito colours, as everywhere in the app, and for readers who do not tell them apart (or a
# one-epoch run, all dots) each curve its own line style and marker as well.
TRAIN = PALETTE.blue
VAL = PALETTE.vermillion
ACC = PALETTE.bluish_green
F1 = PALETTE.reddish_purple
_LINE = pg.QtCore.Qt.PenStyle


def _style(colour: str, line: object, symbol: str) -> dict[str, Any]:
    return {
        "pen": pg.mkPen(colour, width=2, style=line),
        "symbol": symbol,
        "symbolSize": 9,
        "symbolBrush": pg.mkBrush(colour),
        "symbolPen": pg.mkPen("w", width=1),
    }


STYLES = {
    "train_loss": _style(TRAIN, _LINE.SolidLine, "o"),
    "val_loss": _style(VAL, _LINE.DashLine, "s"),
    "val_accuracy": _style(ACC, _LINE.SolidLine, "t"),
    "val_macro_f1": _style(F1, _LINE.DashLine, "d"),
}


class EpochAxis(pg.AxisItem):
    """Whole-number epoch ticks, about eight of them whatever the number of epochs."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:  # noqa: N802,N803
        step = max(1, math.ceil((maxVal - minVal) / 8))
        return [(float(step), 0.0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [str(int(round(v))) if abs(v - round(v)) < 1e-6 else "" for v in values]


def _plot(title: str, y_label: str, legend_at: tuple[int, int]) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w", axisItems={"bottom": EpochAxis("bottom")})
    plot.setTitle(title, color="#222", size="10pt")
    plot.setLabel("bottom", _("epoch"))
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.addLegend(offset=legend_at)
    plot.setMinimumHeight(150)
    return plot


class TrainingCurves(QWidget):
    """Two plots fed one ``epoch`` progress event at a time (or a whole history at once)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot(_("Loss"), _("loss"), (-10, 10))  # top right
        self.metric_plot = _plot(_("Validation"), _("score"), (-10, -30))  # bottom right
        self.metric_plot.setYRange(0, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.metric_plot)
        self._series: dict[str, list[float]] = {}
        self._epochs: list[int] = []
        self._curves = {
            key: plot.plot([], [], name=name, **STYLES[key])
            for key, plot, name in (
                ("train_loss", self.loss_plot, _("train")),
                ("val_loss", self.loss_plot, _("validation")),
                ("val_accuracy", self.metric_plot, _("accuracy")),
                ("val_macro_f1", self.metric_plot, "macro-F1"),
            )
        }

    def clear(self) -> None:
        self._series.clear()
        self._epochs.clear()
        for curve in self._curves.values():
            curve.setData([], [])

    def add_epoch(self, event: dict[str, Any]) -> None:
        """Append one ``epoch`` event (missing or null values leave a gap)."""
        self._epochs.append(int(event.get("epoch", len(self._epochs) + 1)))
        for key, curve in self._curves.items():
            value = event.get(key)
            series = self._series.setdefault(key, [])
            series.append(float(value) if isinstance(value, (int, float)) else float("nan"))
            curve.setData(self._epochs, series, connect="finite")

    @property
    def epochs_drawn(self) -> int:
        return len(self._epochs)
