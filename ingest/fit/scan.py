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

_CHUNK = 1 << 16
"""Records handled per vectorised step where a whole-file temporary would cost int64s per record."""


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
    buf = np.frombuffer(data, dtype=np.uint8)
    # compact arrays, not lists of Python ints: a list costs ~36 bytes per record, these 4
    code = "i" if position_dtype(len(data)) is np.int32 else "q"
    single_pos = array(code)
    single_def = array("i")
    run_start = array(code)
    run_count = array("i")
    run_stride = array("i")
    run_def = array("i")
    definitions: list[Definition] = []
    definition_pos = array(code)
    segments: list[Segment] = []
    damage: Damage | None = None
    not_fit: str | None = None
    layouts: dict[tuple[bytes, bool], _Layout | str] = {}
    layout_fields = 0
    same_definitions: dict[tuple[bytes, bool, int], Definition] = {}
    """one Definition object per (layout, chained file), however often it is repeated."""

    start = 0
    total = len(data)
    while start < total:
        segment, problem = _read_header(data, start)
        if segment is None:
            if not segments:
                not_fit = problem
            else:
                damage = Damage(
                    start, f"unreadable bytes after chained file {len(segments)}: {problem}"
                )
            break
        seg_index = len(segments)
        end = start + segment.header_size + segment.data_size
        cut_short = end > total
        if cut_short:
            end = total
        local_sizes = [0] * 16
        local_ids = [-1] * 16
        pos = start + segment.header_size
        previous = -1
        add_pos, add_def = single_pos.append, single_def.append
        while pos < end:
            header = data[pos]
            if header & 0x80:
                local = (header >> 5) & 0x03
            elif header & 0x40:
                has_dev = bool(header & 0x20)
                nxt_def = _definition_end(data, pos + 1, end, has_dev)
                if nxt_def is None:
                    damage = Damage(pos, "definition message cut short")
                    break
                content = data[pos + 1 : nxt_def]
                definition = same_definitions.get((content, has_dev, seg_index))
                if definition is None:
                    layout = layouts.get((content, has_dev))
                    if layout is None:
                        layout = layouts[(content, has_dev)] = _parse_layout(content, has_dev)
                        layout_fields += 1 + data[pos + 5]
                    if isinstance(layout, str):
                        damage = Damage(pos, layout)
                        break
                    if layout_fields > MAX_LAYOUT_FIELDS:
                        damage = Damage(
                            pos,
                            f"more than {MAX_LAYOUT_FIELDS:,} field definitions in distinct "
                            "message definitions (no device writes so many)",
                        )
                        break
                    definition = Definition(
                        len(definitions),
                        layout.global_num,
                        layout.big_endian,
                        layout.fields,
                        layout.size,
                        seg_index,
                        bytes([has_dev]) + content,
                    )
                    same_definitions[(content, has_dev, seg_index)] = definition
                local = header & 0x0F
                definitions.append(definition)
                definition_pos.append(pos)
                local_sizes[local] = definition.size
                local_ids[local] = definition.id
                previous = -1
                pos = nxt_def
                continue
            else:
                local = header & 0x0F
            def_id = local_ids[local]
            if def_id < 0:
                damage = Damage(pos, f"data message uses undefined local message {local}")
                break
            stride = 1 + local_sizes[local]
            if header == previous:
                # a run: count how many of the next headers at this stride are the same
                stop = min(end - stride + 1, pos + stride * _RUN_WINDOW)
                if stop > pos:
                    same = buf[pos:stop:stride] == header
                    count = int(same.argmin()) if not same.all() else int(same.size)
                    run_start.append(pos + 1)
                    run_count.append(count)
                    run_stride.append(stride)
                    run_def.append(def_id)
                    pos += count * stride
                    if count == same.size:
                        continue
                    header = data[pos]
                    if header != previous:
                        continue
            nxt = pos + stride
            if nxt > end:
                damage = Damage(pos, "file cut short inside a data message")
                break
            add_pos(pos + 1)
            add_def(def_id)
            previous = header
            pos = nxt
        if damage is None and cut_short:
            damage = Damage(
                total,
                f"file cut short: header announces {segment.data_size} data bytes, "
                f"{total - start - segment.header_size} present",
            )
        crc_ok: bool | None = None
        if damage is None:
            crc_end = end + CRC_SIZE
            if crc_end > total:
                damage = Damage(end, "file cut short before its CRC")
            else:
                stored = int.from_bytes(data[end:crc_end], "little")
                computed = crc16(buf[start:end])
                crc_ok = stored == computed
                if not crc_ok:
                    damage = Damage(
                        end, f"file CRC mismatch: stored 0x{stored:04X}, computed 0x{computed:04X}"
                    )
        segments.append(replace(segment, crc_ok=crc_ok))
        if damage is not None:
            break
        start = end + CRC_SIZE

    if not segments and not_fit is None:
        not_fit = "empty file (0 bytes)"
    dtype = position_dtype(len(data))
    positions, def_ids = _merge_runs(
        np.frombuffer(single_pos, dtype=dtype),
        np.frombuffer(single_def, dtype=np.int32),
        np.frombuffer(run_start, dtype=dtype),
        np.frombuffer(run_count, dtype=np.int32),
        np.frombuffer(run_stride, dtype=np.int32),
        np.frombuffer(run_def, dtype=np.int32),
    )
    # a file uses a few definitions: one or two bytes per record instead of four
    def_ids = def_ids.astype(np.min_scalar_type(max(len(definitions) - 1, 0)), copy=False)
    return Scan(
        positions=positions,
        definition_ids=def_ids,
        headers=_headers(buf, positions),
        segments_of_records=_segments_of(segments, positions),
        definitions=definitions,
        definition_first_record=np.searchsorted(
            positions, np.frombuffer(definition_pos, dtype=dtype)
        ),
        segments=segments,
        damage=damage,
        not_fit=not_fit,
    )


