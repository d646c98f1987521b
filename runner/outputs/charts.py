"""The three charts of report.html (rows by outcome, request rate, latency) as inline SVG.

Drawn with runner.outputs.svgchart in pure Python: a plotting library cost more than a small
batch's whole run. Kept apart from the page itself (htmlreport.py), which only places them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from runner.models import RowStatus
from runner.outputs.report import Summary
from runner.outputs.svgchart import FONT_PX, INK, Chart, LegendEntry, log_ticks, nice_ticks, text_width, tick_label

#: most bins on the rate chart; longer runs are averaged over wider bins, of one of RATE_BIN_WIDTHS_S
MAX_RATE_BINS = 600
RATE_BIN_WIDTHS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
#: the statuses of a run, in the order the outcome chart shows them, with their colours
OUTCOME_COLOURS: dict[RowStatus, str] = {
    RowStatus.SUCCESS: "#2e7d32",
    RowStatus.FAILED: "#c62828",
    RowStatus.INVALID: "#ef6c00",
    RowStatus.DUPLICATE: "#757575",
    RowStatus.NOT_ATTEMPTED: "#5c6bc0",
    RowStatus.UNKNOWN: "#6a1b9a",
}
# Chart widths in px of the columns the template gives each chart in a 1200 px page, so that
# 13 px chart text shows at about the body's size.
RATE_WIDTH_PX = 1200.0
OUTCOME_WIDTH_PX = 682.0
LATENCY_WIDTH_PX = 586.0
CHART_HEIGHT_PX = 269.0


def outcome_chart_svg(summary: Summary) -> str | None:
    """Horizontal bars, one per status, each labelled with its count and share; None when no rows."""
    if summary.total == 0:
        return None
    statuses = list(OUTCOME_COLOURS)
    counts = [int(getattr(summary, status.value)) for status in statuses]
    names = [status.value.replace("_", " ") for status in statuses]
    chart = Chart(OUTCOME_WIDTH_PX, CHART_HEIGHT_PX, "rows by outcome",
                  left=12 + max(text_width(name) for name in names))
    x = chart.x_scale(0, max(counts) * 1.25 or 1)
    ticks = nice_ticks(0, x.high, most=7, integer=True)
    chart.x_axis(x, ticks, [f"{tick:,.0f}" for tick in ticks], "rows", grid=True)
    band = (chart.plot_bottom - chart.plot_top) / len(statuses)
    for index, (status, name, count) in enumerate(zip(statuses, names, counts, strict=True)):
        centre = chart.plot_top + band * (index + 0.5)
        chart.rect(x(0), centre - band * 0.325, x(count) - x(0), band * 0.65, OUTCOME_COLOURS[status])
        chart.line(chart.plot_left - 4, centre, chart.plot_left, centre, INK, width=0.8)
        chart.text(chart.plot_left - 7, centre, name, anchor="end", middle=True)
        chart.text(x(count) + 5, centre, f"{count:,} ({100 * count / summary.total:.0f} %)", middle=True)
    chart.spines()
    return chart.svg()


def rate_bins(offsets_s: Sequence[float]) -> tuple[list[float], list[float], int]:
    """(bin starts in seconds, requests per second, seconds per bin) of the request rate.

    Requests are counted per whole second; a run longer than MAX_RATE_BINS seconds is averaged over
    wider bins so that the chart stays light, still in requests per second.
    """
    per_second = _requests_per_second(offsets_s)
    needed = math.ceil(len(per_second) / MAX_RATE_BINS)
    width = next((w for w in RATE_BIN_WIDTHS_S if w >= needed), needed)
    starts = list(range(0, len(per_second), width))
    # the last bin may cover fewer seconds than the others: divide by those, not by the width
    rates = [sum(per_second[start:start + width]) / min(width, len(per_second) - start) for start in starts]
    return [float(x) for x in starts], [float(y) for y in rates], width


def _requests_per_second(offsets_s: Sequence[float]) -> list[int]:
    """Requests in each whole second from the first request (an offset below 0 counts in second 0)."""
    seconds = [max(0, math.floor(offset)) for offset in offsets_s]
    counts = [0] * (max(seconds) + 1 if seconds else 0)
    for second in seconds:
        counts[second] += 1
    return counts


def rate_chart_svg(offsets_s: Sequence[float], rate_achieved: float) -> str | None:
    """Requests per second over the run, with the run's average; None when nothing was sent."""
    if len(offsets_s) == 0:
        return None
    starts, rates, width = rate_bins(offsets_s)
    span_s = starts[-1] + width
    scale, unit = (60.0, "minutes") if span_s > 1200 else (1.0, "seconds")
    edges = [value / scale for value in [*starts, span_s]]
    top = max(max(rates), rate_achieved) * 1.15 or 1
    y_ticks = nice_ticks(0, top, most=5)
    y_labels = [tick_label(tick, y_ticks) for tick in y_ticks]
    chart = Chart(RATE_WIDTH_PX, CHART_HEIGHT_PX, "requests per second over the run",
                  left=FONT_PX * 2 + 12 + max(text_width(label) for label in y_labels))
    x, y = chart.x_scale(0, edges[-1]), chart.y_scale(0, top)
    x_ticks = nice_ticks(0, edges[-1], most=10)
    per = f"{width // 60} min" if width >= 60 else f"{width} s"
    chart.y_axis(y, y_ticks, y_labels, "requests/s" if width == 1 else f"requests/s (mean per {per})", grid=True)
    chart.x_axis(x, x_ticks, [tick_label(tick, x_ticks) for tick in x_ticks], f"{unit} since the first request")
    steps = [(x(edges[0]), y(0))]
    for index, rate in enumerate(rates):
        steps += [(x(edges[index]), y(rate)), (x(edges[index + 1]), y(rate))]
    steps.append((x(edges[-1]), y(0)))
    chart.path(steps, fill="#90caf9", closed=True)
    chart.path(steps, stroke="#1565c0", width=1.33)
    if rate_achieved > 0:
        chart.line(chart.plot_left, y(rate_achieved), chart.plot_right, y(rate_achieved), "#37474f", width=1.33,
                   dash="--")
        chart.legend([LegendEntry(f"average {rate_achieved:.2f} requests/s", "#37474f", "--", 1.0)],
                     corner="lower right")
    chart.spines()
    return chart.svg()


