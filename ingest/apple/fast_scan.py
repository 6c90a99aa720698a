"""A fast path through ``export.xml`` for the layout the Health app writes, checked chunk by chunk.

The Health app writes one ``<Record>`` start tag per line, one space in,
its attributes in double quotes; children (``MetadataEntry``, heart-rate
variability lists) sit on lines of their own, further in. Inside an attribute
value a double quote is always written ``&quot;``, so on such a line a raw
``"`` only ever opens or closes a value. Split on ``"``, a Record line is
then ``<Record type=`` | type | `` sourceName=`` | name | ... | ``/>``:
attribute names and values in turn. polars' multi-threaded CSV reader does
that split (``separator='"'``, no quoting), and the wanted attributes are
picked from the name columns by name, whatever their order.

The file is cut into chunks at line breaks before a top-level element
(``"\\n <"`` followed by a letter), so every chunk holds whole top-level
elements. A chunk takes the fast path only when everything in it is the
shape above and its own counts agree:

* no comment, CDATA, processing instruction or DOCTYPE, no tab or carriage
  return (attribute-value normalisation), no character reference, and every
  ``&`` one of the five predefined entities (decoded afterwards, once per
  distinct device/source string);
* every line is one of the known Record, child or ``ActivitySummary`` lines,
  at its usual indentation (so no Record can be nested in a Correlation and
  no Workout or root tag is passed over);
* the ``<Record`` occurrences in the bytes equal the Record rows read, each
  ends in ``/>`` or ``>``, the ``</Record>`` closings equal the ``>`` ones,
  and every name column is an attribute name;
* the bytes are UTF-8 without control characters.

Any other chunk (the prolog, workouts, correlations, an unusual layout) is
fed, in file order, to one safe ``lxml`` pull parser, the same element
handling as the whole-file path (``ingest.apple.scan``). Leaving out whole
top-level elements keeps that parser's document well-formed, so the pull
parser checks everything it is fed. Whenever anything goes wrong (XML damage
anywhere, a document without the usual line breaks, a comment left open), the
whole file is read again by the safe whole-file path, which alone decides
what damage is and where it stops. So correctness never rests on the fast
path; it only makes the common layout quick.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import polars as pl
from lxml import etree

from ingest.apple.scan import (
    RECORD_TYPES,
    WANTED_TAGS,
    RecordSink,
    ScanOutcome,
    check_root,
    scan_export,
)
from ingest.xml_safety import PROLOG_LIMIT_BYTES, SAFE_PARSER_OPTIONS, XML_ERRORS

MiB = 1 << 20
CHUNK_BYTES = 8 * MiB
"""Bytes per chunk: bounds the working memory (a chunk and its split columns)."""
FIRST_CHUNK_BYTES = 1 * MiB
"""The first chunk (prolog and root tag, always parsed safely) is kept small."""
FEED_BYTES = 1 * MiB
"""Bytes handed to the pull parser at a time."""
MAX_CARRY_CHUNKS = 4
"""A document with no top-level line break in this many chunks is read by the safe path."""

COLUMNS = 25
"""Split columns kept per line: room for 12 attributes (Apple writes at most 9) and the tag's end."""
_SCHEMA = {f"c{i}": pl.String for i in range(COLUMNS)}
RECORD_HEAD = " <Record type="
KNOWN_LINES = frozenset(
    {
        RECORD_HEAD,
        " </Record>",
        "  <MetadataEntry key=",
        "  <HeartRateVariabilityMetadataList>",
        "   <InstantaneousBeatsPerMinute bpm=",
        "  </HeartRateVariabilityMetadataList>",
        " <ActivitySummary dateComponents=",
    }
)
"""First split column of every line a fast chunk may hold; anything else sends the chunk to lxml."""
_ELEMENT_LINES = frozenset({" <Workout workoutActivityType=", " <Correlation type="})
"""First split columns of the elements cut out for the parser."""
_NOT_WATCHED = bytes(b for b in range(256) if b >= 0x20 and b not in b"!?")
_NAME = re.compile(r"^ [A-Za-z_][A-Za-z0-9_.-]*=$")
_TAILS = frozenset({"/>", ">"})
_ATTRIBUTES = {
    "start": "startDate",
    "end": "endDate",
    "value": "value",
    "device_raw": "device",
    "source_name": "sourceName",
}
_UTF8 = re.compile(rb"encoding\s*=\s*[\"'](?!utf-?8[\"'])", re.IGNORECASE)


@dataclass
class Prepared:
    """A chunk that passed the fast path's checks, as the parent takes it in file order.

    ``payload`` is what ``on_prepared`` receives (in-process: the raw record
    frame; from worker processes: their minute partials), ``elements`` the
    workouts and correlations cut out for the parser, ``counts`` the records
    by type.
    """

    payload: Any
    elements: list[bytes]
    counts: dict[str, int]


