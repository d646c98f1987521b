"""Recreate the sample inputs byte for byte: `python samples/make_samples.py [OUT_DIR]`.

- shares.csv / shares.xlsx: the same ~300 rows for the demo run against the simulator: mostly good
  shares, about 10 the simulator rejects (dk `UNV*` -> 5360, uid `FAM*` -> 5864, dk `FAIL*` -> 5134),
  6 invalid rows, 3 exact duplicates, and devices shared with several recipients (cover mark 2).
- messy.csv: a short semicolon file with a BOM showing what validation catches.

The XLSX keeps id-like cells as text cells, plus a phone stored as a real number and real date and
date-time cells, to prove they read back exactly as the CSV's text.
"""

from __future__ import annotations

import csv
import io
import random
import re
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
HEADERS = ["pk", "dk", "recipient", "expiry", "cover_mark", "note"]
PRODUCTS = ["p1a7c2", "p1b9e4", "p1k3m8"]
EXPIRIES = [
    "2028-06-30",
    "2029-01-01T12:00:00Z",
    "2028-12-31T18:00:00+08:00",
    "2030-03-15 09:30:00",
    "30d",
    "12h",
    "2w",
    "90m",
    "",
    "",
    "4102444800000",
    "1893456000",
]
NOTES = ["", "", "", "", "batch A", "batch B", "vip", "replacement unit", "north site, floor 2"]
_FROZEN_TIME = (2026, 1, 1, 0, 0, 0)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*<")

Cell = str | int | date
Row = list[Cell]


def _device(rng: random.Random, prefix: str = "00") -> str:
    return f"{prefix}{rng.getrandbits(40):010X}"