def rate_note(offsets_s: Sequence[float]) -> str:
    if len(offsets_s) == 0:
        return "No request was sent in this run (a resumed run with nothing left to send sends none)."
    per_second = _requests_per_second(offsets_s)
    return (f"{len(offsets_s):,} requests over {len(per_second):,} s; the busiest second had "
            f"{max(per_second):,} requests.")


def percentile(ordered: Sequence[float], share: float) -> float:
    """The value below which `share` (0..100) of the sorted values lie, interpolated between neighbours."""
    at = (len(ordered) - 1) * share / 100
    below = math.floor(at)
    above = min(below + 1, len(ordered) - 1)
    return float(ordered[below] + (ordered[above] - ordered[below]) * (at - below))


def latency_percentiles(latencies_ms: Sequence[int]) -> dict[str, float]:
    """p50, p90, p99 and max of the latencies (empty when there are none)."""
    if len(latencies_ms) == 0:
        return {}
    ordered = sorted(float(value) for value in latencies_ms)
    return {"p50": percentile(ordered, 50), "p90": percentile(ordered, 90), "p99": percentile(ordered, 99),
            "max": ordered[-1]}


def histogram_edges(ordered: Sequence[float], *, logarithmic: bool) -> list[float]:
    """Bin edges of the latency histogram: 40 logarithmic bins, or linear ones of a width chosen from the data.

    The linear width is the smaller of Sturges' and Freedman-Diaconis' (numpy's "auto"), at most 50 bins.
    """
    low, high = ordered[0], ordered[-1]
    if logarithmic:
        ratio = high / low
        return [low, *(low * ratio ** (i / 40) for i in range(1, 40)), high]
    count = len(ordered)
    sturges = (high - low) / (math.log2(count) + 1)
    freedman = 2 * (percentile(ordered, 75) - percentile(ordered, 25)) * count ** (-1 / 3)
    width = min(freedman, sturges) if freedman else sturges
    bins = min(50, max(1, math.ceil((high - low) / width))) if width else 1
    if high == low:
        low, high = low - 0.5, high + 0.5
    return [low + (high - low) * i / bins for i in range(bins)] + [high]


def histogram_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Values per bin; each bin holds its lower edge, the last one its upper edge too."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        counts[min(max(bisect.bisect_right(edges, value) - 1, 0), len(counts) - 1)] += 1
    return counts


