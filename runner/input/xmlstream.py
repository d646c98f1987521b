"""Stream a workbook's XML through expat with defusedxml's refusals, calling handlers per element.

XLSX and ODS parts are XML, and any legal serialisation of the same cells must read the same:
namespace prefixes, attribute order and quoting, comments, CDATA, character references and
whitespace inside tags are the parser's business, never patterns over markup. expat is the
stdlib's C parser; it is driven here directly (no element tree is built, so a 100,000-row sheet
costs one Python call per start tag, end tag and text run) and given the same guards as
defusedxml's parsers: a DTD, an entity declaration or an external reference is refused with
defusedxml's own exceptions, so an entity bomb or an external file is never expanded or read.

Names arrive as `namespace}local` (the separator is `}`); attribute names the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

# Guarded below exactly as defusedxml guards expat (no DTD, no entity, no external reference):
from xml.parsers import expat

from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

_BLOCK = 1 << 16
T = TypeVar("T")
StartHandler = Callable[[str, dict[str, str]], None]
EndHandler = Callable[[str], None]
TextHandler = Callable[[str], None]

#: what a broken or hostile part raises while it is parsed (the readers turn it into one line)
XML_ERRORS = (expat.ExpatError, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden)


def _refuse_doctype(name: str, sysid: str | None, pubid: str | None, _has_internal: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _refuse_entity(name: str, _is_parameter: bool, value: str | None, base: str | None, sysid: str | None,
                   pubid: str | None, _notation: str | None) -> None:
    raise EntitiesForbidden(name, value, base, sysid, pubid, _notation)


def _refuse_unparsed(name: str, base: str | None, sysid: str | None, pubid: str | None,
                     notation: str | None) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation)


def _refuse_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def new_parser() -> Any:
    """An expat parser with namespaces expanded, text buffered, and no DTD or entity allowed."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.buffer_size = _BLOCK
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_unparsed
    parser.ExternalEntityRefHandler = _refuse_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def stream(source: IO[bytes], start: StartHandler | None, end: EndHandler | None, text: TextHandler | None,
           found: list[T], stop: Callable[[], bool] | None = None) -> Iterator[T]:
    """Parse `source` block by block; after each block, yield what the handlers appended to `found`.

    The handlers build whole items (rows) into `found`; the caller sees them as soon as the block
    that completed them is parsed, so memory holds one block's worth. `stop()` true after a block:
    the rest of the document is not needed (the sheet wanted has ended).
    """
    parser = new_parser()
    if start is not None:
        parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    while True:
        block = source.read(_BLOCK)
        parser.Parse(block, not block)
        if found:
            yield from found
            found.clear()
        if not block or (stop is not None and stop()):
            return


def parse_all(source: IO[bytes], start: StartHandler | None, end: EndHandler | None = None,
              text: TextHandler | None = None) -> None:
    """Parse a small part whole, for its handlers' side effects."""
    for _ in stream(source, start, end, text, []):
        pass


def local(name: str) -> str:
    """`namespace}local` -> `local`; a name without a namespace is itself."""
    return name[name.rfind("}") + 1:]