def _headers(buf: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The header byte before each record's content (uint8), a chunk at a time."""
    out = np.empty(positions.size, dtype=np.uint8)
    for a in range(0, positions.size, _CHUNK):
        out[a : a + _CHUNK] = buf[positions[a : a + _CHUNK] - 1]
    return out


def _segments_of(segments: list[Segment], positions: np.ndarray) -> np.ndarray:
    """Index of the chained file of each record, in the smallest unsigned type that holds it."""
    out = np.zeros(positions.size, dtype=np.min_scalar_type(max(len(segments) - 1, 0)))
    if len(segments) > 1:
        starts = np.array([seg.start for seg in segments], dtype=np.int64)
        for a in range(0, positions.size, _CHUNK):
            out[a : a + _CHUNK] = np.searchsorted(starts, positions[a : a + _CHUNK], "right") - 1
    return out


def _merge_runs(
    single_pos: np.ndarray,
    single_def: np.ndarray,
    run_start: np.ndarray,
    run_count: np.ndarray,
    run_stride: np.ndarray,
    run_def: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Expand runs into per-record positions and merge them with single records in file order.

    Both inputs are in file order already, so no sort is needed: each
    single record's place in the output is its own index plus the number of
    run records before it. Runs are expanded a bounded chunk of runs at a
    time straight into the output, so the only arrays as long as the file's
    records are the two results.
    """
    n_single = single_pos.size
    counts = run_count.astype(np.int64)
    ends = np.cumsum(counts)
    n = n_single + (int(ends[-1]) if ends.size else 0)
    if n == n_single:  # no runs: the scan's own arrays, no copy
        return single_pos, single_def
    positions = np.empty(n, dtype=single_pos.dtype)
    def_ids = np.empty(n, dtype=np.int32)
    # a run lies wholly before or after a single record, so a record's slot is its index
    # among its own kind plus the records of the other kind before it
    runs_before = np.concatenate(([0], ends))
    for a in range(0, n_single, _CHUNK):
        chunk = single_pos[a : a + _CHUNK]
        slots = np.arange(a, a + chunk.size, dtype=np.int64)
        slots += runs_before[np.searchsorted(run_start, chunk)]
        positions[slots] = chunk
        def_ids[slots] = single_def[a : a + _CHUNK]
    done = first = 0
    while first < run_start.size:
        # as many runs as make up about _CHUNK records (at least one)
        last = max(first + 1, int(np.searchsorted(ends, done + _CHUNK, "right")))
        c = counts[first:last]
        k = int(c.sum())
        pos = np.arange(k, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        pos *= np.repeat(run_stride[first:last].astype(np.int64), c)
        pos += np.repeat(run_start[first:last].astype(np.int64), c)
        slots = np.arange(done, done + k, dtype=np.int64)
        slots += np.searchsorted(single_pos, pos)
        positions[slots] = pos
        def_ids[slots] = np.repeat(run_def[first:last], c)
        done += k
        first = last
    return positions, def_ids