def latency_chart_svg(latencies_ms: Sequence[int]) -> str | None:
    """Histogram of the rows' last-attempt latencies with p50/p90/p99 marked; None when there are none.

    Latencies have a long tail (a timeout is 100 times a normal answer), so a wide spread gets
    logarithmic bins: linear ones would put nearly every row in the first bar.
    """
    if len(latencies_ms) == 0:
        return None
    marks = latency_percentiles(latencies_ms)
    logarithmic = marks["max"] > 20 * max(marks["p50"], 1.0)
    ordered = sorted(max(float(value), 1.0) if logarithmic else float(value) for value in latencies_ms)
    edges = histogram_edges(ordered, logarithmic=logarithmic)
    counts = histogram_counts(ordered, edges)
    marked = [(name, colour, style, max(marks[name], 1.0) if logarithmic else marks[name])
              for name, colour, style in (("p50", "#2e7d32", "-"), ("p90", "#ef6c00", "--"), ("p99", "#c62828", ":"))]
    entries = [LegendEntry(f"{name} {marks[name]:,.0f} ms", colour, style) for name, colour, style, _ in marked]
    corner, top = _latency_legend_place(counts, edges, [at for *_, at in marked], entries, logarithmic)
    chart = _latency_chart(top)
    x, y = chart.x_scale(edges[0], edges[-1], log=logarithmic), chart.y_scale(0, top)
    y_ticks = _latency_y_ticks(top)
    chart.y_axis(y, y_ticks, [f"{tick:,.0f}" for tick in y_ticks], "rows", grid=True)
    # "1,000" rather than "10^3" on a log scale: the readers are ops people, not physicists
    x_ticks = log_ticks(edges[0], edges[-1]) if logarithmic else nice_ticks(edges[0], edges[-1], most=6)
    x_ticks = [tick for tick in x_ticks if edges[0] <= tick <= edges[-1]]
    chart.x_axis(x, x_ticks, [tick_label(tick, x_ticks) for tick in x_ticks],
                 "latency of the last attempt, ms" + (" (log scale)" if logarithmic else ""))
    for index, count in enumerate(counts):
        if count:
            left, right = x(edges[index]), x(edges[index + 1])
            chart.rect(left, y(count), right - left, y(0) - y(count), "#7e57c2", stroke="white", stroke_width=0.5)
    for _, colour, style, at in marked:
        chart.line(x(at), chart.plot_top, x(at), chart.plot_bottom, colour, width=1.6, dash=style)
    chart.legend(entries, corner=corner)
    chart.spines()
    return chart.svg()


def _latency_y_ticks(top: float) -> list[float]:
    return nice_ticks(0, top, most=5, integer=True)


def _latency_chart(top: float) -> Chart:
    """The latency chart's frame for a y axis up to `top`: the left margin fits its tick labels."""
    labels = [f"{tick:,.0f}" for tick in _latency_y_ticks(top)]
    return Chart(LATENCY_WIDTH_PX, CHART_HEIGHT_PX, "rows by latency of their last attempt",
                 left=FONT_PX * 2 + 12 + max(text_width(label) for label in labels))


def _latency_legend_place(counts: Sequence[int], edges: Sequence[float], marks: Sequence[float],
                          entries: Sequence[LegendEntry], logarithmic: bool) -> tuple[str, float]:
    """(corner, y axis top) that keep the legend off the bars and off the percentile lines.

    The legend goes in the upper corner that no percentile line crosses (a line through its text
    is unreadable), and the y axis grows until the bars under it end below it. With lines under
    both corners, the one that needs the lower axis wins.
    """
    top = max(counts) * 1.05
    chart = _latency_chart(top)
    x = chart.x_scale(edges[0], edges[-1], log=logarithmic)
    plot_height = chart.plot_bottom - chart.plot_top
    choices = []
    for corner in ("upper right", "upper left"):
        left, _, right, bottom = chart.legend_box(corner, entries)
        crossed = any(left - 6 <= x(mark) <= right + 6 for mark in marks)
        under = max((count for index, count in enumerate(counts)
                     if x(edges[index + 1]) > left and x(edges[index]) < right), default=0)
        room = chart.plot_bottom - bottom - 4  # px between the axis and the legend's lowest line
        choices.append((crossed, max(top, under * plot_height / room), corner))
    crossed, needed, corner = min(choices)
    return corner, needed


def latency_note(latencies_ms: Sequence[int]) -> str:
    marks = latency_percentiles(latencies_ms)
    if not marks:
        return "No row has a latency: nothing was sent in this run."
    return (f"{len(latencies_ms):,} rows; median {marks['p50']:,.0f} ms, p90 {marks['p90']:,.0f} ms, "
            f"p99 {marks['p99']:,.0f} ms, slowest {marks['max']:,.0f} ms.")
