"""Rewrite a workbook's XML parts into other legal serialisations of the very same document.

No mainstream writer emits most of these shapes, but any tool may, and an XML-correct reader must
read them all alike: every namespace behind a prefix (`x:row`), attributes reversed and in single
quotes, comments between and inside elements, text as CDATA or character references, whitespace
inside tags (`</row\\n>`), and, for XLSX, inline strings instead of the shared-string table.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@dataclass(frozen=True)
class Shape:
    """How to write: prefixes for every namespace, quote, attribute order, comments, text, whitespace."""

    prefixed: bool = False
    quote: str = '"'
    reverse: bool = False
    comments: bool = False
    text: str = "plain"  # "plain", "cdata" or "charref"
    spaces: bool = False


SHAPES = {
    "prefixes": Shape(prefixed=True),
    "single quotes, reversed attributes": Shape(quote="'", reverse=True),
    "comments everywhere": Shape(comments=True),
    "CDATA text": Shape(text="cdata"),
    "character references": Shape(text="charref"),
    "whitespace inside tags": Shape(spaces=True),
    "all at once": Shape(prefixed=True, quote="'", reverse=True, comments=True, text="cdata", spaces=True),
}


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, name = tag[1:].partition("}")
        return uri, name
    return "", tag


class _Writer:
    def __init__(self, shape: Shape, root: ElementTree.Element) -> None:
        self.shape = shape
        self.prefixes: dict[str, str] = {"http://www.w3.org/XML/1998/namespace": "xml"}
        self.default = "" if shape.prefixed else _split(root.tag)[0]
        for element in root.iter():
            for name in (element.tag, *element.attrib):
                uri = _split(name)[0]
                if uri and uri not in self.prefixes and (uri != self.default or name != element.tag):
                    self.prefixes[uri] = f"p{len(self.prefixes)}"

    def name(self, tag: str, attribute: bool = False) -> str:
        uri, local = _split(tag)
        if not uri or (uri == self.default and not attribute):
            return local
        return f"{self.prefixes[uri]}:{local}"

    def attribute(self, value: str) -> str:
        quote = self.shape.quote
        entity = "&quot;" if quote == '"' else "&apos;"
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(quote, entity)
        return quote + escaped.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + quote

    def text(self, value: str | None) -> str:
        if not value:
            return ""
        if self.shape.text == "cdata" and "]]>" not in value:
            return f"<![CDATA[{value}]]>"
        if self.shape.text == "charref":
            return "".join(f"&#{ord(ch)};" if ch.isalnum() or ord(ch) > 127 else _escape(ch) for ch in value)
        return _escape(value)

    def element(self, element: ElementTree.Element, root: bool = False) -> str:
        space = "\n  " if self.shape.spaces else " "
        items = list(element.attrib.items())
        if self.shape.reverse:
            items.reverse()
        attributes = "".join(f"{space}{self.name(key, True)}={self.attribute(value)}" for key, value in items)
        if root:
            declarations = [f"xmlns:{prefix}={self.attribute(uri)}" for uri, prefix in self.prefixes.items()
                            if prefix != "xml"]
            if self.default:
                declarations.append(f"xmlns={self.attribute(self.default)}")
            attributes = "".join(f"{space}{item}" for item in declarations) + attributes
        tag = self.name(element.tag)
        tail = "\n" if self.shape.spaces else ""
        comment = "<!-- <row r=\"1\"><c><v>9</v></c></row> -->" if self.shape.comments else ""
        if not len(element) and element.text is None:
            return f"<{tag}{attributes}{tail}/>{comment}"
        inner = comment + self.text(element.text)
        for child in element:
            inner += self.element(child) + self.text(child.tail)
        return f"<{tag}{attributes}{tail}>{inner}{comment}</{tag}{tail}>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def reshape_part(data: bytes, shape: Shape) -> bytes:
    root = ElementTree.fromstring(data)  # the fixtures are the repository's own files
    return (XML_DECLARATION + _Writer(shape, root).element(root, root=True)).encode("utf-8")


def inline_strings(sheet: bytes, strings: bytes) -> bytes:
    """The sheet with every shared-string cell turned into an inline string (`t="inlineStr"`)."""
    table = [_item_text(item) for item in ElementTree.fromstring(strings)]
    root = ElementTree.fromstring(sheet)
    for cell in root.iter(f"{{{MAIN}}}c"):
        if cell.get("t") == "s":
            value = cell.find(f"{{{MAIN}}}v")
            assert value is not None
            assert value.text is not None
            cell.remove(value)
            cell.set("t", "inlineStr")
            holder = ElementTree.SubElement(cell, f"{{{MAIN}}}is")
            ElementTree.SubElement(holder, f"{{{MAIN}}}t").text = table[int(value.text)]
    ElementTree.register_namespace("", MAIN)
    return XML_DECLARATION.encode() + ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)


def _item_text(item: ElementTree.Element) -> str:
    """A shared string's text: its runs, without a phonetic guide."""
    guide = {id(element) for phonetic in item.iter(f"{{{MAIN}}}rPh") for element in phonetic.iter()}
    return "".join(t.text or "" for t in item.iter(f"{{{MAIN}}}t") if id(t) not in guide)


def rewrite(source: Path, target: Path, change: Callable[[str, bytes, zipfile.ZipFile], bytes]) -> Path:
    """A copy of the zip `source` with every member passed through `change(name, data, archive)`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info.filename), old))
    return target


def reshaped(source: Path, target: Path, shape: Shape) -> Path:
    """Every XML part of `source` (but the ODS manifest's and mimetype) written in `shape`."""
    def change(name: str, data: bytes, _archive: zipfile.ZipFile) -> bytes:
        if name.endswith((".xml", ".rels")) and not name.startswith("META-INF/"):
            return reshape_part(data, shape)
        return data

    return rewrite(source, target, change)
