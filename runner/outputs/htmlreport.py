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

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.models import RowOutcome
from runner.outputs.atomic import atomic_writer
from runner.outputs.charts import latency_chart_svg, latency_note, outcome_chart_svg, rate_chart_svg, rate_note
from runner.outputs.report import Summary
from runner.outputs.reportcontext import ReportContext, local_time, mask_recipient
from runner.platform.codes import CODE_MEANINGS, advise_code
from runner.redact import mask_contacts, redact

if TYPE_CHECKING:
    from markupsafe import Markup

#: failed rows shown in the page; the rest are in the failed-rows file
MAX_FAILED_ROWS = 500
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
        "rate_note": rate_note(data.request_offsets_s),
        "latency_note": latency_note(data.latencies_ms),
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
