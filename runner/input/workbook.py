"""What every spreadsheet reader hands the loader: rows as shown, and the sheet a person sees.

A workbook opens on its active sheet, and a hidden sheet (an old batch kept for reference) or a
chart is never what a person means by "the sheet". So without `--sheet` the active sheet is read
when it is a visible worksheet, else the first visible worksheet; a hidden or very hidden sheet is
read only when named, and the report says so; a chart sheet has no cells and is refused by name.
The .xlsx, .xls and .ods readers all describe their sheets as SheetInfo and choose with one rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.errors import NoSuchSheetError, XlsxError

if TYPE_CHECKING:
    from runner.input.numberformat import Rendered

VISIBLE, HIDDEN, VERY_HIDDEN = "visible", "hidden", "veryHidden"


@dataclass(slots=True)
class SheetRow:
    """One row as shown: its spreadsheet number, the text of each cell, and what the cells hide."""

    row: int
    cells: list[str]
    hidden: str | None = None  # "hidden" or "filtered out": the person does not see the row
    #: column index -> why the cell's text is not what was typed (an unsaved formula, lost digits)
    problems: dict[int, str] = field(default_factory=dict)
    #: number cells: column index -> the stored whole number's digits, or None (a fraction, a percent)
    numbers: dict[int, str | None] = field(default_factory=dict)
    #: date cells: column indexes (None until one is seen: most rows have none)
    dates: set[int] | None = None

    def date_cell(self, column: int) -> None:
        """Mark `column` as a date cell: fine for an expiry, never an id or a recipient."""
        if self.dates is None:
            self.dates = set()
        self.dates.add(column)

    def take_number(self, column: int, rendered: Rendered) -> str:
        """Keep what a number cell tells beyond its text (a problem, a date, its digits); answer the text shown."""
        if rendered.problem is not None:
            self.problems[column] = rendered.problem
        if rendered.date:
            self.date_cell(column)
        else:
            self.numbers[column] = rendered.digits
        return rendered.text


@dataclass(frozen=True, slots=True)
class SheetInfo:
    """A sheet as the workbook lists it: name, visibility, and whether it holds cells at all."""

    name: str
    state: str = VISIBLE  # VISIBLE, HIDDEN or VERY_HIDDEN
    chart: bool = False  # a chart sheet (or another sheet without cells: a dialog or macro sheet)


@dataclass(frozen=True, slots=True)
class Choice:
    """The sheet to read and, when it is not one the person sees, the sentence the report carries."""

    index: int
    name: str
    note: str | None = None


def choose_sheet(sheets: list[SheetInfo], active: int, wanted: str | None) -> Choice:
    """The sheet named by `wanted`, else the active one when it is a visible worksheet, else the first."""
    listed = ", ".join(_shown(sheet) for sheet in sheets)
    if wanted is not None:
        index = next((i for i, sheet in enumerate(sheets) if sheet.name == wanted), None)
        if index is None:
            raise NoSuchSheetError(wanted, [_shown(sheet) for sheet in sheets])
        sheet = sheets[index]
        if sheet.chart:
            raise XlsxError(f'sheet "{wanted}" is a chart, not rows of cells; name the sheet with the rows '
                            f"with --sheet (sheets: {listed})")
        if sheet.state != VISIBLE:
            how = "very hidden (only a macro can show it)" if sheet.state == VERY_HIDDEN else "hidden"
            return Choice(index, wanted, f'sheet "{wanted}" is {how} in the workbook; it was read because '
                                         "--sheet names it")
        return Choice(index, wanted)
    readable = [i for i, sheet in enumerate(sheets) if sheet.state == VISIBLE and not sheet.chart]
    if not readable:
        raise XlsxError(f"the workbook has no visible sheet of rows (sheets: {listed}); name the sheet to read "
                        "with --sheet")
    if active in readable or not 0 <= active < len(sheets):
        index = active if active in readable else readable[0]
        return Choice(index, sheets[index].name)
    index, opens_on = readable[0], sheets[active]
    if not opens_on.chart:  # a hidden active sheet: the person sees the first visible one too
        return Choice(index, sheets[index].name)
    # The person sees the chart on opening, not these rows: say which sheet the rows came from.
    return Choice(index, sheets[index].name, f'the workbook opens on the chart "{opens_on.name}"; the rows were read '
                                             f'from sheet "{sheets[index].name}", its first visible sheet of rows '
                                             "(name another with --sheet)")


def _shown(sheet: SheetInfo) -> str:
    if sheet.chart:
        return f"{sheet.name} (chart)"
    if sheet.state != VISIBLE:
        return f"{sheet.name} (hidden)"
    return sheet.name
