"""Render a spreadsheet number the way its cell's number format shows it.

A number cell formatted `000000000000000` shows `000000000012345` while the file stores 12345;
a person reads (and means) the padded form, so that is what sharebatch uses. Covered: General,
zero padding, fixed decimals, thousands separators, percent, scientific notation, literal text
around the number, and dates (rendered as ISO 8601 so the expiry parser reads them). A format this
module does not understand falls back to General, which is what a cell without a format shows.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

#: a spreadsheet keeps 15 significant digits of a number; more were typed but are gone
MAX_DIGITS = 15

_BRACKETS = re.compile(r"\[[^\]]*\]")  # [Red], [<=100], [$-409]: colour, condition, locale
_PLACEHOLDERS = re.compile(r"[0#?][0#?,]*(?:\.[0#?]*)?%?|\.[0#?]+%?")


class Rendered(NamedTuple):
    """A number cell as shown, and why it cannot be trusted as typed (None when it can)."""

    text: str
    problem: str | None = None
    date: bool = False
    #: the stored whole number's digits, None for a date, a fraction, a negative, a percent or scientific
    digits: str | None = None


class _Numeric(NamedTuple):
    """A parsed numeric format section: literal text around one run of digit placeholders."""

    prefix: str
    suffix: str
    min_integer: int  # zeros before the point: zero padding
    min_decimals: int
    max_decimals: int
    grouping: bool
    percent: bool
    scientific: bool


# Built-in formats Excel stores by id only, whose code depends on the locale: in Chinese, Japanese,
# Korean and Thai workbooks they are dates and times (27-36, 50-58: `yyyy"年"m"月"d"日"` and the like;
# 71-81: Thai). openpyxl's table has only the ids every locale shares, so these would read as numbers.
_LOCALE_DATE_IDS = frozenset([*range(27, 37), *range(50, 59), *range(71, 82)])


def number_format_code(num_fmt_id: int, custom: dict[int, str]) -> str:
    """The format code of a numFmtId: the workbook's own, else the built-in one, else General."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS  # imported on use: a CSV run never needs openpyxl

    if num_fmt_id not in custom and num_fmt_id in _LOCALE_DATE_IDS:
        return "yyyy-mm-dd h:mm:ss"  # the rendering is ISO 8601 whatever the locale's pattern
    return custom.get(num_fmt_id) or BUILTIN_FORMATS.get(num_fmt_id) or "General"


def render_number(raw: str, code: str, *, date1904: bool = False) -> Rendered:
    """The text a person sees for the stored number `raw` (the XML text) under format `code`."""
    try:
        value = float(raw)
    except ValueError:
        return Rendered(raw)
    if _is_date(code):
        return Rendered(_date_text(value, date1904), date=True)
    integral = _exact_integer(raw, value)
    if integral is not None and len(str(abs(integral))) > MAX_DIGITS:
        shown = str(integral)
        return Rendered(shown, f'"{shown}" is stored as a number, and the spreadsheet lost digits: a number cell keeps '
                               f"only {MAX_DIGITS}; store the column as text and type the values again")
    section = _parse_section(code)
    digits = str(integral) if integral is not None and integral >= 0 else None
    if section is None:
        return Rendered(_general(value, integral), digits=digits)
    if section.percent or section.scientific:
        digits = None  # 8600.00% stores 86, 8.6E+14 stores an unknown number of zeros: neither was typed
    return Rendered(_apply(section, value), digits=digits)


@lru_cache(maxsize=256)
def _is_date(code: str) -> bool:
    from openpyxl.styles.numbers import is_date_format

    return code not in ("General", "@") and is_date_format(code)


