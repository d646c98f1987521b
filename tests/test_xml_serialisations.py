"""Any legal serialisation of the same cells reads as the same rows (tests/xmlshapes.py makes them).

The reader before this one split rows with string searches and a regular expression: `</row\\n>`
merged two rows into one, a row inside a comment was read as data, CDATA was kept literally and
single-quoted attributes were missed. These tests rewrite the committed fixtures into each shape.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.input.odsreader import OdsSheet
from runner.input.workbook import SheetRow
from runner.input.xlsxreader import XlsxSheet

from .xmlshapes import SHAPES, inline_strings, reshaped, rewrite

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spreadsheets"
WORKBOOKS = ["as_seen.xlsx", "as_seen.ods", "unsaved_formulas.xlsx", "filtered.xlsx"]


def read(path: Path) -> list[tuple[int, list[str], str | None, dict[int, str], dict[int, str | None]]]:
    sheet: XlsxSheet | OdsSheet = OdsSheet(str(path), None) if path.suffix == ".ods" else XlsxSheet(str(path), None)
    rows: list[SheetRow] = list(sheet.rows())
    return [(row.row, row.cells, row.hidden, row.problems, row.numbers) for row in rows]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", WORKBOOKS)
def test_every_shape_of_the_xml_reads_as_the_same_rows(tmp_path: Path, name: str, shape: str) -> None:
    source = FIXTURES / name
    target = reshaped(source, tmp_path / name, SHAPES[shape])
    assert target.read_bytes() != source.read_bytes()
    expected = read(source)
    assert len(expected) >= 3
    assert read(target) == expected


def test_inline_strings_read_as_the_shared_ones(tmp_path: Path) -> None:
    source = FIXTURES / "as_seen.xlsx"

    def change(name: str, data: bytes, archive: zipfile.ZipFile) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            return inline_strings(data, archive.read("xl/sharedStrings.xml"))
        return data

    target = rewrite(source, tmp_path / "inline.xlsx", change)
    assert b"inlineStr" in zipfile.ZipFile(target).read("xl/worksheets/sheet1.xml")
    assert read(target) == read(source)


def test_the_cli_reads_the_all_at_once_shape_as_the_original(tmp_path: Path) -> None:
    """`</row\\n>`, comments holding rows, CDATA and single quotes at once: the same report."""
    reports = []
    for label, path in (("original", FIXTURES / "as_seen.xlsx"),
                        ("reshaped", reshaped(FIXTURES / "as_seen.xlsx", tmp_path / "shaped.xlsx",
                                              SHAPES["all at once"]))):
        result = CliRunner().invoke(main, ["validate", "--input", str(path), "--out", str(tmp_path / label)])
        assert result.exit_code == 1, result.output  # the fixture has invalid rows on purpose
        reports.append((tmp_path / label / "validate" / "report.csv").read_text(encoding="utf-8"))
    assert reports[0] == reports[1]
    assert reports[0].count("\n") == 11  # header + ten rows
