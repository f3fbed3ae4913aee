"""A line chart drawn on the server as SVG geometry (no JavaScript): balances at month ends.

``line_chart`` returns coordinates and tick labels; ``templates/web/_chart.html`` draws them.
Lines differ in colour, dash pattern and marker, so they can be told apart without colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ledger.money import ORE_PER_KRONA, format_kronor

#: (key, colour, dash pattern, marker shape)
SERIES = (
    ("paid", "#1f5f99", "", "circle"),
    ("costs", "#a65300", "6 3", "square"),
    ("repaid", "#2e7d32", "2 3", "diamond"),
    ("outstanding", "#b00020", "10 4 2 4", "triangle"),
)


@dataclass
class Line:
    key: str
    colour: str
    dash: str
    marker: str
    points: list[tuple[float, float]]

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    lines: list[Line] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)


def compact_kronor(ore: int) -> str:
    """Axis labels: "12,5 mnkr" from a million kronor up, else "1 234 kr"."""
    kronor = ore / ORE_PER_KRONA
    if abs(kronor) >= 1_000_000:
        text = f"{kronor / 1_000_000:,.1f}".replace(",", " ").replace(".", ",")
        return (text[:-2] if text.endswith(",0") else text) + " mnkr"
    return format_kronor(round(kronor) * ORE_PER_KRONA)


def nice_step(top: int, ticks: int = 5) -> int:
    """A round step (1, 2 or 5 × 10ⁿ öre) that divides 0..top into about ``ticks`` parts."""
    raw = max(top / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def line_chart(rows: list[dict[str, Any]], width: int = 760, height: int = 320) -> Chart | None:
    """The chart of rows with ``month_end`` and the SERIES keys (öre); None when nothing moved."""
    top_value = max((row[key] for row in rows for key, *_ in SERIES), default=0)
    if not rows or top_value <= 0:
        return None
    chart = Chart(width, height, left=96, top=16, right=width - 40, bottom=height - 40)
    step = nice_step(top_value)
    ceiling = step * math.ceil(top_value / step)
    span_x = max(len(rows) - 1, 1)

    def x(i: int) -> float:
        return chart.left + (chart.right - chart.left) * i / span_x

    def y(value: int) -> float:
        return chart.bottom - (chart.bottom - chart.top) * value / ceiling

    chart.y_ticks = [(y(v), compact_kronor(v)) for v in range(0, ceiling + 1, step)]
    every = max(1, math.ceil(len(rows) / 8))
    chart.x_ticks = [(x(i), row["month_end"][:7]) for i, row in enumerate(rows) if i % every == 0 or i == len(rows) - 1]
    chart.lines = [Line(key, colour, dash, marker, [(x(i), y(row[key])) for i, row in enumerate(rows)])
                   for key, colour, dash, marker in SERIES]
    return chart
