"""Find a file's header row, and say which row it is when the one taken is not (a title on top).

Rows above the header keep their numbers; a title or a merged group title over the sub-headers
is the usual reason the first non-empty row is not the header, so a missing required column
names the row further down that names more columns, and `--header-row`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from runner.errors import InputFileError
from runner.input.columns import header_score, missing_message
from runner.input.csvfile import Record
from runner.input.formula import unguard_cell


def is_empty(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


#: how many of the file's first records are kept to look for a misplaced header
HEAD_RECORDS = 30


def header_from(path: Path, records: Iterable[Record], header_row: int | None,
                 empty: str = "the file is empty") -> tuple[int, list[str]]:
    """The header: row `header_row`, or the first non-empty record; rows above it keep their numbers."""
    if header_row is not None and header_row < 1:
        raise InputFileError(path, f"header row {header_row} must be 1 or more (the spreadsheet's row number)")
    last = 0
    chosen = records if header_row is not None else (r for r in records if r[2] is not None or not is_empty(r[1]))
    for row, cells, problem in chosen:
        last = row
        if header_row is not None and row < header_row:
            continue
        if problem is not None:
            raise InputFileError(path, f"row {row}, the header row, is not valid CSV ({problem})")
        if is_empty(cells):
            raise InputFileError(path, f"header row {row} is empty; pass the header's row number with --header-row")
        headers = [unguard_cell(cell) for cell in cells]
        headers[0] = headers[0].lstrip("\ufeff")
        return row, headers
    if header_row is not None:
        raise InputFileError(path, f"header row {header_row} is past the end of the file ({last} rows)")
    raise InputFileError(path, empty)


def _better_header_row(header_row: int, headers: list[str], head: list[Record]) -> int | None:
    """The row below (or above) the one taken as header that names more columns: a title sat on top."""
    best_row, best_score = header_row, header_score(headers)
    for row, cells, problem in head:
        score = header_score(cells) if problem is None else 0
        if score > best_score:
            best_row, best_score = row, score
    return None if best_row == header_row else best_row


def missing_columns_message(header_row: int, headers: list[str], head: list[Record], missing: list[str]) -> str:
    """A missing required column, and the row that looks like the header when it is not the one taken."""
    better = _better_header_row(header_row, headers, head)
    if better is None:
        return missing_message(headers, missing, header_row)
    cells = next(cells for row, cells, _ in head if row == better)
    shown = ", ".join(cell for cell in cells if cell.strip())
    return (f"row {header_row} ({', '.join(headers)}) was taken as the header but has no "
            f"{', '.join(missing)} column; row {better} ({shown}) looks like the header: "
            f"pass --header-row {better} (job key header_row)")
