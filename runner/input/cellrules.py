"""What a key or recipient cell may hold beyond its value, and what is done about it: one rule each.

The loader sends what the person sees in the sheet, and nothing they would not recognise:

- a number format never decorates an id or a phone: a number cell that shows anything but digits
  (`860,000,000,086,001`, `¥860,000,000,086,002.00`) is sent as the stored whole number's digits,
  with a note; one whose typed digits cannot be told (`8600.00%`, a fraction) is invalid;
- a line break inside a pk, dk or recipient (two values in one cell) makes the row invalid: the
  values are never joined;
- a recipient wrapper (`mailto:`, `<...>`, a leading `'` on a phone) is removed, with a note;
- a CSV cell `="0860..."` (Excel's way to force text) reads as the text it shows;
- full-width characters (typed with an East Asian input method) become their plain forms (NFKC),
  the same in every column.
"""

from __future__ import annotations

import re
import unicodedata

from runner.input.recipients import looks_mangled_number

#: the columns that identify a share: never decorated, never two values
ID_COLUMNS = ("pk", "dk", "recipient")

_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_ANGLE = re.compile(r"^<([^<>\s]+@[^<>\s]+)>$")
_QUOTED_PHONE = re.compile(r"^'(\+?[\d\s\-().]{6,})$")


def plain(text: str) -> str:
    """NFKC for a cell that is not plain ASCII: `ＰＫ１２３` -> `PK123`, the same in every column."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def forced_text(cell: str) -> str:
    """A CSV cell written as `="0860..."` (Excel's way to keep a number as text) as the text it shows."""
    value = cell.strip()
    if len(value) >= 3 and value.startswith('="') and value.endswith('"') and '"' not in value[2:-1].replace('""', ""):
        return value[2:-1].replace('""', '"')
    return cell


def line_break_problem(column: str, text: str) -> str | None:
    """Why a pk, dk or recipient holding a line break cannot be sent (two values in one cell)."""
    value = text.strip()
    if "\n" not in value and "\r" not in value:
        return None
    lines = [line for line in value.splitlines() if line.strip()]
    shown = " | ".join(lines)
    return (f'{column} "{shown}" holds {len(lines)} lines (a line break inside the cell); put one value per '
            "row" if len(lines) > 1 else f'{column} "{shown}" has a line break inside the cell; retype the value')


def number_cell(column: str, text: str, digits: str | None) -> tuple[str, str | None, str | None]:
    """(value to use, note, problem) for an id read from a number cell that shows `text`.

    Digits alone, zero padding included, are what the person typed and see. Anything else is the
    number format's decoration; the stored digits are sent when the number is whole, else the row
    is invalid. Scientific notation is left to its own, older message.
    """
    shown = text.strip()
    if not shown or shown.isdigit() or looks_mangled_number(shown):
        return text, None, None
    if digits is None:
        return text, None, (f'{column} "{shown}" is a number shown through its number format (a percent, a '
                            "fraction or a negative number), so the value typed cannot be told; store the column "
                            "as text and type the value")
    return digits, (f'{column} sent as {digits}: the sheet shows "{shown}" through the cell\'s number format'), None


def unwrap_recipient(text: str) -> tuple[str, str | None]:
    """The recipient without a wrapper a mail client or a spreadsheet added, and the note saying so."""
    value = text.strip()
    if _MAILTO.match(value):
        inner = value[len("mailto:"):].split("?", 1)[0]
        return inner, f'recipient sent as {inner}: the "mailto:" in front was removed'
    angle = _ANGLE.match(value)
    if angle:
        return angle.group(1), f"recipient sent as {angle.group(1)}: the < > around it were removed"
    quoted = _QUOTED_PHONE.match(value)
    if quoted:
        phone = quoted.group(1)
        return phone, f"recipient sent as {phone}: the ' in front (a spreadsheet's text mark) was removed"
    return text, None
