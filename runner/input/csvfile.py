"""Low-level CSV reading: encodings, binary files, delimiters and records with honest row numbers.

The stdlib `csv` reader is used rather than pandas because it hands back each record exactly as
written: a row with too many or too few cells stays that way (pandas pads short rows and fails
on long ones), a NUL byte survives as a character, and it streams with flat memory.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path

from runner.errors import InputFileError, UsageError

#: (spreadsheet row number, cells as read, why the record could not be parsed or None)
Record = tuple[int, list[str], str | None]

HEAD_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t")
_QUOTED = re.compile(r'"[^"]*"')
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx file saved with a .csv name?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls or other Office file (save it as .xlsx or CSV)"),
    (b"\x1f\x8b", "a gzip archive"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes that plain text never holds; \t \n \v \f \r and ESC are left out.
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 27), *range(28, 32)])
_BINARY_SHARE = 0.1


def resolve_codec(path: Path, encoding: str) -> str:
    """The codec to read with: plain UTF-8 becomes `utf-8-sig`, so a BOM is accepted and dropped."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f'{path}: unknown encoding "{encoding}" (try utf-8, latin-1, cp1252 or gbk)') from None
    return "utf-8-sig" if name == "utf-8" else name


def check_text(path: Path, head: bytes, codec: str) -> None:
    """Refuse images, archives and other binary files before they are parsed as text."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            raise InputFileError(path, f"not a text file (it looks like {what})")
    if codec.startswith(("utf-16", "utf-32")):
        return
    if head.startswith(_UTF16_BOMS):
        raise InputFileError(path, "looks like UTF-16 text; pass --encoding utf-16")
    first_line = head.split(b"\n", 1)[0]
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    if b"\x00" in first_line or controls > _BINARY_SHARE * len(head):
        raise InputFileError(
            path, "not a text file (it is full of NUL and control bytes; "
            "if it is UTF-16 text, pass --encoding utf-16)"
        )


def sniff_delimiter(text: str) -> str:
    """The most frequent of `,` `;` TAB on the first non-blank line (quoted parts ignored)."""
    for line in text.splitlines():
        if line.strip():
            unquoted = _QUOTED.sub("", line)
            counts = {delimiter: unquoted.count(delimiter) for delimiter in _DELIMITERS}
            best = max(counts, key=counts.__getitem__)  # ties go to the earlier, `,` first
            return best if counts[best] else ","
    return ","


def iter_records(path: Path, codec: str, delimiter: str, after_row: int = 0) -> Iterator[Record]:
    """Every record after row `after_row`, numbered as a spreadsheet numbers rows (header = 1).

    A quoted cell spanning lines is one record. A malformed record (a stray quote) is yielded with
    a problem and no cells; an unclosed quote at the end or an undecodable byte is an InputFileError.
    """
    try:
        with path.open(encoding=codec, newline="") as stream:
            reader = csv.reader(stream, delimiter=delimiter, strict=True)
            row = 0
            while True:
                try:
                    for cells in reader:  # the hot loop: a million rows pass through here
                        row += 1
                        if row > after_row:
                            yield row, cells, None
                    return
                except csv.Error as exc:  # the reader resumes at the next line
                    row += 1
                    problem = _record_problem(path, row, exc)
                    if row > after_row:
                        yield row, [], problem
    except UnicodeDecodeError:
        raise InputFileError(path, describe_decode_error(path, codec)) from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def _record_problem(path: Path, row: int, exc: csv.Error) -> str:
    """A row-level message for a malformed record, or an InputFileError when the rest of the file is lost."""
    text = str(exc)
    if "unexpected end of data" in text:
        raise InputFileError(path, f'row {row}: a quoted cell is never closed (a stray " ran to the end of the file)')
    if "field larger than field limit" in text:
        raise InputFileError(
            path, f"row {row}: a cell is longer than {csv.field_size_limit()} characters "
            f'(probably a stray " that was never closed)'
        )
    if "expected after" in text:
        return 'row has a stray quote (") inside a cell; quote the whole cell and double inner quotes'
    return f"row is not valid CSV ({text})"


def describe_decode_error(path: Path, codec: str) -> str:
    """Find the first undecodable byte (its file offset and line) and say what to do about it."""
    found = _first_bad_byte(path, codec)
    where = f" (byte 0x{found[0]:02x} at offset {found[1]}, line {found[2]})" if found else ""
    if codec == "utf-8-sig" and _reads_as_chinese(path):
        return f"not valid UTF-8{where}; it reads as Chinese text in GBK (a Chinese Excel's CSV): pass --encoding gbk"
    if codec == "utf-8-sig":
        return f"not valid UTF-8{where}; if it is another encoding, pass --encoding latin-1 (or cp1252, gbk...)"
    return f"not valid {codec}{where}; pass the file's real encoding with --encoding"


def _reads_as_chinese(path: Path) -> bool:
    """The file's head decodes as GBK and holds CJK ideographs: what a Chinese Excel saves as CSV."""
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
    try:
        text = head.decode("gbk")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 1:  # only a character cut at the end of the head is forgiven
            return False
        text = head[: exc.start].decode("gbk")
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 2


def _first_bad_byte(path: Path, codec: str) -> tuple[int, int, int] | None:
    """(byte, offset, line) of the first byte `codec` rejects; a slow path used only on failure."""
    if codec == "utf-8-sig":
        codec = "utf-8"  # the -sig decoder reports positions after the BOM it swallowed
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = 0
    lines = 1
    with path.open("rb") as stream:
        if codec == "utf-8" and stream.read(3) != codecs.BOM_UTF8:
            stream.seek(0)
        offset = stream.tell()
        while True:
            block = stream.read(1 << 20)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                bad = offset - pending + exc.start
                lines += exc.object[: exc.start].count(b"\n")
                return exc.object[exc.start], bad, lines
            if not block:
                return None
            offset += len(block)
            lines += block.count(b"\n")
