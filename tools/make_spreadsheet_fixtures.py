"""Regenerate tests/fixtures/spreadsheets/: small sheets made the way people make them.

    python tools/make_spreadsheet_fixtures.py            # needs soffice (libreoffice-calc-nogui)

`as_seen.*` start as an openpyxl workbook (typed numbers, number formats, a failing formula, a
hidden row, a merged cell) that LibreOffice then opens, recalculates and saves as .xlsx, .ods and
.xls: what the tests read are files written by a real spreadsheet program. `semicolon_cp1252.csv`
is LibreOffice's CSV export of the same sheet with a German Excel's dialect (`;`, cp1252, CRLF).
What LibreOffice cannot be made to write is made with openpyxl directly: formulas saved without
their results (`unsaved_formulas.xlsx`) and an auto filter that hides rows (`filtered.xlsx`).
The files other writers make (xlsxwriter, LibreOffice, Strict, SDK-style, WPS- and Google-style,
Excel's CSVs from several locales, and what is refused) come from tools/make_writer_fixtures.py.
Needs xlsxwriter (the `test` extra) and, for encrypted.xlsx, msoffcrypto-tool.
CI never runs this script: the generated files are committed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import make_writer_fixtures  # tools/, beside this script: the other writers' files (issue 20)
import openpyxl

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "fixtures" / "spreadsheets"

HEADER = ["Product Key", "IMEI", "Recipient", "Valid until", "Type", "Note"]


def as_seen_source(path: Path) -> None:
    """One row per thing a sheet shows differently from what it stores (rows are named in Note)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Shares"
    sheet.append(HEADER)
    rows: list[list[object]] = [
        ["p1test", 12345, 7700900123, date(2027, 12, 31), "sensor", "padded IMEI and phone"],
        ["p1test", "00D000003", 8613800138000, date(2027, 12, 31), "gateway", "phone in a General number cell"],
        ["p1test", 89860012345678905344, "U0000004", date(2027, 12, 31), "", "20 digits stored as a number"],
        ["p1test", "00D000005", "U0000005", "=NA()", "", "expiry is #N/A"],
        ["p1test", "00D000006", "U0000006", date(2027, 12, 31), "", "hidden row"],
        [],
        ["p1test", "00D000008", "U0000008", date(2027, 12, 31), "", "merged pk, first row"],
        [None, "00D000009", "U0000009", date(2027, 12, 31), "", "merged pk, second row"],
        ["p1test", 860000000000000, "U0000010", date(2027, 12, 31), "", "scientific format"],
        ["p1test", "00D000011", "op\u200bs@example.com", date(2027, 12, 31), "", "zero-width space inside"],
        ["p1test", "00D000012", "U0000012\u00a0", date(2027, 12, 31), "", "no-break space at the end"],
    ]
    for row in rows:
        sheet.append(row)
    sheet["B2"].number_format = "000000000000000"
    sheet["C2"].number_format = "00000000000"
    sheet["B10"].number_format = "0.00E+00"
    for number in range(2, 2 + len(rows)):
        sheet[f"D{number}"].number_format = "yyyy-mm-dd"
    sheet.row_dimensions[6].hidden = True
    sheet.merge_cells("A8:A9")
    book.save(path)


def unsaved_formulas(path: Path) -> None:
    """openpyxl saves formulas without results: as a script-made sheet nobody opened would be."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Shares"
    sheet.append(["pk", "dk", "uid", "expiry"])
    sheet.append(["p1test", "00D000001", "U0000001", "=TODAY()+30"])
    sheet.append(["p1test", "00D000002", "U0000002", "#REF!"])  # an error value without its formula
    sheet.append(["p1test", "00D000003", "U0000003", "2027-12-31"])
    book.save(path)


def filtered(path: Path) -> None:
    """An auto filter on Type that shows only sensors: the gateway row is hidden by the filter."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Shares"
    sheet.append(["pk", "dk", "uid", "Type"])
    sheet.append(["p1test", "00D000001", "U0000001", "sensor"])
    sheet.append(["p1test", "00D000002", "U0000002", "gateway"])
    sheet.append(["p1test", "00D000003", "U0000003", "sensor"])
    sheet.auto_filter.ref = "A1:D4"
    sheet.auto_filter.add_filter_column(3, ["sensor"])
    sheet.row_dimensions[3].hidden = True
    book.save(path)


def convert(source: Path, target: str, out_dir: Path) -> Path:
    """`soffice --convert-to` in a private profile, so a running LibreOffice does not interfere."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", target,
             "--outdir", str(out_dir), str(source)],
            check=True, capture_output=True, timeout=180,
        )
    made = out_dir / f"{source.stem}.{target.split(':', 1)[0]}"
    if not made.exists():
        raise SystemExit(f"soffice made no {made.name}")
    return made


def main() -> None:
    if shutil.which("soffice") is None:
        raise SystemExit("soffice not found: apt-get install -y libreoffice-calc-nogui")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "as_seen.xlsx"
        as_seen_source(source)
        converted = Path(work) / "converted"
        for target in ("xlsx", "ods", "xls"):
            shutil.copy(convert(source, target, converted), OUT / f"as_seen.{target}")
        # 59 = `;`, 34 = `"`, 1 = Windows-1252 (LibreOffice's CSV filter options)
        csv = convert(OUT / "as_seen.xlsx", 'csv:Text - txt - csv (StarCalc):59,34,1', converted)
        shutil.copy(csv, OUT / "semicolon_cp1252.csv")
        make_writer_fixtures.make(OUT, Path(work), convert)
    unsaved_formulas(OUT / "unsaved_formulas.xlsx")
    filtered(OUT / "filtered.xlsx")
    for made in sorted(OUT.iterdir()):
        print(f"{made.relative_to(HERE.parent)}: {made.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
