"""The geometry of the reports' SVG charts: positions and labels computed here, drawn by the templates
(`macros.html.j2`), so a chart is inline markup with no script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def tick(value: float, unit: str) -> str:
    """An axis or tooltip value: dollars, seconds or a count."""
    if unit == "$":
        return f"${value:.4f}" if value < 1 else f"${value:.2f}"
    if unit == "s":
        return f"{value:.2f}s" if value < 1 else f"{value:.1f}s" if value < 100 else f"{value:.0f}s"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]  # (x, y), x ascending
    unit: str  # "" | "$" | "s"
    colour: str


@dataclass(frozen=True)
class Label:
    x: str
    y: str
    text: str
    anchor: str = "middle"
    colour: str | None = None


@dataclass(frozen=True)
class Dot:
    x: str
    y: str
    title: str


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    points: str  # "x,y x,y ..." for a polyline
    dots: list[Dot]


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    labels: list[Label]
    lines: list[Line]


def line_chart(series: Sequence[Series], x_unit: str = "s", width: int = 760, height: int = 260) -> LineChart:
    """Cumulative lines on a shared x axis; each series is scaled to its own maximum (left axis for the
    first, right axis for the second). Points carry a tooltip."""
    left, right, top, bottom = 70, 80, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    x_max = max((x for s in series for x, _ in s.points), default=0.0) or 1.0
    labels = [
        Label(f"{left + plot_w * i / 2:.1f}", str(height - 14), tick(x_max * i / 2, x_unit)) for i in range(3)
    ]
    lines = []
    for index, s in enumerate(series[:2]):
        y_max = max((y for _, y in s.points), default=0.0) or 1.0
        ax, anchor = (left - 6, "end") if index == 0 else (left + plot_w + 6, "start")
        for i in range(3):
            py = top + plot_h - plot_h * i / 2
            labels.append(Label(str(ax), f"{py + 4:.1f}", tick(y_max * i / 2, s.unit), anchor, s.colour))
        coords = [(left + plot_w * x / x_max, top + plot_h - plot_h * y / y_max) for x, y in s.points]
        dots = [
            Dot(f"{px:.1f}", f"{py:.1f}", f"{s.label}: {tick(y, s.unit)} at {tick(x, x_unit)}")
            for (x, y), (px, py) in zip(s.points, coords, strict=True)
        ]
        lines.append(Line(s.label, s.colour, " ".join(f"{px:.1f},{py:.1f}" for px, py in coords), dots))
    return LineChart(width, height, left, top, plot_w, plot_h, labels, lines)