ChunkMap = Callable[[Iterable[tuple[int, bytes]]], Iterator[tuple[bytes, Prepared | None]]]
"""Chunks ``(file offset, bytes)`` in, each chunk with its ``Prepared`` (or None: parse it safely) out, in order."""


def prepare(chunk: bytes) -> Prepared | None:
    """In-process preparation of one chunk: its raw record frame, or None when it fails a check."""
    out = ScanOutcome()
    taken = _fast_records(chunk, out)
    if taken is None:
        return None
    frame, elements = taken
    return Prepared(frame if frame.height else None, elements, dict(out.records_by_type))


def in_process(chunks: Iterable[tuple[int, bytes]]) -> Iterator[tuple[bytes, Prepared | None]]:
    """The default ``ChunkMap``: every chunk but the first (prolog and root) prepared here, lazily."""
    for offset, chunk in chunks:
        yield chunk, (prepare(chunk) if offset else None)


class Abandoned(Exception):
    """The mixed reading cannot go on; the file is to be read by the safe whole-file path."""


def scan_export_fast(
    source: IO[bytes],
    on_chunk: Callable[[pl.DataFrame, bool], None],
    reset: Callable[[], None],
    *,
    chunk_bytes: int | None = None,
    first_chunk_bytes: int | None = None,
    chunk_map: ChunkMap = in_process,
    on_prepared: Callable[[Any], None] | None = None,
) -> ScanOutcome:
    """Read ``source`` like ``scan_export``, taking the fast path for every chunk that allows it.

    ``on_chunk(frame, escaped)`` receives frames of raw record strings in file
    order (``escaped``: device and source still carry XML entities). When the
    mixed reading is abandoned, ``reset()`` is called, the stream is rewound
    and the safe path reads it whole; ``ScanOutcome.fast_path`` says why.
    Raises ``NotAppleHealth`` like ``scan_export``. Chunk sizes default to
    ``CHUNK_BYTES`` and ``FIRST_CHUNK_BYTES`` as they are at the call.
    ``chunk_map`` prepares the chunks (``ingest.apple.fast_pool`` does it in
    worker processes); a fast chunk's payload goes to ``on_prepared``
    (default: ``on_chunk(frame, True)``), all in file order.
    """
    if on_prepared is None:
        on_prepared = lambda frame: on_chunk(frame, True)  # noqa: E731
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    first_chunk_bytes = first_chunk_bytes or FIRST_CHUNK_BYTES
    head = source.read(PROLOG_LIMIT_BYTES)
    check_root(head)
    source.seek(0)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or _UTF8.search(head[: head.find(b">") + 1]):
        return _safe(source, on_chunk, "not UTF-8")
    try:
        return _mixed(source, on_chunk, chunk_bytes, first_chunk_bytes, chunk_map, on_prepared)
    except Abandoned as e:
        reset()
        source.seek(0)
        return _safe(source, on_chunk, str(e))


def _safe(
    source: IO[bytes], on_chunk: Callable[[pl.DataFrame, bool], None], why: str
) -> ScanOutcome:
    out = scan_export(source, lambda frame: on_chunk(frame, False))
    out.fast_path = f"not taken: {why}; read by the safe path"
    return out


def _mixed(
    source: IO[bytes],
    on_chunk: Callable[[pl.DataFrame, bool], None],
    chunk_bytes: int,
    first_chunk_bytes: int,
    chunk_map: ChunkMap,
    on_prepared: Callable[[Any], None],
) -> ScanOutcome:
    sink = RecordSink(lambda frame: on_chunk(frame, False))
    parser = etree.XMLPullParser(events=("end",), tag=WANTED_TAGS, **SAFE_PARSER_OPTIONS)
    fast = safe = 0
    root_seen = False
    try:
        for chunk, taken in chunk_map(_offsets(_chunks(source, first_chunk_bytes, chunk_bytes))):
            if taken is not None and root_seen:
                sink.flush()  # records parsed before this chunk go first: file order is kept
                fast += 1
                sink.out.records_by_type.update(taken.counts)
                if taken.payload is not None:
                    on_prepared(taken.payload)
                for element in taken.elements:  # workouts and correlations, whole, in file order
                    _feed(parser, sink, element)
                continue
            safe += 1
            root_seen = root_seen or b"<HealthData" in chunk
            if chunk.rfind(b"<!--") > chunk.rfind(b"-->") or chunk.rfind(
                b"<![CDATA["
            ) > chunk.rfind(b"]]>"):
                raise Abandoned("a comment or CDATA section runs on past a chunk")
            _feed(parser, sink, chunk)
        parser.close()
        for _, element in parser.read_events():
            sink.take(element)
    except XML_ERRORS as e:
        raise Abandoned(f"XML damage ({e})") from None
    sink.flush()
    sink.out.fast_path = f"{fast} of {fast + safe} chunks"
    return sink.out


