"""report.html: a one-file hand-off report of a run, readable offline from a mail attachment.

Everything is inside the file: CSS in a <style> element, charts as inline SVG (runner.outputs.svgchart).
No script, stylesheet, font or image is fetched, so the report opens the same on a laptop without
network as in a browser that blocks remote content. The page is a Jinja2 template with
autoescaping on, because every failed row's cells come from somebody's spreadsheet.

Jinja2 is imported inside the function that renders the page: writing a report is the last step
of a run and must not slow down `sharebatch --help` or `validate`. The charts are drawn by our own
few lines of SVG, in pure Python: a plotting library cost more than a small batch's whole run.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.models import RowOutcome, RowStatus
from runner.outputs.atomic import atomic_writer
from runner.outputs.report import Summary
from runner.outputs.reportcontext import ReportContext, local_time, mask_recipient
from runner.outputs.svgchart import FONT_PX, INK, Chart, LegendEntry, log_ticks, nice_ticks, text_width, tick_label
from runner.platform.codes import CODE_MEANINGS, advise_code
from runner.redact import mask_contacts, redact

if TYPE_CHECKING:
    from markupsafe import Markup

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
# Chart widths in px of the columns the template gives each chart in a 1200 px page, so that
# 13 px chart text shows at about the body's size.
RATE_WIDTH_PX = 1200.0
OUTCOME_WIDTH_PX = 682.0
LATENCY_WIDTH_PX = 586.0
CHART_HEIGHT_PX = 269.0
_SUMMARY_LABELS = {
    "total": "Rows in the file",
    "success": "Shared (invited)",
    "failed": "Failed",
    "invalid": "Invalid (never sent)",
    "duplicate": "Duplicates (never sent)",
    "not_attempted": "Not sent yet",
    "held_back": "of them held back by --limit",
    "unknown": "Unknown (may have been applied)",
    "hidden": "Hidden in the sheet (not sent)",
    "permanent": "of them permanent (no expiry)",
    "valid": "Valid",
    "revoked": "Revoked",
    "already_ended": "Already ended",
    "extended": "Expiry changed",
    "requests": "HTTP requests sent",
    "retries": "Retries",
    "started_at": "Started",
    "finished_at": "Finished",
    "duration_s": "Duration",
    "rate_achieved": "Request rate",
    "stopped": "Stopped early",
}
#: figures of the whole batch (every run of it, from the journal), shown apart from this run's
BATCH_KEYS = ("total", "success", "permanent", "failed", "invalid", "duplicate", "not_attempted", "held_back",
              "unknown", "hidden", "valid", "revoked", "already_ended", "extended")
#: figures of this invocation only (a resumed run sends only what was left)
RUN_KEYS = ("started_at", "finished_at", "duration_s", "requests", "retries", "rate_achieved")
# summary.json fields of other commands (validate, revoke) and rare counts: shown only when they count something
_OTHER_COMMAND_FIELDS = frozenset({"valid", "revoked", "already_ended", "extended", "held_back", "hidden", "unknown",
                                  "permanent"})
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
    #: which file, platform, user, host and times (None: a bare report, e.g. in tests of the charts)
    context: ReportContext | None = None


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
    """A chart as markup: runner.outputs.svgchart's SVG of numbers and our labels, every text escaped (bandit B704)."""
    from markupsafe import Markup

    return None if svg is None else Markup(svg)  # nosec B704


def _page_context(data: HtmlReportInput) -> dict[str, Any]:
    summary = data.summary
    shown = list(itertools.islice(data.failed_rows, MAX_FAILED_ROWS))
    headers = _cell_headers(cells for cells, _ in shown)
    context = data.context
    mask = context is not None and context.mask_recipients
    masked_headers = context.recipient_headers if context is not None else frozenset()
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
        "batch_rows": summary_rows(summary, BATCH_KEYS),
        "run_rows": summary_rows(summary, RUN_KEYS),
        "stopped": _stopped_reason(summary),
        "facts": facts(context) if context is not None else [],
        "resumed": context is not None and context.resumed,
        "masked": mask,
        "headline": _headline(summary),
        "charts": {kind: _trusted_svg(svg) for kind, svg in charts.items()},
        "rate_note": _rate_note(data.request_offsets_s),
        "latency_note": _latency_note(data.latencies_ms),
        "code_rows": code_rows(summary.by_code),
        "warnings": [mask_contacts(warning) if mask else warning for warning in summary.warnings],
        "failed_headers": headers,
        "failed_rows": [_failed_row(cells, outcome, headers, masked_headers if mask else None)
                        for cells, outcome in shown],
        "failed_total": len(data.failed_rows),
        "failed_hidden": max(0, len(data.failed_rows) - len(shown)),
        "failed_file_name": data.failed_file_name,
    }