def _recipient(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.5:
        return f"U{rng.randrange(10**9, 10**10)}"
    if pick < 0.75:
        name = rng.choice(["ops", "field.team", "Site.Lead", "tech"])
        return f"{name}{rng.randrange(1, 999)}@example.com"
    number = f"138{rng.randrange(10**8):08d}"
    return rng.choice([f"+86{number}", number, f"{number[:3]} {number[3:7]} {number[7:]}"])


def _good_row(rng: random.Random, dk: str | None = None, cover_mark: str = "") -> Row:
    return [
        rng.choice(PRODUCTS),
        dk or _device(rng),
        _recipient(rng),
        rng.choice(EXPIRIES),
        cover_mark or rng.choice(["", "", "1"]),
        rng.choice(NOTES),
    ]


def _shared_devices(rng: random.Random) -> list[Row]:
    """Devices shared with 2-3 recipients: cover mark 2 keeps every share alive."""
    rows: list[Row] = []
    for _ in range(15):
        pk, dk = rng.choice(PRODUCTS), _device(rng)
        for _ in range(rng.choice([2, 3])):
            row = _good_row(rng, dk, cover_mark="2")
            row[0] = pk
            rows.append(row)
    # One device left on cover mark 1: the loader warns that the second share replaces the first.
    dk = _device(rng)
    rows += [
        ["p1a7c2", dk, "U5550000001", "2028-06-30", "1", "handover"],
        ["p1a7c2", dk, "U5550000002", "2028-06-30", "1", "handover"],
    ]
    return rows


def _rejected_rows(rng: random.Random) -> list[Row]:
    """Rows the simulator refuses: unverified binding, family member, failed insert."""
    rows = [_good_row(rng, _device(rng, "UNV")) for _ in range(4)]
    for _ in range(3):
        row = _good_row(rng)
        row[2] = f"FAM{rng.randrange(10**6, 10**7)}"
        rows.append(row)
    rows += [_good_row(rng, _device(rng, "FAIL")) for _ in range(3)]
    return rows


def _invalid_rows(rng: random.Random) -> list[Row]:
    """Rows validation stops before anything is sent."""
    rows = [_good_row(rng) for _ in range(6)]
    rows[0][3] = "2024-01-01"  # in the past
    rows[1][2] = "1.38001E+10"  # a phone a spreadsheet mangled
    rows[2][1] = ""  # empty dk
    rows[3][3] = "2027-02-30"  # no such date
    rows[4][4] = "7"  # cover mark out of range
    rows[5][2] = "ops@@example.com"  # not an email address
    return rows


def share_rows() -> list[Row]:
    """The ~300 demo rows, typed where the XLSX should hold a number or a date."""
    rng = random.Random(7)
    rows = [_good_row(rng) for _ in range(230)]
    rows[5] = ["p1b9e4", "00C0FFEE0001", 13800138123, "2028-06-30", "", "phone stored as a number"]
    rows[6] = ["p1b9e4", "00C0FFEE0002", "U1000000006", date(2028, 6, 30), "", "real date cell"]
    rows[7] = ["p1b9e4", "00C0FFEE0003", "U1000000007", datetime(2030, 3, 15, 9, 30), "", "date-time cell"]
    rows[8] = ["p1b9e4", "00C0FFEE0004", "'+8613800138000", "30d", "", "formula-guarded phone"]
    singles = {id(row) for row in rows}
    rows += _shared_devices(rng) + _rejected_rows(rng) + _invalid_rows(rng)
    rng.shuffle(rows)
    for start in (10, 40, 90):  # exact repeats of good rows, each placed after its original
        source = next(i for i in range(start, len(rows)) if id(rows[i]) in singles)
        rows.insert(rng.randrange(source + 1, len(rows)), list(rows[source]))
    return rows


def as_text(cell: Cell) -> str:
    """A cell as the CSV writes it: what the loader renders for the XLSX's typed cell."""
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ") if cell.time() != datetime.min.time() else cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def csv_text(headers: list[str], rows: list[Row], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([as_text(cell) for cell in row] for row in rows)
    return out.getvalue()


def write_xlsx(path: Path, headers: list[str], rows: list[Row]) -> None:
    """Write with openpyxl, then pin the zip timestamps so the bytes never change."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "shares"
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm" if cell.value.time() else "yyyy-mm-dd"
    book.properties.created = datetime(2026, 1, 1)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(_frozen_zip(buffer.getvalue()))


def _frozen_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            frozen = zipfile.ZipInfo(item.filename, date_time=_FROZEN_TIME)
            frozen.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(item)
            if item.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = _MODIFIED.sub(rb"\g<1>2026-01-01T00:00:00Z<", data)
            target.writestr(frozen, data)
    return out.getvalue()


MESSY_LINES = [
    "Product Key;deviceKey;User;Expires At;Recipient Type;Cover Mark;note",
    "p1a7c2;0001A2B3;U1001;2028-01-31;;;fine",
    "p1a7c2;0001A2B4;Ops@Example.com;2028-01-31T12:00:00+08:00;email;2;typed email",
    'p1a7c2;0001A2B5;+86 138-0013-8000;30d;;;"spaced phone,\nnote on two lines"',
    "p1a7c2;0001A2B6;1.38001E+10;30d;;;mangled by a spreadsheet",
    "p1a7c2;0001A2B7;U1002;2027-02-30;;;no such date",
    "p1a7c2;0001A2B8;U1003;2020-01-01;;;in the past",
    "p1a7c2;0001A2B9;U1004",
    "p1a7c2;0001A2BA;U1005;30d;;;too;many",
    "p1a7c2;0001A2BB;U1006;30d;;;nul\x00byte",
    ";;;;;;",
    "p1a7c2;0001A2B5;+8613800138000;2w;;;same phone as row 4",
    "p1a7c2;0001A2B4;ops@example.com;;;;same email as row 3",
    "p1a7c2;0001A2BC;U1007;30d;phone;;not a phone",
    "p1a7c2;0001A2BD;U1008;30d;fax;;unknown type",
    "p1a7c2;0001A2BE;U1009;30d;;7;cover mark 7",
    "p1a7c2;;U1010;30d;;;empty dk",
    "p1a7c2;0001A2BF;bob@@example.com;30d;;;two @",
    "p1a7c2;0001A2C0;U1011;12345;;;not a date either",
    "p1a7c2;0001A2C1;U1012;;;;'=SUM(A1:A2)",
    'p1a7c2;0001A2C2;"U1013"x;30d;;;stray quote',
]


def messy_bytes() -> bytes:
    """Semicolons, a BOM, alias headers and one of each mistake validation catches."""
    return "\ufeff".encode() + ("\r\n".join(MESSY_LINES) + "\r\n").encode()


def write_samples(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = share_rows()
    (out_dir / "shares.csv").write_bytes(csv_text(HEADERS, rows).encode())
    write_xlsx(out_dir / "shares.xlsx", HEADERS, rows)
    (out_dir / "messy.csv").write_bytes(messy_bytes())


if __name__ == "__main__":
    write_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
