"""Grad-CAM in the review panel: the colour legend, Grad-CAM for a class picked on the chart, and
a caption that follows the overlay."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from desktop.review.prob_chart import ROW_GAP
from desktop.services.vocabulary import long_name
from tests.desktop.review_support import make_panel, wait_loaded, wait_pool


def _ends(panel: Any) -> tuple[QColor, QColor]:
    ramp = panel.overlay_bar.legend.ramp_image()
    return ramp.pixelColor(0, 0), ramp.pixelColor(ramp.width() - 1, 0)


def test_the_legend_shows_the_colour_map_in_use_from_low_to_high(
    qtbot: Any, review_env: Any
) -> None:
    panel = make_panel(qtbot, review_env.services)
    legend = panel.overlay_bar.legend
    wait_pool(panel, qtbot, lambda: not legend.ramp_image().isNull())
    assert (legend.low.text(), legend.high.text()) == ("low", "high")
    low, high = _ends(panel)
    assert low.lightness() < 40 and high.lightness() > 150  # inferno: near black to pale yellow
    assert "inferno" in legend.toolTip()
    panel.set_colormap("viridis")
    wait_pool(panel, qtbot, lambda: legend.colormap == "viridis")
    low, high = _ends(panel)
    assert low.blue() > low.green() and high.red() > 200 and high.blue() < 80  # purple to yellow
    assert "viridis" in legend.toolTip()
    assert not legend.isVisible()  # no photo, no heatmap: nothing for a legend to explain
    panel.show_item(review_env.items[0])
    wait_pool(panel, qtbot, lambda: "Grad-CAM:" in panel.info.text())
    assert panel.view.has_heat() and legend.isVisible()
    panel.overlay_box.setChecked(False)
    assert not legend.isVisible()
    panel.overlay_box.setChecked(True)
    assert legend.isVisible()


def _bar_point(panel: Any, name: str) -> QPoint:
    chart = panel.chart
    row = list(chart.probabilities()).index(name)
    height = chart.fontMetrics().height() + ROW_GAP
    return QPoint(30, ROW_GAP // 2 + row * height + height // 2)


def test_clicking_a_class_bar_shows_where_the_model_looked_for_it(
    qtbot: Any, review_env: Any
) -> None:
    panel = make_panel(qtbot, review_env.services)
    item = review_env.items[0]
    panel.show_item(item)
    wait_loaded(qtbot, panel)
    wait_pool(panel, qtbot, lambda: "Grad-CAM:" in panel.info.text())
    assert long_name(item.top_class) in panel.info.text()
    assert panel.chart.explained() == item.top_class
    top_heat = panel.view.heat_image()
    other = next(c for c in panel.chart.probabilities() if c != item.top_class)
    assert panel.chart.class_at(_bar_point(panel, other).y()) == other
    qtbot.mouseClick(panel.chart, Qt.MouseButton.LeftButton, pos=_bar_point(panel, other))
    wait_pool(panel, qtbot, lambda: f"looked for {long_name(other)}" in panel.info.text())
    assert panel.chart.explained() == other
    assert review_env.explainer.calls == 2  # one Grad-CAM for the top class, one for the pick
    assert panel.view.heat_image() != top_heat
    # the same class again computes nothing
    qtbot.mouseClick(panel.chart, Qt.MouseButton.LeftButton, pos=_bar_point(panel, other))
    wait_pool(panel, qtbot)
    assert review_env.explainer.calls == 2


def test_the_caption_is_hidden_while_the_overlay_is_off(qtbot: Any, review_env: Any) -> None:
    panel = make_panel(qtbot, review_env.services)
    panel.show_item(review_env.items[1])
    wait_pool(panel, qtbot, lambda: "Grad-CAM:" in panel.info.text())
    assert panel.info.isVisible()
    qtbot.keyClick(panel.view, Qt.Key.Key_G)
    assert not panel.view.overlay_visible()
    assert not panel.info.isVisible()
    qtbot.keyClick(panel.view, Qt.Key.Key_G)
    assert panel.info.isVisible() and "Grad-CAM:" in panel.info.text()
