"""One pass over a FIT byte string: file headers, definitions and where each data record sits.

This is the only per-record Python loop of the decoder. It reads each record
header byte, keeps the 16 local message definitions, and notes each data
record's byte position, definition and header byte; nothing is decoded here.
Everything that needs the values is done per definition, in bulk, by
``ingest.fit.decode``.

Damage never raises: the scan stops at the first record that cannot be read
and reports what and where; records before it are kept.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, replace

import numpy as np

from ingest.fit.basetypes import BaseType, base_type_for
from ingest.fit.crc import crc16
from ingest.fit.record_order import headers_of, merge_runs, segments_of_records

HEADER_MAGIC = b".FIT"
MIN_HEADER_SIZE = 12
CRC_SIZE = 2


@dataclass(frozen=True)
class FieldDef:
    """One field of a definition message: where its bytes sit in the record and how to read them."""

    num: int
    size: int
    base: BaseType
    offset: int
    """byte offset inside the record content (after the header byte)."""


@dataclass(frozen=True)
class Definition:
    """A local message definition as written in the file."""

    id: int
    global_num: int
    big_endian: bool
    fields: tuple[FieldDef, ...]
    size: int
    """bytes of record content including developer fields."""
    segment: int
    layout_key: bytes = b""
    """the definition message's bytes (with the developer-data flag): equal keys, equal layouts."""


@dataclass(frozen=True)
class Segment:
    """One FIT file inside the byte string (chained files hold several)."""

    start: int
    header_size: int
    data_size: int
    protocol_version: int
    profile_version: int
    header_crc: int | None
    """None when the header is 12 bytes; 0 means "not computed" and is valid."""
    crc_ok: bool | None
    """file CRC matches; None when the file is cut short before its CRC."""


@dataclass(frozen=True)
class Damage:
    """Why reading stopped early, and at which byte offset."""

    offset: int
    reason: str


@dataclass
class Scan:
    """Result of the pass: record positions plus the definitions they refer to."""

    positions: np.ndarray
    """byte offset of each data record's content (after its header byte); int32 (int64 past 2 GiB)."""
    definition_ids: np.ndarray
    """``Definition.id`` of each data record (the smallest unsigned type that holds them)."""
    headers: np.ndarray
    """record header byte of each data record, uint8 (bit 7 set: compressed timestamp)."""
    segments_of_records: np.ndarray
    """index of the segment each data record belongs to (the smallest unsigned type that holds it)."""
    definitions: list[Definition] = field(default_factory=list)
    definition_first_record: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """index in the data-record sequence of the first record after each definition."""
    segments: list[Segment] = field(default_factory=list)
    damage: Damage | None = None
    not_fit: str | None = None
    """set when the bytes are not a FIT file at all (nothing could be read)."""


def _read_header(data: bytes, start: int) -> tuple[Segment | None, str | None]:
    """Parse the file header at ``start``: the segment, or why it is not a FIT header."""
    remaining = len(data) - start
    if remaining < MIN_HEADER_SIZE:
        return None, f"{remaining} bytes is too short for a FIT file header (needs at least 12)"
    header_size = data[start]
    if data[start + 8 : start + 12] != HEADER_MAGIC:
        return (
            None,
            f"bad magic {data[start + 8 : start + 12]!r} at byte {start + 8} (expected b'.FIT')",
        )
    if header_size < MIN_HEADER_SIZE or header_size == 13:
        return None, f"header size {header_size} at byte {start} is not 12 or at least 14"
    if header_size > remaining:
        return None, f"header of {header_size} bytes runs past the end of the file"
    data_size = int.from_bytes(data[start + 4 : start + 8], "little")
    header_crc = None
    if header_size >= 14:
        header_crc = int.from_bytes(data[start + 12 : start + 14], "little")
        if header_crc != 0:
            computed = crc16(data[start : start + 12])
            if computed != header_crc:
                return None, (
                    f"header CRC mismatch at byte {start + 12}: "
                    f"stored 0x{header_crc:04X}, computed 0x{computed:04X}"
                )
    segment = Segment(
        start=start,
        header_size=header_size,
        data_size=data_size,
        protocol_version=data[start + 1],
        profile_version=int.from_bytes(data[start + 2 : start + 4], "little"),
        header_crc=header_crc,
        crc_ok=None,
    )
    return segment, None


def _definition_end(data: bytes, pos: int, end: int, has_dev: bool) -> int | None:
    """Byte offset just past the definition message whose content starts at ``pos``, or None if cut short."""
    if pos + 5 > end:
        return None
    nxt = pos + 5 + 3 * data[pos + 4]
    if has_dev:
        if nxt + 1 > end:
            return None
        nxt += 1 + 3 * data[nxt]
    return nxt if nxt <= end else None


