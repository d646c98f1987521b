"""A share batch's rows between the input and the journal: how the input is read, each row's journal
entry, the outcome of a row that is never sent, and what names the batch.

Used by `run`, `validate`, `plan` and `inbox`, so none of them imports another's module for them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path

from runner.batches.jobspec import JobSpec
from runner.engine.records import JournalEntry
from runner.input.rows import InputOptions, InputSource
from runner.models import LoadedRow, RowOutcome, RowStatus, ShareRequest, expiry_text, request_settings


def input_options(spec: JobSpec, anchor_ms: int, path: Path | None = None) -> InputOptions:
    """How to read the job's input; `path` reads another copy of it (the run's snapshot)."""
    return InputOptions(
        path=path or spec.input,
        sheet=spec.sheet,
        encoding=spec.encoding,
        columns=spec.columns,
        ignore_columns=spec.ignore_columns,
        header_row=spec.header_row,
        include_hidden=spec.include_hidden,
        timezone=spec.timezone,
        default_expiry=spec.expiry,
        default_cover_mark=spec.cover_mark,
        anchor_ms=anchor_ms,
        accounts=frozenset(spec.accounts),
    )


def iter_rows(source: InputSource) -> Iterator[LoadedRow]:
    for chunk in source.chunks():
        yield from chunk


def validation_outcome(row: LoadedRow) -> RowOutcome:
    """The report line of a row that is not sent (invalid or duplicate) or, for validate, a valid one."""
    if row.hidden is not None:
        return RowOutcome(row=row.row, status=RowStatus.HIDDEN,
                          message=f"row is {row.hidden} in the sheet, not sent (--include-hidden sends it)")
    if row.problem is not None:
        where = f'column "{row.problem.column}": ' if row.problem.column else ""
        return RowOutcome(row=row.row, status=RowStatus.INVALID, message=where + row.problem.message)
    if row.duplicate_of is not None:
        return RowOutcome(row=row.row, status=RowStatus.DUPLICATE, message=f"duplicate of row {row.duplicate_of}")
    return RowOutcome(row=row.row, status=RowStatus.VALID, message=row.note)


def journal_entry(row: LoadedRow) -> JournalEntry:
    if row.request is None:
        return JournalEntry(row.row, None, None, validation_outcome(row))
    return JournalEntry(row.row, row.request.fingerprint(), row.request.to_json(),
                        in_doubt_since_ms=row.in_doubt_since_ms, note=row.note)


def described(row: LoadedRow, outcome: RowOutcome) -> RowOutcome:
    """The outcome with what the row asked for (expiry sent, recipient kind) and the loader's note."""
    return described_request(row.request, row.note, outcome)


def described_request(request: ShareRequest | None, note: str, outcome: RowOutcome) -> RowOutcome:
    """`described` from a journaled request and the loader's note on the row."""
    if request is not None:
        outcome.expiry_sent = expiry_text(request.expire_at_ms)
        outcome.recipient_kind = request.recipient_kind.value
    if note and note not in outcome.message:  # e.g. a phone read from a number cell
        outcome.message = f"{outcome.message}; {note}" if outcome.message else note
    return outcome


def share_subject(payload: str) -> Hashable:
    """Device and recipient of a share request: the same row for doubt's sake, whatever its expiry."""
    request = ShareRequest.from_json(payload)
    return (request.pk, request.dk, request.recipient_kind.value, request.recipient)


def share_batch_settings(spec: JobSpec, request_type: type[ShareRequest] = ShareRequest) -> dict[str, object]:
    """The job settings that change which requests the input becomes; with its bytes they name the batch.

    A setting that only changes how the batch is sent (rate, attempts, base URL...) is not here:
    changing it resumes the same batch.
    """
    settings: dict[str, object] = {
        "sheet": spec.sheet, "encoding": spec.encoding, "columns": dict(sorted(spec.columns.items())),
        "timezone": spec.timezone}
    # the settings that give request fields their defaults (expiry, cover_mark), declared on the fields
    settings.update({name: getattr(spec, name) for name in request_settings(request_type)})
    # Named only when set, so that a batch started before these options existed keeps its name.
    reading = {"ignore_columns": sorted(spec.ignore_columns), "header_row": spec.header_row,
               "include_hidden": spec.include_hidden}
    settings.update({key: value for key, value in reading.items() if value})
    return settings


def journaled_pairs(
    rows: Iterable[tuple[int, list[str]]], journaled: Iterable[tuple[RowOutcome, str | None, str]], width: int,
) -> Iterator[tuple[list[str], ShareRequest | None, str, RowOutcome]]:
    """The report's lines from the journal: each row's outcome, request and note as journaled, beside its cells.

    The request (expiry sent, recipient kind, replacement notes) is the one that was sent, decoded from
    the journal, never a second validation's; the note is the one the run's read of the row left. The
    input's cells come from a read of the run's snapshot (`InputSource.shown_rows`), matched by row
    number; a row that read does not give keeps its line with empty cells instead of stopping the
    report after every request was sent.
    """
    loaded = iter(rows)
    ahead = next(loaded, None)
    for outcome, payload, note in journaled:
        while ahead is not None and ahead[0] < outcome.row:
            ahead = next(loaded, None)
        cells = ahead[1] if ahead is not None and ahead[0] == outcome.row else [""] * width
        request = ShareRequest.from_json(payload) if payload is not None else None
        yield cells, request, note, outcome