@lru_cache(maxsize=256)
def _parse_section(code: str) -> _Numeric | None:
    """The first section of a numeric format, or None for General, text and anything unusual."""
    first = _first_section(code)
    if first in ("", "General", "@"):
        return None
    chars, shape = _literals(_BRACKETS.sub("", first))
    if "@" in shape:
        return None
    scientific = re.search(r"[eE][+-]", shape)
    if scientific:
        mantissa = shape[: scientific.start()]
        places = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
        return _Numeric("", "", 1, places, places, False, False, True)
    found = list(_PLACEHOLDERS.finditer(shape))
    if len(found) != 1:
        return None
    start, end = found[0].span()
    run = shape[start:end]
    prefix, suffix = "".join(chars[:start]), "".join(chars[end:])
    percent = run.endswith("%") or "%" in shape[end:]
    integer, _, decimals = run.rstrip("%").partition(".")
    if integer.endswith(","):  # a trailing comma divides by 1000: rare in ids, not worth guessing
        return None
    return _Numeric(
        prefix=prefix,
        suffix=suffix + ("%" if run.endswith("%") else ""),
        min_integer=integer.count("0"),
        min_decimals=decimals.count("0"),
        max_decimals=len(decimals),
        grouping="," in integer,
        percent=percent,
        scientific=False,
    )


def _first_section(code: str) -> str:
    """The positive section of `pos;neg;zero;text`, honouring quoted `;`."""
    quoted = False
    for index, ch in enumerate(code):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return code[:index]
    return code


def _literals(section: str) -> tuple[list[str], str]:
    """The characters shown, and the same string with every literal replaced by NUL.

    Quoted text and backslash escapes are literal; `_x` (space as wide as x) and `*x` (fill) show
    nothing. The NUL shape keeps a quoted `0` from being read as a placeholder.
    """
    chars: list[str] = []
    shape: list[str] = []
    index = 0
    while index < len(section):
        ch = section[index]
        if ch == '"':
            end = section.find('"', index + 1)
            end = len(section) if end < 0 else end
            text = section[index + 1: end]
            chars.extend(text)
            shape.extend("\x00" * len(text))
            index = end + 1
        elif ch == "\\" and index + 1 < len(section):
            chars.append(section[index + 1])
            shape.append("\x00")
            index += 2
        elif ch in "_*" and index + 1 < len(section):
            index += 2
        else:
            chars.append(ch)
            shape.append(ch if ch in "0#?,.%eE+-@" else "\x00")
            index += 1
    return chars, "".join(shape)


def _apply(section: _Numeric, value: float) -> str:
    if section.scientific:
        return section.prefix + f"{value:.{section.max_decimals}E}"
    if section.percent:
        value *= 100
    negative = value < 0
    text = f"{abs(value):.{section.max_decimals}f}"
    integer, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(section.min_decimals, "0")
    if integer == "0" and section.min_integer == 0:
        integer = ""
    integer = integer.zfill(section.min_integer)
    if section.grouping:
        integer = f"{int(integer or '0'):,}" if integer else integer
    number = integer + ("." + decimals if decimals else "")
    return ("-" if negative else "") + section.prefix + number + section.suffix


def _exact_integer(raw: str, value: float) -> int | None:
    """The whole number the file stores, exactly (from its digits, not through a float)."""
    text = raw.strip()
    digits = text.lstrip("+-")
    if digits.isdigit():
        return int(text)
    if value.is_integer() and abs(value) < 1e300:
        return int(value)
    return None


def _general(value: float, integral: int | None) -> str:
    """What General shows (up to 15 significant digits, no float noise): 0.1+0.2 -> `0.3`."""
    if integral is not None:
        return str(integral)
    return f"{value:.15g}"


def _date_text(value: float, date1904: bool) -> str:
    """A date serial as ISO 8601: a date at midnight is a date (Excel stores dates that way)."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
    try:
        moment = from_excel(value, epoch)
    except (OverflowError, ValueError):
        return f"{value:.15g}"
    return moment_text(moment)


def moment_text(moment: object) -> str:
    """A typed date or time as the ISO text the expiry parser reads."""
    if isinstance(moment, datetime):
        return moment.date().isoformat() if moment.time() == time(0) else moment.isoformat(sep=" ")
    if isinstance(moment, date | time):
        return moment.isoformat()
    if isinstance(moment, timedelta):
        return str(moment)
    return str(moment)
