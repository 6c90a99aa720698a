"""Safe XML parsing for the XML readers (Apple Health, TCX, GPX).

Two layers, so that neither a billion-laughs file nor an external entity can
cost memory, time or a network/file read:

* ``refuse_entities`` looks at the document prolog before any parsing and
  refuses a document type that declares entities (``<!ENTITY``) or whose
  internal subset does not end within ``PROLOG_LIMIT_BYTES``. Real exports
  declare none: Apple's ``export.xml`` carries element and attribute
  declarations only, TCX and GPX carry no DOCTYPE at all.
* ``safe_iterparse`` is ``lxml.etree.iterparse`` with entity resolution,
  DTD loading and network access off, and libxml2's own amplification
  limits left on (``huge_tree=False``), as the second line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

PROLOG_LIMIT_BYTES = 1 << 20
"""Longest prolog (XML declaration, comments and DOCTYPE) read before the root element."""


SAFE_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
"""lxml parser options every irisin XML parser takes: no entity, no DTD, no network, libxml2's limits on."""


class UnsafeXml(ValueError):
    """The document declares entities or an unbounded prolog; it is not parsed."""


def refuse_entities(head: bytes) -> None:
    """Raise ``UnsafeXml`` when ``head`` (the first bytes of a document) declares entities.

    ``head`` should hold at least ``PROLOG_LIMIT_BYTES`` bytes or the whole
    document. UTF-16 documents are checked after decoding their head.
    """
    text = head
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head.decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    start = text.find(b"<!DOCTYPE")
    if start < 0:
        return
    subset = text.find(b"[", start)
    close = text.find(b">", start)
    if close < 0:
        raise UnsafeXml(f"DOCTYPE does not end within the first {PROLOG_LIMIT_BYTES} bytes")
    if subset < 0 or subset > close:  # a DOCTYPE without internal subset
        declaration = text[start:close]
        if b"SYSTEM" in declaration or b"PUBLIC" in declaration:
            raise UnsafeXml("DOCTYPE refers to an external DTD (refused: external entities)")
        return
    end = text.find(b"]>", subset)
    if end < 0:
        raise UnsafeXml(
            f"DOCTYPE internal subset does not end within the first {PROLOG_LIMIT_BYTES} bytes"
        )
    if b"<!ENTITY" in text[subset:end]:
        raise UnsafeXml("XML declares entities (refused: entity expansion and external entities)")


def safe_iterparse(source: IO[bytes], **kwargs: Any) -> Iterator[tuple[str, Any]]:
    """``lxml.etree.iterparse`` that resolves no entity and reads nothing but ``source``."""
    events: Iterator[tuple[str, Any]] = etree.iterparse(source, **SAFE_PARSER_OPTIONS, **kwargs)
    return events


XML_ERRORS: tuple[type[BaseException], ...] = (
    etree.XMLSyntaxError,
    etree.ParseError,
    UnicodeDecodeError,
)
"""Exceptions that mean damaged or foreign XML (not a reader bug)."""
