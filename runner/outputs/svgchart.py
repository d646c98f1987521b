"""Small static SVG charts for report.html: axes, ticks, grid, bars, steps, lines, a legend.

report.html needs three fixed charts, not a plotting library: matplotlib cost about 0.6 s of
import and as much again to draw them, on every run, which was most of a small batch's time.
This module writes the same charts as plain SVG text with the standard library only (about a
millisecond). The output has no ids, no metadata, nothing fetched and no script, so it is the
same bytes for the same figures and safe to insert into the page as markup: every text in it
goes through html.escape.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

FONT_PX = 13.0  # 10 pt at 96 px per inch: the page's body text size once the chart fills its column
LEGEND_FONT_PX = 12.0
LEGEND_ROW_PX = LEGEND_FONT_PX * 1.45
FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
INK = "#212121"
GRID = "#e0e0e0"
CHAR_WIDTH = 0.6  # average glyph width of a sans-serif font, in font sizes: enough to leave room for labels
#: dash patterns by name, as matplotlib spells them ("-" solid, "--" dashed, ":" dotted)
DASHES = {"-": "", "--": "5.5 2.4", ":": "1.5 2.5"}


def text_width(text: str, size: float = FONT_PX) -> float:
    """An estimate of a label's width in px, to size margins (the browser's font decides the rest)."""
    return len(text) * size * CHAR_WIDTH


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros: short, and stable across runs."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def nice_ticks(low: float, high: float, *, most: int = 6, integer: bool = False) -> list[float]:
    """Round tick values from low to high: a step of 1, 2, 2.5 or 5 times a power of ten, at most `most` gaps."""
    span = high - low
    if span <= 0:
        return [low]
    magnitude = 10.0 ** math.floor(math.log10(span / most))
    multiples = (1.0, 2.0, 5.0, 10.0) if integer else (1.0, 2.0, 2.5, 5.0, 10.0)
    step = next(m * magnitude for m in multiples
                if (not integer or m * magnitude >= 1) and span / (m * magnitude) <= most + 1e-9)
    first = math.ceil(low / step - 1e-9)
    return [round((first + i) * step, 10) for i in range(int((high - first * step) / step + 1e-9) + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten in [low, high]; with fewer than three of them, also their 2 and 5 multiples."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks = [10.0 ** d for d in decades if low <= 10.0 ** d <= high * (1 + 1e-9)]
    if len(ticks) < 3:
        ticks = sorted(m * 10.0 ** d for d in decades for m in (1, 2, 5) if low <= m * 10.0 ** d <= high * (1 + 1e-9))
    return ticks


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """Thousands separators, and as many decimals as the step between ticks needs (none for whole steps)."""
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    step = min(steps) if steps else abs(value) or 1.0
    decimals = 0 if float(step).is_integer() else min(6, max(0, -math.floor(math.log10(step)) + 1))
    text = f"{value:,.{decimals}f}"
    if decimals:
        text = text.rstrip("0").rstrip(".")
    return text


@dataclass
class Scale:
    """Data values to px along one axis, linear or logarithmic."""

    low: float
    high: float
    start_px: float
    end_px: float
    log: bool = False

    def __call__(self, value: float) -> float:
        if self.log:
            low, high, value = math.log10(self.low), math.log10(self.high), math.log10(max(value, self.low))
        else:
            low, high = self.low, self.high
        share = (value - low) / (high - low) if high > low else 0.0
        return self.start_px + share * (self.end_px - self.start_px)


@dataclass
class LegendEntry:
    label: str
    colour: str
    dash: str = "-"
    width: float = 1.2


@dataclass
class Chart:
    """One chart being drawn: its size, its plot area, and the SVG elements so far (in drawing order)."""

    width: float
    height: float
    label: str  # what the chart shows, for screen readers
    left: float = 60.0
    right: float = 14.0
    top: float = 12.0
    bottom: float = 46.0
    parts: list[str] = field(default_factory=list)

    @property
    def plot_left(self) -> float:
        return self.left

    @property
    def plot_right(self) -> float:
        return self.width - self.right

    @property
    def plot_top(self) -> float:
        return self.top

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom

    def x_scale(self, low: float, high: float, *, log: bool = False) -> Scale:
        return Scale(low, high, self.plot_left, self.plot_right, log)

    def y_scale(self, low: float, high: float) -> Scale:
        return Scale(low, high, self.plot_bottom, self.plot_top)

    # ---- primitives

    def rect(self, x: float, y: float, width: float, height: float, fill: str, *, stroke: str = "",
             stroke_width: float = 0.0) -> None:
        outline = f' stroke="{stroke}" stroke-width="{_num(stroke_width)}"' if stroke else ""
        self.parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(width, 0))}" '
                          f'height="{_num(max(height, 0))}" fill="{fill}"{outline}/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str, *, width: float = 1.0,
             dash: str = "-") -> None:
        pattern = f' stroke-dasharray="{DASHES[dash]}"' if DASHES[dash] else ""
        self.parts.append(f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
                          f'stroke="{colour}" stroke-width="{_num(width)}"{pattern}/>')

    def path(self, points: Sequence[tuple[float, float]], *, fill: str = "none", stroke: str = "",
             width: float = 1.0, closed: bool = False) -> None:
        moves = " ".join(f"{'M' if i == 0 else 'L'}{_num(x)} {_num(y)}" for i, (x, y) in enumerate(points))
        outline = f' stroke="{stroke}" stroke-width="{_num(width)}" stroke-linejoin="miter"' if stroke else ""
        self.parts.append(f'<path d="{moves}{" Z" if closed else ""}" fill="{fill}"{outline}/>')

    def text(self, x: float, y: float, content: str, *, anchor: str = "start", size: float = FONT_PX,
             rotate: bool = False, middle: bool = False) -> None:
        """A label; `middle` centres it vertically on y, `rotate` turns it to read bottom to top (a y label)."""
        turn = f' transform="rotate(-90 {_num(x)} {_num(y)})"' if rotate else ""
        shift = ' dy="0.35em"' if middle else ""
        font = f' font-size="{_num(size)}"' if size != FONT_PX else ""
        self.parts.append(f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{shift}{font}{turn}>'
                          f"{escape(content)}</text>")

    # ---- axes

    def x_axis(self, scale: Scale, ticks: Sequence[float], labels: Sequence[str], title: str, *,
               grid: bool = False) -> None:
        """Ticks and their labels under the plot, the title below them, and optional vertical grid lines."""
        for tick, label in zip(ticks, labels, strict=True):
            at = scale(tick)
            if grid:
                self.line(at, self.plot_top, at, self.plot_bottom, GRID, width=0.8)
            self.line(at, self.plot_bottom, at, self.plot_bottom + 4, INK, width=0.8)
            self.text(at, self.plot_bottom + 6 + FONT_PX * 0.9, label, anchor="middle")
        centre = (self.plot_left + self.plot_right) / 2
        self.text(centre, self.height - 8, title, anchor="middle")

    def y_axis(self, scale: Scale, ticks: Sequence[float], labels: Sequence[str], title: str = "", *,
               grid: bool = False) -> None:
        """Ticks and labels left of the plot, the title turned along the axis, optional horizontal grid lines."""
        for tick, label in zip(ticks, labels, strict=True):
            at = scale(tick)
            if grid:
                self.line(self.plot_left, at, self.plot_right, at, GRID, width=0.8)
            self.line(self.plot_left - 4, at, self.plot_left, at, INK, width=0.8)
            self.text(self.plot_left - 7, at, label, anchor="end", middle=True)
        if title:
            self.text(FONT_PX, (self.plot_top + self.plot_bottom) / 2, title, anchor="middle", rotate=True)

    def spines(self) -> None:
        """The left and bottom frame lines (the top and right ones are left out, as in the report before)."""
        self.line(self.plot_left, self.plot_top, self.plot_left, self.plot_bottom, INK, width=0.8)
        self.line(self.plot_left, self.plot_bottom, self.plot_right, self.plot_bottom, INK, width=0.8)

    def legend(self, entries: Sequence[LegendEntry], *, corner: str) -> None:
        """Line samples with their labels, without a frame, in a corner of the plot ("upper left", ...)."""
        x, y, _, _ = self.legend_box(corner, entries)
        y += LEGEND_ROW_PX / 2
        for entry in entries:
            self.line(x, y, x + 22, y, entry.colour, width=entry.width * 1.33, dash=entry.dash)
            self.text(x + 28, y, entry.label, anchor="start", size=LEGEND_FONT_PX, middle=True)
            y += LEGEND_ROW_PX

    def legend_box(self, corner: str, entries: Sequence[LegendEntry]) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in px of the legend in that corner, to keep it clear of what is drawn."""
        width = max(text_width(entry.label, LEGEND_FONT_PX) for entry in entries) + 30
        height = LEGEND_ROW_PX * len(entries)
        left = self.plot_left + 8 if corner.endswith("left") else self.plot_right - 8 - width
        top = self.plot_bottom - 8 - height if corner.startswith("lower") else self.plot_top + 6
        return left, top, left + width, top + height

    def svg(self) -> str:
        """The finished chart: one <svg> element with a viewBox, so it scales to its column."""
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(self.width)} {_num(self.height)}" '
                f'width="{_num(self.width)}" height="{_num(self.height)}" role="img" aria-label="{escape(self.label)}" '
                f"font-family='{FONT_FAMILY}' font-size=\"{_num(FONT_PX)}\" fill=\"{INK}\">")
        return "\n".join([head, *self.parts, "</svg>"])