def _feed(parser: etree.XMLPullParser, sink: RecordSink, data: bytes) -> None:
    """Feed ``data`` to the pull parser in pieces (libxml2 refuses one huge buffer) and take its elements."""
    for at in range(0, len(data), FEED_BYTES):
        parser.feed(data[at : at + FEED_BYTES])
        for _, element in parser.read_events():
            sink.take(element)


def _offsets(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """Each chunk with its offset in the file."""
    at = 0
    for chunk in chunks:
        yield at, chunk
        at += len(chunk)


def _chunks(source: IO[bytes], first: int, size: int) -> Iterator[bytes]:
    """The stream in chunks of about ``size`` bytes, each cut just before a top-level element's line."""
    carry = b""
    want = first
    while True:
        block = source.read(want)
        buffer = carry + block if carry else block
        if not block:
            close = buffer.rfind(b"\n</")  # the root's end tag goes on its own, to the parser
            if close >= 0:
                yield buffer[: close + 1]
                buffer = buffer[close + 1 :]
            if buffer:
                yield buffer
            return
        cut = _boundary(buffer)
        if cut < 0:
            if len(buffer) > MAX_CARRY_CHUNKS * size:
                raise Abandoned("no line break before a top-level element")
            carry, want = buffer, size
            continue
        yield buffer[:cut]
        carry, want = buffer[cut:], size


def _boundary(buffer: bytes) -> int:
    """Offset just after the last ``"\\n <"`` that starts an element (not a closing tag), or -1."""
    pos = buffer.rfind(b"\n <")
    while pos >= 0 and (pos + 3 >= len(buffer) or buffer[pos + 3 : pos + 4] == b"/"):
        pos = buffer.rfind(b"\n <", 0, pos)
    return pos + 1 if pos >= 0 else -1


def _fast_records(chunk: bytes, out: ScanOutcome) -> tuple[pl.DataFrame, list[bytes]] | None:
    """The wanted records of ``chunk`` as raw strings and its other elements' bytes, or None.

    Workouts and correlations (whole top-level elements, found by their
    lines) are cut out and returned as bytes for the pull parser; the rest
    must pass every check of the module docstring, else None: the chunk is
    to be parsed safely.
    """
    kept = chunk.translate(None, _NOT_WATCHED)  # one pass: control characters, "!" and "?"
    marks = kept.count(b"!") + kept.count(b"?")
    if len(kept) - marks != kept.count(b"\n"):
        return None  # tabs, carriage returns (normalised by XML) or control characters
    if marks and (b"<!" in chunk or b"<?" in chunk):
        return None
    elements: list[bytes] = []
    lines = _split(chunk)
    if lines is None:
        return None
    heads = set(lines["c0"].drop_nulls().unique().to_list())
    if heads & _ELEMENT_LINES:  # workouts or correlations: cut out for the parser, split again
        taken = _cut_elements(chunk)
        if taken is None:
            return None
        chunk, elements = taken
        lines = _split(chunk)
        if lines is None:
            return None
        heads = set(lines["c0"].drop_nulls().unique().to_list())
    if not heads <= KNOWN_LINES:
        return None
    closings = int((lines["c0"] == " </Record>").sum())
    records = lines.lazy().filter(pl.col("c0") == RECORD_HEAD)
    names_at = _names_at(records, lines, chunk.count(b"<Record"), closings)
    if names_at is None:
        return None
    frame = (
        records.filter(pl.col("c1").is_in(list(RECORD_TYPES)))
        .select(
            pl.col("c1").replace_strict(RECORD_TYPES, return_dtype=pl.UInt8).alias("kind"),
            *(_attribute(name, names_at).alias(column) for column, name in _ATTRIBUTES.items()),
        )
        .collect()
    )
    plain = ("start", "end", "value")
    if frame.select(pl.any_horizontal(pl.col(plain).str.contains("&", literal=True).any())).item():
        return None  # an entity in a time or value: decoded by the parser
    if not all(
        well_escaped(text)
        for column in ("device_raw", "source_name")
        for text in frame[column].unique().to_list()
    ):
        return None
    names = {code: name for name, code in RECORD_TYPES.items()}
    for code, n in frame["kind"].value_counts().iter_rows():
        out.records_by_type[names[code]] += n
    return frame, elements


def _split(chunk: bytes) -> pl.DataFrame | None:
    """The chunk's lines split on ``"`` into ``COLUMNS`` string columns (None when not UTF-8)."""
    try:
        return pl.read_csv(
            chunk,
            separator='"',
            quote_char=None,
            has_header=False,
            schema=_SCHEMA,
            truncate_ragged_lines=True,
            encoding="utf8",
            comment_prefix=None,
        )
    except pl.exceptions.PolarsError:
        return None  # not UTF-8, or anything else the reader refuses


def well_escaped(text: str | None) -> bool:
    """Whether every ``&`` in ``text`` starts one of the five predefined entities (no character references)."""
    if text is None or "&" not in text:
        return True
    return text.count("&") == sum(
        text.count(e) for e in ("&lt;", "&gt;", "&amp;", "&quot;", "&apos;")
    )


def _cut_elements(chunk: bytes) -> tuple[bytes, list[bytes]] | None:
    """``chunk`` without its workouts and correlations, and those elements' bytes; None if one has no end."""
    data = b"\n" + chunk  # every element's line now follows a line break
    pieces: list[bytes] = []
    elements: list[bytes] = []
    at = 0
    following = {tag: data.find(b"\n <" + tag) for tag in (b"Workout", b"Correlation")}
    while hits := {tag: i for tag, i in following.items() if i >= 0}:
        tag = min(hits, key=hits.__getitem__)
        begin = hits[tag] + 1
        line_end = data.find(b"\n", begin)
        if line_end < 0:
            return None
        if data[line_end - 2 : line_end] == b"/>":
            end = line_end + 1
        else:
            close = data.find(b"\n </" + tag + b">\n", line_end)
            if close < 0:
                return None
            end = close + len(tag) + 6  # just past the closing tag's line break
        pieces.append(data[at:begin])
        elements.append(data[begin:end])
        at = end
        following = {
            t: (i if i >= at - 1 else data.find(b"\n <" + t, at - 1))
            for t, i in following.items()
            if i >= 0
        }
    pieces.append(data[at:])
    return b"".join(pieces)[1:], elements


def _names_at(
    records: pl.LazyFrame, lines: pl.DataFrame, opened: int, closings: int
) -> dict[int, set[str]] | None:
    """The attribute names found in each name column, or None unless every Record row is well shaped.

    Well shaped: as many Record rows as ``<Record`` in the bytes (``opened``),
    types written without entities, every name column holding attribute
    names, each row ending in ``/>`` or ``>`` in a name column (nothing after
    it), and the ``>`` rows agreeing with the ``</Record>`` closings.
    """
    used = [i for i in range(COLUMNS) if lines[f"c{i}"].null_count() < lines.height]
    last = pl.coalesce(
        [pl.when(pl.col(f"c{i}").is_not_null()).then(pl.lit(i, pl.Int8)) for i in reversed(used)]
    )
    tail = pl.coalesce([pl.col(f"c{i}") for i in reversed(used)])
    even = [i for i in used if i >= 2 and i % 2 == 0]
    summary = (
        records.select(
            pl.len().alias("rows"),
            (last % 2 != 0).any().alias("odd_end"),
            tail.unique().implode().alias("tails"),
            (tail == ">").sum().alias("open_tags"),
            pl.col("c1").unique().implode().alias("types"),
            *(pl.col(f"c{i}").drop_nulls().unique().implode().alias(f"c{i}") for i in even),
        )
        .collect()
        .row(0, named=True)
    )
    if summary["rows"] != opened or summary["rows"] == 0:
        return {} if summary["rows"] == opened else None
    if summary["odd_end"] or not set(summary["tails"]) <= _TAILS:
        return None
    if summary["open_tags"] != closings or any("&" in t for t in summary["types"] if t):
        return None
    names_at: dict[int, set[str]] = {}
    for i in even:
        names = set(summary[f"c{i}"]) - _TAILS
        if not all(_NAME.match(name) for name in names):
            return None
        names_at[i] = names
    return names_at


def _attribute(name: str, names_at: dict[int, set[str]]) -> pl.Expr:
    """The value of attribute ``name`` on each row, wherever it stands (null when absent).

    A column that holds only this name is taken as it is; where a column
    holds other names too, only the rows naming it are taken.
    """
    key = f" {name}="
    picks = [
        pl.col(f"c{i + 1}")
        if names == {key} and i + 1 < COLUMNS
        else pl.when(pl.col(f"c{i}") == key).then(pl.col(f"c{i + 1}"))
        for i, names in names_at.items()
        if key in names and i + 1 < COLUMNS
    ]
    if not picks:
        return pl.lit(None, pl.String)
    return picks[0] if len(picks) == 1 else pl.coalesce(picks)