@dataclass(frozen=True)
class _Layout:
    global_num: int
    big_endian: bool
    fields: tuple[FieldDef, ...]
    size: int


def _parse_layout(content: bytes, has_dev: bool) -> _Layout | str:
    """Decode a definition message's content (everything after its header byte), or say why not."""
    if content[1] not in (0, 1):
        return f"definition message has architecture byte {content[1]} (expected 0 or 1)"
    big_endian = content[1] == 1
    global_num = int.from_bytes(content[2:4], "big" if big_endian else "little")
    field_end = 5 + 3 * content[4]
    fields = []
    offset = 0
    for i in range(5, field_end, 3):
        num, size, base_num = content[i], content[i + 1], content[i + 2]
        if size:
            fields.append(
                FieldDef(num=num, size=size, base=base_type_for(base_num, size), offset=offset)
            )
        offset += size
    if has_dev:
        offset += sum(content[j + 1] for j in range(field_end + 1, len(content), 3))
    return _Layout(global_num, big_endian, tuple(fields), offset)


_RUN_WINDOW = 512
"""Most records checked in one vectorised step when a record repeats the previous header."""

MAX_LAYOUT_FIELDS = 200_000
"""Most field definitions, over all distinct definition layouts, that one file may hold.

Devices reuse a few dozen layouts of a few dozen fields each; each distinct
layout costs Python objects worth far more than its bytes, so a file of
millions of distinct definitions (made, not recorded) is stopped here as
damage instead of costing memory a hundred times its size."""


def position_dtype(size: int) -> type[np.signedinteger]:
    """int32 for byte offsets of files under 2 GiB (every real FIT file), else int64."""
    return np.int32 if size < 2**31 else np.int64


def scan(data: bytes) -> Scan:
    """Find every data record of every chained FIT file in ``data``; never raises.

    Records of one local message often come in runs (a ``record`` per second
    with nothing between). When a record has the same header byte as the one
    before, the following headers are compared with numpy at the expected
    stride, so a run costs one step instead of one Python iteration per record.
    """
    scanner = _Scanner(data)
    not_fit = scanner.chained_files()
    return scanner.result(not_fit)


