"""The small parts of an XLSX workbook: its sheet list, relationships, shared strings and formats.

Read with expat (runner.input.xmlstream) in the Transitional and the Strict namespaces, so any
legal serialisation reads alike. The sheet itself is streamed by runner.input.xlsxreader.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import IO

from runner.errors import XlsxError
from runner.input.numberformat import number_format_code
from runner.input.workbook import HIDDEN, VERY_HIDDEN, VISIBLE, SheetInfo
from runner.input.xmlstream import parse_all

# The main namespace in Transitional (what Excel saves by default) and Strict Open XML.
_MAIN = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
         "http://purl.oclc.org/ooxml/spreadsheetml/main}")
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")  # OOXML's escape for characters XML cannot carry: _x000D_
TRUE = ("1", "true")


def names(*locals_: str) -> dict[str, str]:
    """Full expat name -> local name, for the elements of the main namespace the reader acts on."""
    return {namespace + name: name for namespace in _MAIN for name in locals_}


@dataclass(frozen=True)
class Book:
    sheets: list[SheetInfo]
    parts: list[str | None]  # the sheet parts, in the workbook's order (None: not a worksheet)
    active: int
    strings: list[str]
    formats: list[str]  # cellXfs index -> number format code
    date1904: bool
    recalculate: bool  # calcPr fullCalcOnLoad: the saved formula results are stale by the writer's own word


def open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise XlsxError(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
    except OSError as exc:  # the disk, not the workbook: say so instead of calling the file broken
        raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None


def member(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    try:
        return archive.open(name)
    except KeyError:
        raise XlsxError(f"not a readable XLSX file (it has no {name})") from None


def _relationships(archive: zipfile.ZipFile, base: str) -> dict[str, tuple[str, str]]:
    """rId -> (type suffix, part name) for the part at `base` (e.g. xl/workbook.xml)."""
    folder, name = posixpath.split(base)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.namelist():
        return {}
    found: dict[str, tuple[str, str]] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == _PKG_REL and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[attrs.get("Id", "")] = (attrs.get("Type", "").rsplit("/", 1)[-1], part)

    with member(archive, rels) as source:
        parse_all(source, start)
    return found


def load_book(archive: zipfile.ZipFile) -> Book:
    root_rels = _relationships(archive, "")  # _rels/.rels names the workbook part
    workbook = next((part for kind, part in root_rels.values() if kind == "officeDocument"), "xl/workbook.xml")
    rels = _relationships(archive, workbook)
    sheets: list[SheetInfo] = []
    parts: list[str | None] = []
    flags = {"active": 0, "date1904": False, "recalculate": False, "views": 0}
    tags = names("sheet", "workbookView", "workbookPr", "calcPr")

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = tags.get(tag)
        if name == "sheet":
            rel = rels.get(next((value for key, value in attrs.items() if key.endswith("}id")), ""))
            state = {"hidden": HIDDEN, "veryHidden": VERY_HIDDEN}.get(attrs.get("state", ""), VISIBLE)
            sheets.append(SheetInfo(attrs.get("name", ""), state, rel is None or rel[0] != "worksheet"))
            parts.append(rel[1] if rel is not None and rel[0] == "worksheet" else None)
        elif name == "workbookView" and not flags["views"]:
            flags["views"] = 1
            flags["active"] = int(attrs.get("activeTab", "0") or 0)
        elif name == "workbookPr":
            flags["date1904"] = attrs.get("date1904", "0") in TRUE
        elif name == "calcPr":
            flags["recalculate"] = attrs.get("fullCalcOnLoad", "0") in TRUE

    with member(archive, workbook) as source:
        parse_all(source, start)
    if not sheets:
        raise XlsxError("not a readable XLSX file (the workbook lists no sheets)")
    kinds = {kind: part for kind, part in rels.values()}
    strings = _shared_strings(archive, kinds.get("sharedStrings"))
    formats = _cell_formats(archive, kinds.get("styles"))
    return Book(sheets, parts, int(flags["active"]), strings, formats, bool(flags["date1904"]),
                 bool(flags["recalculate"]))


def unescape(text: str) -> str:
    """Decode OOXML's `_xHHHH_` escapes (`_x000D_` is a carriage return; `_x005F_` a literal `_`)."""
    return _ESCAPE.sub(lambda hit: chr(int(hit.group(1), 16)), text) if "_x" in text else text


class TextCollector:
    """The text of `<t>` elements under one container (a shared string, an inline string), leaving out
    phonetic guides (`<rPh>`, the reading of East Asian text) that are not part of the value."""

    def __init__(self) -> None:
        self.parts: list[str] | None = None  # the container's text runs; None outside a container
        self.collecting = False
        self.phonetic = 0

    def start(self, name: str) -> None:
        if name == "t" and self.parts is not None and not self.phonetic:
            self.collecting = True
        elif name == "rPh":
            self.phonetic += 1

    def end(self, name: str) -> None:
        if name == "t":
            self.collecting = False
        elif name == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        if self.collecting and self.parts is not None:
            self.parts.append(data)


def _shared_strings(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None or part not in archive.namelist():
        return []
    strings: list[str] = []
    tags = names("si", "t", "rPh")
    collector = TextCollector()

    def start(tag: str, _attrs: dict[str, str]) -> None:
        name = tags.get(tag)
        if name == "si":
            collector.parts = []
        elif name is not None:
            collector.start(name)

    def end(tag: str) -> None:
        name = tags.get(tag)
        if name == "si" and collector.parts is not None:
            strings.append(unescape("".join(collector.parts)))
            collector.parts = None
        elif name is not None:
            collector.end(name)

    with member(archive, part) as source:
        parse_all(source, start, end, collector.text)
    return strings


def _cell_formats(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None or part not in archive.namelist():
        return []
    custom: dict[int, str] = {}
    ids: list[int] = []
    inside = [False]
    tags = names("cellXfs", "numFmt", "xf")

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = tags.get(tag)
        if name == "cellXfs":
            inside[0] = True
        elif name == "numFmt":
            custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "General")
        elif name == "xf" and inside[0]:
            ids.append(int(attrs.get("numFmtId", "0") or 0))

    def end(tag: str) -> None:
        if tags.get(tag) == "cellXfs":
            inside[0] = False

    with member(archive, part) as source:
        parse_all(source, start, end)
    return [number_format_code(number, custom) for number in ids]
