"""report.html: a one-file hand-off report of a run, readable offline from a mail attachment.

Everything is inside the file: CSS in a <style> element, charts as inline SVG drawn by matplotlib.
No script, stylesheet, font or image is fetched, so the report opens the same on a laptop without
network as in a browser that blocks remote content. The page is a Jinja2 template with
autoescaping on, because every failed row's cells come from somebody's spreadsheet.

Jinja2, matplotlib and numpy are imported inside the functions that need them: writing a report
is the last step of a run and must not slow down `sharebatch --help`.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.errors import CODE_MEANINGS
from runner.models import RowOutcome, RowStatus
from runner.outputs.atomic import atomic_writer
from runner.outputs.report import Summary
from runner.redact import redact

if TYPE_CHECKING:
    import numpy as np
    from markupsafe import Markup
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from numpy.typing import NDArray

#: failed rows shown in the page; the rest are in the failed-rows file
MAX_FAILED_ROWS = 500
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
# Figure widths in inches (96 CSS px each) of the columns the template gives each chart in a
# 1200 px page, so that 10 pt chart text shows at about the body's size.
RATE_WIDTH_IN = 12.5
OUTCOME_WIDTH_IN = 7.1
LATENCY_WIDTH_IN = 6.1
_SUMMARY_LABELS = {
    "total": "rows in the file",
    "success": "shared (invited)",
    "failed": "failed",
    "invalid": "invalid (not sent)",
    "duplicate": "duplicate (not sent)",
    "not_attempted": "not attempted",
    "unknown": "unknown (may have been applied)",
    "hidden": "hidden in the sheet (not sent)",
    "permanent": "of them permanent (no expiry)",
    "valid": "valid",
    "revoked": "revoked",
    "already_ended": "already ended",
    "extended": "expiry changed",
    "requests": "HTTP requests",
    "retries": "retries",
    "started_at": "started",
    "finished_at": "finished",
    "duration_s": "duration",
    "rate_achieved": "rate achieved",
    "stopped": "stopped early",
}
# summary.json fields of other commands (validate, revoke): shown only when they count something
_OTHER_COMMAND_FIELDS = frozenset({"valid", "revoked", "already_ended", "extended", "hidden"})
_TRANSPORT_MEANING = "no answer from the platform: timeout or connection error, after retries"


@dataclass(frozen=True)
class HtmlReportInput:
    """Everything the report shows; the caller collects it from the run (nothing else reaches the page)."""

    title: str  #: e.g. the job name
    summary: Summary
    #: send time of every request of this run, in seconds from the first; empty when nothing was sent
    request_offsets_s: Sequence[float]
    #: latency of each row's last attempt, for the rows that have one
    latencies_ms: Sequence[int]
    #: failed and invalid rows, in input order: original cells by header, and the outcome
    failed_rows: Sequence[tuple[dict[str, str], RowOutcome]]
    #: where the rows beyond MAX_FAILED_ROWS are (failed.xlsx for an XLSX input)
    failed_file_name: str = "failed.csv"


def write_html_report(path: Path, data: HtmlReportInput) -> None:
    """Write report.html atomically, so a mail script never picks up half a page."""
    page = redact(render_html_report(data))  # a platform message may echo a credential
    with atomic_writer(path) as handle:
        handle.write(page)


def render_html_report(data: HtmlReportInput) -> str:
    """The page as text (what write_html_report writes)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape=True, not select_autoescape(): the template's name ends in .j2, not .html
    env = Environment(
        loader=PackageLoader("runner.outputs", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("report.html.j2")
    return template.render(**_page_context(data))


def _trusted_svg(svg: str | None) -> Markup | None:
    """A chart as markup: matplotlib's own SVG of numbers and our labels only, no input text (bandit B704)."""
    from markupsafe import Markup

    return None if svg is None else Markup(svg)  # nosec B704


def _page_context(data: HtmlReportInput) -> dict[str, Any]:
    summary = data.summary
    shown = list(itertools.islice(data.failed_rows, MAX_FAILED_ROWS))
    headers = _cell_headers(cells for cells, _ in shown)
    charts = {
        "outcomes": outcome_chart_svg(summary),
        "rate": rate_chart_svg(data.request_offsets_s, summary.rate_achieved),
        "latency": latency_chart_svg(data.latencies_ms),
    }
    return {
        "title": data.title,
        "version": __version__,
        "summary": summary,
        "summary_rows": summary_rows(summary),
        "headline": _headline(summary),
        "charts": {kind: _trusted_svg(svg) for kind, svg in charts.items()},
        "rate_note": _rate_note(data.request_offsets_s),
        "latency_note": _latency_note(data.latencies_ms),
        "code_rows": code_rows(summary.by_code),
        "warnings": list(summary.warnings),
        "failed_headers": headers,
        "failed_rows": [_failed_row(cells, outcome, headers) for cells, outcome in shown],
        "failed_total": len(data.failed_rows),
        "failed_hidden": max(0, len(data.failed_rows) - len(shown)),
        "failed_file_name": data.failed_file_name,
    }


def summary_rows(summary: Summary) -> list[tuple[str, str, str]]:
    """(label, summary.json key, value) for each figure of summary.json except by_code and warnings."""
    rows = []
    for key, value in summary.to_dict().items():
        if key in ("by_code", "warnings") or (key in _OTHER_COMMAND_FIELDS and not value):
            continue
        rows.append((_SUMMARY_LABELS.get(key, key.replace("_", " ")), key, _format_value(key, value)))
    return rows


def _format_value(key: str, value: Any) -> str:
    if key == "duration_s":
        return _format_duration(float(value))
    if key == "rate_achieved":
        return f"{value:.2f} requests/s"
    if key == "stopped":
        return value or "no, the run went to the end"
    if key in ("started_at", "finished_at"):
        return value or "–"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"
    return f"{text} ({seconds:,.1f} s)"


def _headline(summary: Summary) -> tuple[str, str]:
    """(css class, sentence) for the banner at the top."""
    if summary.stopped:
        return "bad", f"The run stopped early: {summary.stopped}"
    problems = summary.failed + summary.invalid + summary.not_attempted + summary.unknown
    if summary.total == 0:
        return "neutral", "The file had no rows to share."
    if problems == 0:
        return "good", f"All {summary.success:,} unique rows were shared."
    unknown = f", {summary.unknown:,} unknown" if summary.unknown else ""
    return "bad", (f"{summary.success:,} of {summary.total:,} rows shared; {summary.failed:,} failed, "
                   f"{summary.invalid:,} invalid, {summary.not_attempted:,} not attempted{unknown}.")


def describe_code_key(key: str) -> tuple[str, bool]:
    """The meaning of a by_code key and whether sharebatch knows it ("transport" has no platform code)."""
    if key == "transport":
        return _TRANSPORT_MEANING, True
    if key.lstrip("-").isdigit() and int(key) in CODE_MEANINGS:
        return CODE_MEANINGS[int(key)], True
    return "unknown code: not in sharebatch's list, see the platform's error code table", False


def code_rows(by_code: dict[str, int]) -> list[dict[str, Any]]:
    """The error code table: most frequent first, then by code."""
    total = sum(by_code.values()) or 1
    rows = []
    for key, count in sorted(by_code.items(), key=lambda item: (-item[1], item[0])):
        meaning, known = describe_code_key(key)
        rows.append({"code": key, "meaning": meaning, "known": known, "count": f"{count:,}",
                     "share": f"{100 * count / total:.1f} %"})
    return rows


def _cell_headers(cells_of_rows: Iterable[dict[str, str]]) -> list[str]:
    """Every header seen, in the order first seen (rows of one file share their headers)."""
    headers: dict[str, None] = {}
    for cells in cells_of_rows:
        headers.update(dict.fromkeys(cells))
    return list(headers)


def _failed_row(cells: dict[str, str], outcome: RowOutcome, headers: list[str]) -> dict[str, Any]:
    return {
        "row": outcome.row,
        "status": outcome.status.value,
        "code": "" if outcome.code is None else str(outcome.code),
        "code_meaning": "" if outcome.code is None else CODE_MEANINGS.get(outcome.code, "unknown code"),
        "message": outcome.message,
        "cells": [cells.get(header, "") for header in headers],
    }


# ---- charts ---------------------------------------------------------------------------------------

_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _draw_svg(kind: str, size_in: tuple[float, float], draw: Callable[[Axes], None]) -> str:
    """One chart as inline-ready SVG: no XML prologue, no metadata, no timestamp.

    `kind` salts the SVG ids, so that the page's several charts never share a clip-path id.
    """
    import matplotlib
    from matplotlib.figure import Figure

    # Text reads rcParams when it is created, so these hold while the chart is drawn, not only
    # while it is saved. svg.fonttype none keeps text as text (small, selectable) in the reader's
    # sans-serif font; a fixed svg.hashsalt makes the ids, and so the file, reproducible.
    with matplotlib.rc_context(
        {"font.size": 10, "legend.fontsize": 9, "svg.fonttype": "none", "svg.hashsalt": f"sharebatch-{kind}"}
    ):
        figure = Figure(figsize=size_in, layout="constrained")
        figure.patch.set_alpha(0)
        axes = figure.add_subplot()
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_axisbelow(True)
        draw(axes)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg"):].strip()


def _count_axis(axis: Axis) -> None:
    """Whole numbers with thousands separators: row counts are never 2.5 and 30000 reads badly."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def outcome_chart_svg(summary: Summary) -> str | None:
    """Horizontal bars, one per status, each labelled with its count and share; None when no rows."""
    if summary.total == 0:
        return None
    statuses = list(OUTCOME_COLOURS)
    counts = [getattr(summary, status.value) for status in statuses]
    positions = list(range(len(statuses)))

    def draw(axes: Axes) -> None:
        axes.barh(positions, counts, color=[OUTCOME_COLOURS[s] for s in statuses], height=0.65)
        axes.set_yticks(positions, [s.value.replace("_", " ") for s in statuses])
        axes.invert_yaxis()
        axes.grid(axis="x", color="#e0e0e0", linewidth=0.8)
        axes.set_xlim(0, max(counts) * 1.25 or 1)
        axes.set_xlabel("rows")
        _count_axis(axes.xaxis)
        for position, count in zip(positions, counts, strict=True):
            axes.annotate(f"{count:,} ({100 * count / summary.total:.0f} %)", (count, position), xytext=(4, 0),
                          textcoords="offset points", va="center")

    return _draw_svg("outcomes", (OUTCOME_WIDTH_IN, 2.8), draw)


def rate_bins(offsets_s: Sequence[float]) -> tuple[list[float], list[float], int]:
    """(bin starts in seconds, requests per second, seconds per bin) of the request rate.

    Requests are counted per whole second; a run longer than MAX_RATE_BINS seconds is averaged over
    wider bins so that the chart stays light, still in requests per second.
    """
    per_second = _requests_per_second(offsets_s)
    needed = math.ceil(len(per_second) / MAX_RATE_BINS)
    width = next((w for w in RATE_BIN_WIDTHS_S if w >= needed), needed)
    import numpy as np

    padded = np.pad(per_second, (0, -len(per_second) % width))
    starts = np.arange(0, len(padded), width)
    # the last bin may cover fewer seconds than the others: divide by those, not by the width
    rates = padded.reshape(-1, width).sum(axis=1) / np.minimum(width, len(per_second) - starts)
    return [float(x) for x in starts], [float(y) for y in rates], width


def _requests_per_second(offsets_s: Sequence[float]) -> NDArray[np.int64]:
    import numpy as np

    seconds = np.floor(np.clip(np.asarray(offsets_s, dtype=float), 0, None)).astype(np.int64)
    return np.bincount(seconds)


def rate_chart_svg(offsets_s: Sequence[float], rate_achieved: float) -> str | None:
    """Requests per second over the run, with the run's average; None when nothing was sent."""
    if len(offsets_s) == 0:
        return None
    starts, rates, width = rate_bins(offsets_s)
    span_s = starts[-1] + width
    scale, unit = (60.0, "minutes") if span_s > 1200 else (1.0, "seconds")
    edges = [x / scale for x in [*starts, span_s]]

    def draw(axes: Axes) -> None:
        axes.stairs(rates, edges, fill=True, color="#90caf9")
        axes.stairs(rates, edges, color="#1565c0", linewidth=1.0)
        if rate_achieved > 0:
            axes.axhline(rate_achieved, color="#37474f", linestyle="--", linewidth=1,
                         label=f"average {rate_achieved:.2f} requests/s")
            axes.legend(loc="lower right", frameon=False)
        axes.grid(axis="y", color="#e0e0e0", linewidth=0.8)
        axes.set_xlim(0, edges[-1])
        axes.set_ylim(0, max(max(rates), rate_achieved) * 1.15 or 1)
        axes.set_xlabel(f"{unit} since the first request")
        per = f"{width // 60} min" if width >= 60 else f"{width} s"
        axes.set_ylabel("requests/s" if width == 1 else f"requests/s (mean per {per})")

    return _draw_svg("rate", (RATE_WIDTH_IN, 2.8), draw)


def _rate_note(offsets_s: Sequence[float]) -> str:
    if len(offsets_s) == 0:
        return "No request was sent in this run (a resumed run with nothing left to send sends none)."
    per_second = _requests_per_second(offsets_s)
    return (f"{len(offsets_s):,} requests over {len(per_second):,} s; the busiest second had "
            f"{int(per_second.max()):,} requests.")


def latency_percentiles(latencies_ms: Sequence[int]) -> dict[str, float]:
    """p50, p90, p99 and max of the latencies (empty when there are none)."""
    if len(latencies_ms) == 0:
        return {}
    import numpy as np

    values = np.asarray(latencies_ms, dtype=float)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(values.max())}


def latency_chart_svg(latencies_ms: Sequence[int]) -> str | None:
    """Histogram of the rows' last-attempt latencies with p50/p90/p99 marked; None when there are none.

    Latencies have a long tail (a timeout is 100 times a normal answer), so a wide spread gets
    logarithmic bins: linear ones would put nearly every row in the first bar.
    """
    if len(latencies_ms) == 0:
        return None
    import numpy as np

    values = np.asarray(latencies_ms, dtype=float)
    marks = latency_percentiles(latencies_ms)
    logarithmic = marks["max"] > 20 * max(marks["p50"], 1.0)
    if logarithmic:
        values = np.clip(values, 1, None)
        edges = np.geomspace(values.min(), values.max(), 41)
    else:
        edges = np.histogram_bin_edges(values, bins="auto")
        if len(edges) > 51:
            edges = np.histogram_bin_edges(values, bins=50)
    bins = [float(edge) for edge in edges]
    lines = (("p50", "#2e7d32", "-"), ("p90", "#ef6c00", "--"), ("p99", "#c62828", ":"))

    def draw(axes: Axes) -> None:
        axes.hist(values, bins=bins, color="#7e57c2", edgecolor="white", linewidth=0.4)
        if logarithmic:
            from matplotlib.ticker import FuncFormatter

            axes.set_xscale("log")
            # "1,000" rather than "10^3": the readers are ops people, not physicists
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        for name, colour, style in lines:
            at = max(marks[name], 1.0) if logarithmic else marks[name]
            axes.axvline(at, color=colour, linestyle=style, linewidth=1.2, label=f"{name} {marks[name]:,.0f} ms")
        axes.legend(frameon=False)
        axes.grid(axis="y", color="#e0e0e0", linewidth=0.8)
        axes.set_xlabel("latency of the last attempt, ms" + (" (log scale)" if logarithmic else ""))
        axes.set_ylabel("rows")
        _count_axis(axes.yaxis)

    return _draw_svg("latency", (LATENCY_WIDTH_IN, 2.8), draw)


def _latency_note(latencies_ms: Sequence[int]) -> str:
    marks = latency_percentiles(latencies_ms)
    if not marks:
        return "No row has a latency: nothing was sent in this run."
    return (f"{len(latencies_ms):,} rows; median {marks['p50']:,.0f} ms, p90 {marks['p90']:,.0f} ms, "
            f"p99 {marks['p99']:,.0f} ms, slowest {marks['max']:,.0f} ms.")