class _Scanner:
    """What one pass has found so far: records (single or in runs), definitions, chained files, damage."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.buf = np.frombuffer(data, dtype=np.uint8)
        # compact arrays, not lists of Python ints: a list costs ~36 bytes per record, these 4
        code = "i" if position_dtype(len(data)) is np.int32 else "q"
        self.single_pos = array(code)
        self.single_def = array("i")
        self.run_start = array(code)
        self.run_count = array("i")
        self.run_stride = array("i")
        self.run_def = array("i")
        self.definitions: list[Definition] = []
        self.definition_pos = array(code)
        self.segments: list[Segment] = []
        self.damage: Damage | None = None
        self.layouts: dict[tuple[bytes, bool], _Layout | str] = {}
        self.layout_fields = 0
        self.same_definitions: dict[tuple[bytes, bool, int], Definition] = {}
        """one Definition object per (layout, chained file), however often it is repeated."""

    def chained_files(self) -> str | None:
        """Scan each chained file in turn until the end or the first damage; why the bytes are not FIT, if so."""
        data, start, total = self.data, 0, len(self.data)
        while start < total:
            segment, problem = _read_header(data, start)
            if segment is None:
                if not self.segments:
                    return problem
                self.damage = Damage(
                    start, f"unreadable bytes after chained file {len(self.segments)}: {problem}"
                )
                break
            end = start + segment.header_size + segment.data_size
            cut_short = end > total
            if cut_short:
                end = total
            self.damage = self._records(start + segment.header_size, end, len(self.segments))
            if self.damage is None and cut_short:
                self.damage = Damage(
                    total,
                    f"file cut short: header announces {segment.data_size} data bytes, "
                    f"{total - start - segment.header_size} present",
                )
            crc_ok = self._check_crc(start, end) if self.damage is None else None
            self.segments.append(replace(segment, crc_ok=crc_ok))
            if self.damage is not None:
                break
            start = end + CRC_SIZE
        return None if self.segments else "empty file (0 bytes)"

    def _records(self, pos: int, end: int, seg_index: int) -> Damage | None:
        """Note every record of one chained file's data bytes ``pos:end``; the damage that stops it, if any.

        The one per-record loop: locals only, since attribute look-ups per record cost.
        """
        data = self.data
        local_sizes = [0] * 16
        local_ids = [-1] * 16
        previous = -1
        add_pos, add_def = self.single_pos.append, self.single_def.append
        while pos < end:
            header = data[pos]
            if header & 0x80:
                local = (header >> 5) & 0x03
            elif header & 0x40:
                defined = self._definition(pos, end, bool(header & 0x20), seg_index)
                if isinstance(defined, Damage):
                    return defined
                definition, pos = defined
                local_sizes[header & 0x0F] = definition.size
                local_ids[header & 0x0F] = definition.id
                previous = -1
                continue
            else:
                local = header & 0x0F
            def_id = local_ids[local]
            if def_id < 0:
                return Damage(pos, f"data message uses undefined local message {local}")
            stride = 1 + local_sizes[local]
            if header == previous:
                pos, more = self._run(pos, end, stride, header, def_id)
                if more:
                    continue
            nxt = pos + stride
            if nxt > end:
                return Damage(pos, "file cut short inside a data message")
            add_pos(pos + 1)
            add_def(def_id)
            previous = header
            pos = nxt
        return None

    def _run(self, pos: int, end: int, stride: int, header: int, def_id: int) -> tuple[int, bool]:
        """Take the records at ``pos`` that repeat ``header`` at ``stride`` as one run.

        Returns where scanning goes on and whether the loop should read a fresh
        header there (False: the record at the returned position repeats
        ``header`` but lies past the window, and is taken as a single record).
        """
        stop = min(end - stride + 1, pos + stride * _RUN_WINDOW)
        if stop <= pos:
            return pos, False
        same = self.buf[pos:stop:stride] == header
        count = int(same.argmin()) if not same.all() else int(same.size)
        self.run_start.append(pos + 1)
        self.run_count.append(count)
        self.run_stride.append(stride)
        self.run_def.append(def_id)
        pos += count * stride
        return pos, count == same.size or self.data[pos] != header

    def _definition(
        self, pos: int, end: int, has_dev: bool, seg_index: int
    ) -> tuple[Definition, int] | Damage:
        """The definition message at ``pos`` and the offset past it, or the damage that stops the scan."""
        data = self.data
        nxt_def = _definition_end(data, pos + 1, end, has_dev)
        if nxt_def is None:
            return Damage(pos, "definition message cut short")
        content = data[pos + 1 : nxt_def]
        definition = self.same_definitions.get((content, has_dev, seg_index))
        if definition is None:
            layout = self.layouts.get((content, has_dev))
            if layout is None:
                layout = self.layouts[(content, has_dev)] = _parse_layout(content, has_dev)
                self.layout_fields += 1 + data[pos + 5]
            if isinstance(layout, str):
                return Damage(pos, layout)
            if self.layout_fields > MAX_LAYOUT_FIELDS:
                return Damage(
                    pos,
                    f"more than {MAX_LAYOUT_FIELDS:,} field definitions in distinct "
                    "message definitions (no device writes so many)",
                )
            definition = Definition(
                len(self.definitions),
                layout.global_num,
                layout.big_endian,
                layout.fields,
                layout.size,
                seg_index,
                bytes([has_dev]) + content,
            )
            self.same_definitions[(content, has_dev, seg_index)] = definition
        self.definitions.append(definition)
        self.definition_pos.append(pos)
        return definition, nxt_def

    def _check_crc(self, start: int, end: int) -> bool | None:
        """Whether the file CRC after ``start:end`` matches; a mismatch or a missing CRC is noted as damage."""
        crc_end = end + CRC_SIZE
        if crc_end > len(self.data):
            self.damage = Damage(end, "file cut short before its CRC")
            return None
        stored = int.from_bytes(self.data[end:crc_end], "little")
        computed = crc16(self.buf[start:end])
        if stored != computed:
            self.damage = Damage(
                end, f"file CRC mismatch: stored 0x{stored:04X}, computed 0x{computed:04X}"
            )
        return stored == computed

    def result(self, not_fit: str | None) -> Scan:
        """The scan: runs expanded and merged with single records in file order."""
        dtype = position_dtype(len(self.data))
        positions, def_ids = merge_runs(
            np.frombuffer(self.single_pos, dtype=dtype),
            np.frombuffer(self.single_def, dtype=np.int32),
            np.frombuffer(self.run_start, dtype=dtype),
            np.frombuffer(self.run_count, dtype=np.int32),
            np.frombuffer(self.run_stride, dtype=np.int32),
            np.frombuffer(self.run_def, dtype=np.int32),
        )
        # a file uses a few definitions: one or two bytes per record instead of four
        def_ids = def_ids.astype(np.min_scalar_type(max(len(self.definitions) - 1, 0)), copy=False)
        return Scan(
            positions=positions,
            definition_ids=def_ids,
            headers=headers_of(self.buf, positions),
            segments_of_records=segments_of_records(
                [seg.start for seg in self.segments], positions
            ),
            definitions=self.definitions,
            definition_first_record=np.searchsorted(
                positions, np.frombuffer(self.definition_pos, dtype=dtype)
            ),
            segments=self.segments,
            damage=self.damage,
            not_fit=not_fit,
        )
