"""Spreadsheets as other writers make them (issue 20); called by make_spreadsheet_fixtures.py.

Each file carries the traits of its writer that once made sharebatch send something the person
did not see, or refuse something it should read:

- `xlsxwriter.xlsx`: xlsxwriter itself: a hidden first sheet and a chart sheet, a formula saved with
  its placeholder result 0 and `fullCalcOnLoad`, ids under number, currency and percent formats,
  recipient wrappers, two phones in one cell, a `_x000D_` escape, a built-in East-Asian date format
  stored by id only, full-width digits;
- `lo_hidden_first.{xlsx,ods,xls}`: LibreOffice's saves of a workbook whose first sheet is hidden and
  whose dk cell carries a note;
- `strict.xlsx`: an openpyxl workbook rewritten into Strict Open XML's namespaces, as Excel's
  "Strict Open XML Spreadsheet" saves it;
- `sdk_prefixed.xlsx`: every part re-serialised with `x:` prefixes, as the Open XML SDK writes;
- `wps_style.xlsx`, `google_style.xlsx`: made by hand in the shapes those tools export (Chinese
  headers, dates by built-in id and `t="d"`; inline strings and a two-row header);
- CSVs from Excel in several locales: UTF-16 tab ("Unicode Text"), `;` with a decimal comma and
  `="..."` ids, GBK, Mac Roman with CR line ends;
- refusals: `encrypted.xlsx` (needs msoffcrypto-tool), `html_export.xls`, `spreadsheetml_2003.xls`,
  `empty_sheet.xlsx` (a password-protected .ods is made at test time: LibreOffice would not encrypt
  from the command line here).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import openpyxl

TRANSITIONAL = {
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main": "http://purl.oclc.org/ooxml/spreadsheetml/main",
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships":
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
}
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADER = ["pk", "dk", "recipient", "expiry", "note"]


def xlsxwriter_book(path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    old = book.add_worksheet("Old batch")
    old.write_row(0, 0, HEADER)
    old.write_row(1, 0, ["p1test", "00D000099", "U0000099", "2027-12-31", "the old customer"])
    old.hide()
    sheet = book.add_worksheet("Shares")
    sheet.activate()
    sheet.write_row(0, 0, HEADER)
    text = book.add_format({"num_format": "@"})
    rows: list[tuple[str, object, object, str]] = [
        ("formula", '="8600000000"&"00001"', "U0000002", "Excel shows 860000000000001; saved result 0"),
        ("number", 860000000086001, "U0000003", "#,##0 shows 860,000,000,086,001"),
        ("currency", 860000000086002, "U0000004", "currency shows ¥860,000,000,086,002.00"),
        ("percent", 86, "U0000005", "percent shows 8600.00%"),
        ("text", "00D000006", "mailto:bob@example.com", "mailto: link"),
        ("text", "00D000007", "<carol@example.com>", "address in angle brackets"),
        ("text", "00D000008", "13800138000\n13900139000", "two phones on two lines"),
        ("text", "00D000009", "dave@example.com\r", "a carriage return: saved as _x000D_"),
        ("text", "00D000010", "U0000010", "expiry in built-in format 31 (yyyy年m月d日)"),
        ("text", "００Ｄ００００１１", "U0000011", "full-width dk"),
    ]
    formats = {"number": book.add_format({"num_format": "#,##0"}),
               "currency": book.add_format({"num_format": '"¥"#,##0.00'}),
               "percent": book.add_format({"num_format": "0.00%"})}
    by_id = book.add_format({"num_format": 31})  # stored as numFmtId 31 with no code: the locale's date
    for index, (kind, dk, recipient, note) in enumerate(rows, start=1):
        sheet.write_string(index, 0, "p1test")
        if kind == "formula":
            sheet.write_formula(index, 1, str(dk))  # xlsxwriter saves the result as 0
        elif kind in formats:
            sheet.write_number(index, 1, float(str(dk)), formats[kind])
        else:
            sheet.write_string(index, 1, str(dk), text)
        sheet.write_string(index, 2, str(recipient))
        if index == 9:
            sheet.write_datetime(index, 3, date(2027, 12, 31), by_id)
        else:
            sheet.write_string(index, 3, "2027-12-31")
        sheet.write_string(index, 4, note)
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=Shares!$E$2:$E$3"})
    overview = book.add_chartsheet("Overview")
    overview.set_chart(chart)
    book.close()


def lo_hidden_first_source(path: Path) -> None:
    """For LibreOffice to save as .xlsx, .ods and .xls: a hidden first sheet, a note on a dk cell."""
    from openpyxl.comments import Comment

    book = openpyxl.Workbook()
    old = book.active
    old.title = "Old batch"
    old.append(HEADER)
    old.append(["p1test", "00D000099", "U0000099", date(2027, 12, 31), "the old customer"])
    old.sheet_state = "hidden"
    sheet = book.create_sheet("Shares")
    sheet.append(HEADER)
    sheet.append(["p1test", "860000000000001", "U0000001", date(2027, 12, 31), "dk with a note"])
    sheet["B2"].comment = Comment("swap: replacement unit", "ops")
    sheet.append(["p1test", "00D000002", "U0000002", date(2027, 12, 31), ""])
    book.active = 1
    book.save(path)


def openpyxl_plain(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Shares"
    sheet.append(HEADER)
    sheet.append(["p1test", "00D000001", "U0000001", date(2027, 12, 31), "date cell"])
    sheet.append(["p1test", "00D000002", "erin@example.com", "2027-12-31", "text date"])
    sheet["D2"].number_format = "yyyy-mm-dd"
    book.save(path)


def _rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info.filename)))


def strict(source: Path, target: Path) -> None:
    """Strict Open XML: the same parts in the purl.oclc.org namespaces, `conformance="strict"`."""
    def change(name: str, data: bytes) -> bytes:
        if not name.endswith((".xml", ".rels")):
            return data
        text = data.decode("utf-8")
        for old, new in TRANSITIONAL.items():
            text = text.replace(old, new)
        text = text.replace("http://schemas.openxmlformats.org/officeDocument/2006/relationships/",
                            "http://purl.oclc.org/ooxml/officeDocument/relationships/")
        if name == "xl/workbook.xml":
            text = text.replace("<workbook ", '<workbook conformance="strict" ', 1)
        return text.encode("utf-8")

    _rewrite(source, target, change)


def sdk_prefixed(source: Path, target: Path) -> None:
    """Every part parsed and written back by ElementTree with the `x:` prefix, as the SDK writes."""
    ElementTree.register_namespace("x", MAIN)
    ElementTree.register_namespace("r", "http://schemas.openxmlformats.org/officeDocument/2006/relationships")

    def change(name: str, data: bytes) -> bytes:
        if not name.startswith("xl/") or not name.endswith(".xml"):
            return data
        root = ElementTree.fromstring(data)
        return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)

    _rewrite(source, target, change)


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<bookViews><workbookView activeTab="0"/></bookViews>'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
# cellXfs: 0 General, 1 built-in 31 (yyyy年m月d日 in a Chinese Excel), 2 built-in 57, 3 text
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{MAIN}"><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="31" applyNumberFormat="1"/>'
    '<xf numFmtId="57" applyNumberFormat="1"/><xf numFmtId="49" applyNumberFormat="1"/></cellXfs></styleSheet>'
)


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _hand_made(path: Path, sheet_name: str, rows_xml: str, merges: str = "") -> None:
    sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}">'
             f"<sheetData>{rows_xml}</sheetData>{merges}</worksheet>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.replace("{name}", sheet_name))
        archive.writestr("xl/styles.xml", _STYLES)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)


def wps_style(path: Path) -> None:
    """Chinese headers (one with a zero-width space), dates by built-in id 31 and 57 and as `t="d"` ISO text."""
    names = ["设备PK", "设备DK\u200b", "手机号", "到期时间"]
    header = "".join(_inline(f"{col}1", text) for col, text in zip("ABCD", names, strict=True))
    rows = [f'<row r="1">{header}</row>']
    expiry = ['<c r="D{n}" s="1"><v>46752</v></c>', '<c r="D{n}" s="2"><v>46752</v></c>',
              '<c r="D{n}" t="d"><v>2027-12-31T00:00:00</v></c>',
              '<c r="D{n}" t="d"><v>2027-12-31T00:00:00.000Z</v></c>']  # as SheetJS writes a date-only cell
    for number, cell in enumerate(expiry, start=2):
        rows.append(f'<row r="{number}">{_inline(f"A{number}", "p1test")}{_inline(f"B{number}", f"00D00000{number}")}'
                    f'{_inline(f"C{number}", f"1380013800{number}")}{cell.format(n=number)}</row>')
    _hand_made(path, "工作表1", "".join(rows))


def google_style(path: Path) -> None:
    """A merged group title over the sub-headers (Device over pk and dk, Share over the rest)."""
    rows = [
        f'<row r="1">{_inline("A1", "Device")}{_inline("C1", "Share")}</row>',
        f'<row r="2">{_inline("A2", "pk")}{_inline("B2", "dk")}{_inline("C2", "email")}{_inline("D2", "expiry")}</row>',
        f'<row r="3">{_inline("A3", "p1test")}{_inline("B3", "00D000003")}{_inline("C3", "fay@example.com")}'
        f'{_inline("D3", "2027-12-31")}</row>',
    ]
    _hand_made(path, "Sheet1", "".join(rows), '<mergeCells count="2"><mergeCell ref="A1:B1"/>'
                                              '<mergeCell ref="C1:D1"/></mergeCells>')


CSV_ROWS = [
    ["p1test", "00D000001", "U0000001", "2027-12-31"],
    ["p1test", "00D000002", "gina@example.com", "2027-12-31"],
]


def csvs(out: Path) -> None:
    """Excel's CSV and text exports from several locales."""
    lines = ["\t".join(["pk", "dk", "recipient", "expiry"]), *("\t".join(row) for row in CSV_ROWS)]
    (out / "excel_unicode_text.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))
    german = ["pk;dk;recipient;expiry;price", 'p1test;="0860000000091301";U0000001;2027-12-31;12,50',
              "p1test;8,6E+14;U0000002;2027-12-31;3,00"]
    (out / "excel_de_semicolon.csv").write_bytes(("\r\n".join(german) + "\r\n").encode("cp1252"))
    chinese = ["设备PK,设备DK,手机号,到期时间", "p1test,00D000001,13800138001,2027-12-31",
               "p1test,００Ｄ０００００２,13800138002,2027-12-31"]
    (out / "excel_zh_gbk.csv").write_bytes(("\r\n".join(chinese) + "\r\n").encode("gbk"))
    mac = ["pk,dk,recipient,expiry,note", "p1test,00D000001,U0000001,2027-12-31,Café Zürich"]
    (out / "excel_mac_roman.csv").write_bytes(("\r".join(mac) + "\r").encode("mac-roman"))


def refusals(out: Path) -> None:
    (out / "html_export.xls").write_text(
        '<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8"></head><body>'
        "<table><tr><td>pk</td><td>dk</td><td>uid</td></tr><tr><td>p1test</td><td>00D000001</td>"
        "<td>U0000001</td></tr></table></body></html>\n", encoding="utf-8")
    (out / "spreadsheetml_2003.xls").write_text(
        '<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Shares"><Table>'
        '<Row><Cell><Data ss:Type="String">pk</Data></Cell></Row></Table></Worksheet></Workbook>\n',
        encoding="utf-8")
    book = openpyxl.Workbook()
    book.active.title = "Shares"
    book.create_sheet("Notes").append(["pk", "dk", "uid"])
    book.save(out / "empty_sheet.xlsx")
    try:
        from msoffcrypto.format.ooxml import OOXMLFile  # only to make this fixture: pip install msoffcrypto-tool
    except ImportError:
        print("msoffcrypto-tool not installed: encrypted.xlsx kept as it is")
        return
    plain = io.BytesIO()
    source = openpyxl.Workbook()
    source.active.append(["pk", "dk", "uid"])
    source.save(plain)
    plain.seek(0)
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", encrypted)
    (out / "encrypted.xlsx").write_bytes(encrypted.getvalue())


def make(out: Path, work: Path, convert: Callable[[Path, str, Path], Path]) -> None:
    """Write every writer's fixture into `out`; `convert` is soffice's --convert-to."""
    xlsxwriter_book(out / "xlsxwriter.xlsx")
    source = work / "lo_hidden_first.xlsx"
    lo_hidden_first_source(source)
    for target in ("xlsx", "ods", "xls"):
        (out / f"lo_hidden_first.{target}").write_bytes(convert(source, target, work / "converted").read_bytes())
    plain = work / "plain.xlsx"
    openpyxl_plain(plain)
    strict(plain, out / "strict.xlsx")
    sdk_prefixed(plain, out / "sdk_prefixed.xlsx")
    wps_style(out / "wps_style.xlsx")
    google_style(out / "google_style.xlsx")
    csvs(out)
    refusals(out)