def summary_rows(summary: Summary, keys: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """(label in words, summary.json key, value) for the figures `keys` (default: all but by_code and warnings)."""
    figures = summary.to_dict()
    rows = []
    for key in keys if keys is not None else list(figures):
        value = figures.get(key)
        if key in ("by_code", "warnings") or (key in _OTHER_COMMAND_FIELDS and not value):
            continue
        rows.append((_SUMMARY_LABELS.get(key, key.replace("_", " ")), key, _format_value(key, value)))
    return rows


def _stopped_reason(summary: Summary) -> str | None:
    """Why the run stopped early, without the engine's "stopped: " prefix (the page says "stopped" itself)."""
    return summary.stopped.removeprefix("stopped: ") if summary.stopped else None


#: the banner quotes a stop reason up to this long; the box under "This run" has all of it
HEADLINE_REASON_CHARS = 200
_REGION_WORDS = {"eu": "Europe data center", "cn": "China data center"}


def facts(context: ReportContext) -> list[tuple[str, str, str]]:
    """(label, value, probe name) of the report's header: which file, platform, who, where, when."""
    first_local, first_utc = local_time(context.batch_started_at or context.run_started_at)
    last_local, last_utc = local_time(context.run_finished_at)
    rows = [
        ("Job", context.job, "job"),
        ("Input file", f"{context.input_name} (SHA-256 {context.sha_prefix}…, batch {context.batch_id[:12]})",
         "input"),
    ]
    if context.platform_host is not None:
        region = _REGION_WORDS.get(context.region or "", "a base URL of its own")
        rows.append(("Platform", f"{context.platform_host} ({region})", "platform"))
    rows += [
        ("Run by", f"{context.os_user} on {context.host}", "who"),
        ("First start", _with_utc(first_local, first_utc), "first-start"),
        ("Last finish", _with_utc(last_local, last_utc), "last-finish"),
    ]
    if context.resumed:
        this_local, this_utc = local_time(context.run_started_at)
        rows.append(("This run", f"resumed the batch at {_with_utc(this_local, this_utc)}; the counts are of the "
                     "whole batch, requests, duration and rate of this run only", "resumed"))
    return rows


def _with_utc(local: str, utc: str) -> str:
    return f"{local} ({utc})" if utc and not local.endswith(" UTC") else local


def _format_value(key: str, value: Any) -> str:
    if key == "duration_s":
        return _format_duration(float(value))
    if key == "rate_achieved":
        return f"{value:.2f} requests/s"
    if key == "stopped":
        return value or "no, the run went to the end"
    if key in ("started_at", "finished_at"):
        return _with_utc(*local_time(value))
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
        reason = _stopped_reason(summary) or ""
        if len(reason) > HEADLINE_REASON_CHARS:  # the whole reason is under "This run"
            reason = reason[:HEADLINE_REASON_CHARS].rsplit(" ", 1)[0] + " … (in full below)"
        return "bad", f"The run stopped early: {reason}"
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
        rows.append({"code": key if key != "transport" else "no answer", "meaning": meaning, "known": known,
                     "count": f"{count:,}", "share": f"{100 * count / total:.1f} %", "advice": advise_code(key)})
    return rows


def _cell_headers(cells_of_rows: Iterable[dict[str, str]]) -> list[str]:
    """Every header seen, in the order first seen (rows of one file share their headers)."""
    headers: dict[str, None] = {}
    for cells in cells_of_rows:
        headers.update(dict.fromkeys(cells))
    return list(headers)


def _failed_row(cells: dict[str, str], outcome: RowOutcome, headers: list[str],
                masked: frozenset[str] | None = None) -> dict[str, Any]:
    """One failed row of the page; with `masked` (mask_recipients) those columns' recipients and every
    email or phone number elsewhere in the row are masked."""
    values = [cells.get(header, "") for header in headers]
    message = outcome.message
    if masked is not None:
        recipients = [value for header, value in zip(headers, values, strict=True) if header in masked and value]
        values = [mask_recipient(value) if header in masked and value else mask_contacts(value)
                  for header, value in zip(headers, values, strict=True)]
        for recipient in recipients:  # a platform message may echo the uid
            message = message.replace(recipient, mask_recipient(recipient))
        message = mask_contacts(message)
    return {
        "row": outcome.row,
        "status": outcome.status.value.replace("_", " "),
        "status_class": outcome.status.value,
        "code": "" if outcome.code is None else str(outcome.code),
        "code_meaning": "" if outcome.code is None else CODE_MEANINGS.get(outcome.code, "unknown code"),
        "message": message,
        "cells": values,
    }


# ---- charts ---------------------------------------------------------------------------------------


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


def _rate_note(offsets_s: Sequence[float]) -> str:
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


def _latency_note(latencies_ms: Sequence[int]) -> str:
    marks = latency_percentiles(latencies_ms)
    if not marks:
        return "No row has a latency: nothing was sent in this run."
    return (f"{len(latencies_ms):,} rows; median {marks['p50']:,.0f} ms, p90 {marks['p90']:,.0f} ms, "
            f"p99 {marks['p99']:,.0f} ms, slowest {marks['max']:,.0f} ms.")
