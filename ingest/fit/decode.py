"""Columnar FIT decoding: every message type comes out as whole numpy columns.

How it works:

1. ``ingest.fit.scan`` walks the record headers once and notes where each data
   record starts and which definition it uses.
2. The records of each definition all have the same layout, so they are
   gathered into one ``(n, size)`` byte matrix and viewed through a numpy
   structured dtype built from the definition (little or big endian): every
   field becomes an array in one step.
3. Per message, the definitions' columns are stacked in file order, sentinels
   become a ``valid`` mask, and the profile's subfields, components (bit
   ranges, with accumulation) and scale/offset are applied to whole columns.
4. Record times are resolved over the whole file at once
   (``ingest.fit.timestamps``).

The output, ``DecodedFit``, maps message names to ``MessageTable``s: a dict of
``Column(values, valid)`` pairs keyed by field name plus each row's resolved
time. Values follow fitparse's conventions so the two can be compared field by
field: scaled fields are float64 ``raw / scale - offset``, other numbers keep
their integer type, enumerations stay as raw numbers (names via
``ingest.fit.profile.value_name``), times stay as FIT seconds, strings are
Python ``str`` in object arrays, byte fields are ``(n, size)`` uint8 matrices,
multi-value fields are ``(n, k)`` matrices with a per-element mask. Developer
fields are skipped (their bytes are counted in the record size, never read).

Bad bytes never raise: ``DecodedFit.status`` is ``ok``, ``partial`` (damage
found; every record before it decoded; ``reason`` and ``damage_offset`` say
what and where) or ``not_fit`` (nothing FIT-like to read).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from ingest.fit import profile
from ingest.fit.basetypes import BASE_TYPES, BYTE, STRING, BaseType
from ingest.fit.profile import TIMESTAMP_FIELD, ComponentSpec, FieldSpec, MessageSpec
from ingest.fit.scan import Definition, FieldDef, Scan, Segment, scan
from ingest.fit.timestamps import (
    TIMESTAMP_16_BEHIND_S,
    fill_compressed,
    index_dtype,
    nonzero_index,
    resolve_timestamp_16,
)

DecodeStatus = Literal["ok", "partial", "not_fit"]

MEMORY_FACTOR = 40
"""Bound on ``decode_fit``'s peak memory, as a multiple of the file's size (plus a few MiB of work
arrays of constant size). The worst case is a file of one-byte records (zero-field definitions):
each record costs its position, definition, header, file index, time and validity however little
it holds. ``bench.fit_decode`` prints the measured factors (35x for one-byte records of two
messages in turn, 24x for one message; real files 2-10x); ``tests/fit/test_fit_memory.py``
decodes such files under a memory limit of this factor."""


@dataclass
class Column:
    """One decoded field: values plus a validity mask (False = the field's invalid sentinel or absent).

    ``valid`` has one entry per value for numbers and per-element arrays, and one
    per row for strings and byte fields (a byte field is invalid when all its
    bytes are 0xFF).
    """

    values: np.ndarray
    valid: np.ndarray


@dataclass
class MessageTable:
    """All decoded messages of one global message type, in file order."""

    name: str
    num: int
    record_index: np.ndarray
    """position of each row in the file's sequence of data records (ascending; int32 below 2 GiB)."""
    offset: np.ndarray
    """byte offset of each row's content in the file (int32 below 2 GiB)."""
    time: np.ndarray
    """each row's time in FIT seconds (int64): its own timestamp, else the one
    resolved from a compressed header or ``timestamp_16``; see ``time_valid``."""
    time_valid: np.ndarray
    columns: dict[str, Column] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.record_index.size)

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def get(self, name: str) -> Column | None:
        return self.columns.get(name)

    def column(self, name: str) -> Column:
        """The named column, or an all-invalid int64 column when the messages never carry it."""
        found = self.columns.get(name)
        if found is not None:
            return found
        n = len(self)
        return Column(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))

    def to_arrow(self) -> pa.Table:
        """The table as Arrow: ``time`` plus one column per field, null where invalid.

        Multi-value and byte fields become fixed-size lists (null elements where
        an element is invalid, a null list where a byte field is).
        """
        arrays: dict[str, pa.Array] = {
            "time": pa.array(self.time, mask=~self.time_valid, type=pa.int64()),
        }
        for name, col in self.columns.items():
            if col.values.ndim == 1:
                arrays[name] = pa.array(col.values, mask=~col.valid)
                continue
            width = col.values.shape[1]
            element_ok = col.valid if col.valid.ndim == 2 else np.ones(col.values.shape, dtype=bool)
            flat = pa.array(col.values.reshape(-1), mask=~element_ok.reshape(-1))
            row_null = None if col.valid.ndim == 2 else pa.array(~col.valid)
            arrays[name] = pa.FixedSizeListArray.from_arrays(flat, width, mask=row_null)
        return pa.table(arrays)


@dataclass
class DecodedFit:
    """Everything decoded from one FIT byte string (possibly several chained files)."""

    messages: dict[str, MessageTable]
    status: DecodeStatus
    reason: str | None
    damage_offset: int | None
    segments: list[Segment]
    n_records: int

    def __getitem__(self, name: str) -> MessageTable:
        """The named message table; an empty table when the file has none."""
        found = self.messages.get(name)
        if found is not None:
            return found
        empty_i = np.zeros(0, dtype=np.int64)
        return MessageTable(
            name=name,
            num=profile.message_numbers().get(name, -1),
            record_index=empty_i,
            offset=empty_i,
            time=empty_i,
            time_valid=np.zeros(0, dtype=bool),
        )

    def __contains__(self, name: str) -> bool:
        return name in self.messages

    def __iter__(self) -> Iterator[MessageTable]:
        return iter(self.messages.values())


# ---------------------------------------------------------------- raw per-definition decoding


@dataclass
class _Raw:
    """One field's raw values for a set of rows, before profile processing."""

    values: np.ndarray
    valid: np.ndarray
    base: BaseType


def _numpy_format(fdef: FieldDef, big_endian: bool) -> tuple[str, tuple[int, ...]]:
    base = fdef.base
    count = fdef.size // base.size
    code = base.dtype if base.size == 1 else (">" if big_endian else "<") + base.dtype
    if base is BYTE or base is STRING or count > 1:
        return code, (count,)
    return code, ()


@dataclass(frozen=True)
class _FieldPlan:
    name: str
    num: int
    base: BaseType
    native: np.dtype
    sentinel: object
    """the invalid value as a numpy scalar of ``native``; None for floats (NaN), strings, bytes."""


@dataclass(frozen=True)
class _Plan:
    """How to read one definition layout: a structured dtype and what to do with each field."""

    dtype: np.dtype
    fields: tuple[_FieldPlan, ...]


_PLANS: dict[tuple[bytes, bool], _Plan] = {}
"""Plans by (definition bytes, all fields wanted). Devices reuse a handful of layouts, so a
cohort backfill builds each plan once; bounded by ``_MAX_PLANS``."""
_MAX_PLANS = 4096


def _plan(definition: Definition, field_nums: Collection[int] | None) -> _Plan:
    key = (definition.layout_key, field_nums is None)
    found = _PLANS.get(key) if definition.layout_key else None
    if found is not None:
        return found
    fields = []
    names, formats, offsets = [], [], []
    seen: set[int] = set()
    for i, fdef in enumerate(definition.fields):
        if (field_nums is not None and fdef.num not in field_nums) or fdef.num in seen:
            continue  # a field listed twice: keep the first, as the SDK does
        seen.add(fdef.num)
        code, shape = _numpy_format(fdef, definition.big_endian)
        names.append(f"f{i}")
        formats.append((code, shape) if shape else code)
        offsets.append(fdef.offset)
        native = np.dtype(code).newbyteorder("=")
        sentinel = None if fdef.base.invalid is None else native.type(fdef.base.invalid)
        fields.append(_FieldPlan(f"f{i}", fdef.num, fdef.base, native, sentinel))
    dtype = np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": definition.size}
    )
    plan = _Plan(dtype, tuple(fields))
    if definition.layout_key and len(_PLANS) < _MAX_PLANS:
        _PLANS[key] = plan
    return plan


def _decode_rows(
    buf: np.ndarray,
    definition: Definition,
    positions: np.ndarray,
    field_nums: Collection[int] | None,
) -> dict[int, _Raw]:
    """Decode the fields of one definition for the records at ``positions`` (all at once)."""
    if positions.size == 0 or definition.size == 0:
        return {}
    plan = _plan(definition, field_nums)
    if not plan.fields:
        return {}
    steps = np.diff(positions)
    if positions.size > 1 and steps.min() == steps.max() and int(steps[0]) >= definition.size:
        # one evenly spaced run (e.g. a record every second with nothing between): a strided
        # view of the file bytes, no copy
        records = np.ndarray(
            shape=(positions.size,),
            dtype=plan.dtype,
            buffer=buf,
            offset=int(positions[0]),
            strides=(int(steps[0]),),
        )
    else:
        records = _gather(buf, positions, definition.size).view(plan.dtype).reshape(-1)
    out: dict[int, _Raw] = {}
    for fp in plan.fields:
        raw = records[fp.name]
        if fp.base is STRING:
            out[fp.num] = _strings(raw)
        elif fp.base is BYTE:
            values = np.ascontiguousarray(raw)
            out[fp.num] = _Raw(values, ~np.all(values == 0xFF, axis=1), fp.base)
        else:
            values = raw.astype(fp.native)
            valid = ~np.isnan(values) if fp.sentinel is None else values != fp.sentinel
            out[fp.num] = _Raw(values, valid, fp.base)
    return out


def _gather(buf: np.ndarray, positions: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` bytes at each of ``positions`` as an ``(n, size)`` matrix.

    Indexes a sliding-window view of the file, so the only allocation is the
    result itself (an ``(n, size)`` int64 index matrix would be 8x the bytes).
    """
    windows: np.ndarray = np.lib.stride_tricks.sliding_window_view(buf, size)[positions]
    return windows


def _strings(raw: np.ndarray) -> _Raw:
    """Null-terminated UTF-8 strings (decoded row by row: strings are few and short)."""
    texts = [bytes(row).split(b"\0", 1)[0].decode("utf-8", errors="replace") for row in raw]
    values = np.array([t or None for t in texts], dtype=object)
    return _Raw(values, np.array([bool(t) for t in texts], dtype=bool), STRING)


# ---------------------------------------------------------------- stacking definitions of one message


def _stack(parts: list[tuple[np.ndarray, dict[int, _Raw]]]) -> tuple[np.ndarray, dict[int, _Raw]]:
    """Stack the rows of several definitions of one message, in file order.

    Definitions usually follow each other (a message redefined part-way through
    the file), so the parts are concatenated in order of their first row and
    only reordered when their rows interleave.
    """
    if len(parts) == 1:
        return parts[0]
    parts = sorted(parts, key=lambda part: int(part[0][0]))
    interleaved = any(int(a[0][-1]) > int(b[0][0]) for a, b in zip(parts, parts[1:], strict=False))
    record_index = np.concatenate([idx for idx, _ in parts])
    order = np.argsort(record_index, kind="stable") if interleaved else None
    nums: list[int] = []
    for _, raws in parts:
        nums.extend(n for n in raws if n not in nums)
    stacked: dict[int, _Raw] = {}
    for num in nums:
        pieces = [(idx.size, raws.get(num)) for idx, raws in parts]
        stacked[num] = _stack_field(pieces, order)
    return (record_index if order is None else record_index[order]), stacked


def _stack_field(pieces: list[tuple[int, _Raw | None]], order: np.ndarray | None) -> _Raw:
    """One field over all parts; rows of parts without the field are invalid."""
    present = [raw for _, raw in pieces if raw is not None]
    base = present[0].base
    if any(raw.base is STRING or raw.values.dtype.kind == "O" for raw in present):
        values = np.concatenate(
            [
                raw.values
                if raw is not None and raw.values.dtype.kind == "O"
                else np.full(n, None, dtype=object)
                for n, raw in pieces
            ]
        )
        valid = np.concatenate(
            [
                raw.valid if raw is not None and raw.base is STRING else np.zeros(n, bool)
                for n, raw in pieces
            ]
        )
        base = STRING
    elif all(raw.values.ndim == 1 for raw in present):
        dtype = np.result_type(*[raw.values.dtype for raw in present])
        values = np.concatenate(
            [raw.values if raw is not None else np.zeros(n, dtype) for n, raw in pieces]
        )
        valid = np.concatenate(
            [raw.valid if raw is not None else np.zeros(n, bool) for n, raw in pieces]
        )
    else:
        values, valid, base = _stack_matrix(pieces, present)
    if order is not None:
        values, valid = values[order], valid[order]
    return _Raw(values, valid, base)


def _stack_matrix(
    pieces: list[tuple[int, _Raw | None]], present: list[_Raw]
) -> tuple[np.ndarray, np.ndarray, BaseType]:
    """Multi-value or byte fields over parts whose widths may differ (padded with invalid elements)."""
    width = max(raw.values.shape[1] if raw.values.ndim == 2 else 1 for raw in present)
    dtype = np.result_type(*[raw.values.dtype for raw in present])
    per_row_valid = any(raw.base is BYTE for raw in present)
    value_parts, valid_parts = [], []
    for n, raw in pieces:
        vals = np.zeros((n, width), dtype=dtype)
        ok = np.zeros((n,) if per_row_valid else (n, width), dtype=bool)
        if raw is not None:
            v = raw.values.reshape(n, -1)
            vals[:, : v.shape[1]] = v
            if per_row_valid:
                ok[:] = raw.valid if raw.valid.ndim == 1 else raw.valid.reshape(n, -1).any(axis=1)
            else:
                ok[:, : v.shape[1]] = raw.valid.reshape(n, -1)
        value_parts.append(vals)
        valid_parts.append(ok)
    base = BYTE if per_row_valid else present[0].base
    return np.concatenate(value_parts), np.concatenate(valid_parts), base


# ---------------------------------------------------------------- profile processing


def _scaled(values: np.ndarray, scale: float | None, offset: float | None) -> np.ndarray:
    """fitparse's arithmetic: ``float(raw) / scale`` when scaled, then ``- offset`` when offset."""
    if not scale and not offset:
        return values
    fractional = offset is not None and float(offset) != int(offset)
    as_float = bool(scale) or values.dtype.kind == "f" or fractional
    out: np.ndarray = values.astype(np.float64 if as_float else np.int64)
    if scale:
        out /= scale
    if offset:
        out -= offset
    return out


def _is_numeric(raw: _Raw) -> bool:
    return raw.base is not STRING and raw.base is not BYTE


def _component_input(raw: _Raw) -> np.ndarray | None:
    """The integer that components are cut from: the value itself, or a byte array read little endian."""
    values = raw.values
    if values.ndim == 1 and values.dtype.kind in "iu":
        return values.astype(np.uint64)
    if values.ndim == 2 and values.dtype == np.uint8 and values.shape[1] <= 8:
        weights = np.left_shift(
            np.uint64(1), np.arange(values.shape[1], dtype=np.uint64) * np.uint64(8)
        )
        packed: np.ndarray = (values.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
        return packed
    return None


def _accumulate(values: np.ndarray, bits: int, segment: np.ndarray) -> np.ndarray:
    """Unwrap a rolling counter of ``bits`` bits; the running total restarts at each new ``segment``."""
    mask = (1 << bits) - 1
    v = values.astype(np.int64)
    step = np.empty_like(v)
    if v.size:
        step[0] = v[0]
        step[1:] = (v[1:] - v[:-1]) & mask
        first = np.ones(v.size, dtype=bool)
        first[1:] = segment[1:] != segment[:-1]
        step[first] = v[first]
        total = np.cumsum(step)
        start = np.maximum.accumulate(np.where(first, np.arange(v.size), 0))
        return total - total[start] + step[start]
    return v


def _apply_profile(
    spec: MessageSpec,
    raws: dict[int, _Raw],
    record_index: np.ndarray,
    resets: dict[int, np.ndarray],
) -> dict[str, Column]:
    """Named columns from raw fields: scale/offset, subfields and components, all vectorised."""
    n = record_index.size
    columns: dict[str, Column] = {}
    expanded: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    references: dict[int, list[_Raw]] = {}
    scaled_cache: dict[tuple[int, float | None, float | None], np.ndarray] = {}

    def reference(num: int) -> list[_Raw]:
        if num not in references:
            found = [raws[num]] if num in raws else []
            if num not in raws or not raws[num].valid.all():
                carried = _component_reference(spec, raws, num)
                if carried is not None:
                    found.append(carried)
            references[num] = [r for r in found if r.values.ndim == 1 and _is_numeric(r)]
        return references[num]

    for num, raw in raws.items():
        fspec = spec.fields.get(num)
        if fspec is None:
            columns[f"unknown_{num}"] = Column(raw.values, raw.valid)
            continue
        numeric = _is_numeric(raw)
        values = _scaled(raw.values, fspec.scale, fspec.offset) if numeric else raw.values
        scaled_cache[(id(raw.values), fspec.scale, fspec.offset)] = values
        columns[fspec.name] = Column(values, raw.valid)
        base_rows = np.ones(n, dtype=bool)
        for sub in fspec.subfields:
            match = np.zeros(n, dtype=bool)
            for ref_num, ref_value in sub.refs:
                for ref in reference(ref_num):
                    match |= ref.valid & (ref.values == ref_value)
            match &= base_rows
            if not match.any():
                continue
            base_rows &= ~match
            sub_values = _scaled(raw.values, sub.scale, sub.offset) if numeric else raw.values
            row_ok = match if raw.valid.ndim == 1 else match[:, None]
            _merge_column(columns, sub.name, sub_values, raw.valid & row_ok)
            _expand_components(
                spec, sub.components, raw, match, record_index, resets, expanded, scaled_cache
            )
        _expand_components(
            spec, fspec.components, raw, base_rows, record_index, resets, expanded, scaled_cache
        )

    for name, parts in expanded.items():
        for values, valid in parts:
            direct = columns.get(name)
            if direct is None:
                columns[name] = Column(values, valid)
            elif direct.values.ndim == 1:
                use = valid & ~direct.valid
                merged = np.where(use, values, direct.values) if use.any() else direct.values
                columns[name] = Column(merged, direct.valid | use)
    return columns


def _component_reference(spec: MessageSpec, raws: dict[int, _Raw], target_num: int) -> _Raw | None:
    """Raw value of field ``target_num`` when it is only present inside another field's components.

    Monitoring messages carry ``activity_type`` inside ``current_activity_type_intensity``;
    the FIT SDK resolves the ``cycles`` -> ``steps`` subfield against that value
    (fitparse does not, and keeps reporting ``cycles``, which irisin also keeps).
    """
    for num, raw in raws.items():
        fspec = spec.fields.get(num)
        if fspec is None or raw.valid.ndim != 1:
            continue
        for comp in fspec.components:
            if comp.target_num != target_num or comp.accumulate:
                continue
            source = _component_input(raw)
            if source is None:
                continue
            bits = (source >> np.uint64(comp.bit_offset)) & np.uint64((1 << comp.bits) - 1)
            return _Raw(bits.astype(np.int64), raw.valid, BASE_TYPES[0x86])
    return None


def _merge_column(
    columns: dict[str, Column], name: str, values: np.ndarray, valid: np.ndarray
) -> None:
    existing = columns.get(name)
    if existing is None or existing.values.shape != values.shape:
        columns[name] = Column(values, valid)
        return
    columns[name] = Column(np.where(valid, values, existing.values), valid | existing.valid)


def _expand_components(
    spec: MessageSpec,
    components: tuple[ComponentSpec, ...],
    raw: _Raw,
    rows: np.ndarray,
    record_index: np.ndarray,
    resets: dict[int, np.ndarray],
    expanded: dict[str, list[tuple[np.ndarray, np.ndarray]]],
    scaled_cache: dict[tuple[int, float | None, float | None], np.ndarray],
) -> None:
    if not components or not rows.any():
        return
    whole_width = (
        raw.values.dtype.itemsize * 8
        if raw.values.ndim == 1 and raw.values.dtype.kind == "u"
        else 0
    )
    needs_bits = any(c.bit_offset or c.bits < whole_width or c.accumulate for c in components)
    source = _component_input(raw) if needs_bits or not whole_width else None
    if source is None and (needs_bits or not whole_width):
        return
    available_bits = raw.values.shape[1] * 8 if raw.values.ndim == 2 else None
    valid_rows = raw.valid & rows if raw.valid.ndim == 1 else None
    if valid_rows is None:
        return
    for comp in components:
        if available_bits is not None and comp.bit_offset >= available_bits:
            continue  # the profile describes more bits than the field holds
        target: FieldSpec | None = spec.fields.get(comp.target_num)
        if target is None:
            continue
        if comp.bit_offset == 0 and comp.bits >= whole_width > 0 and not comp.accumulate:
            # the component is the whole field (speed -> enhanced_speed): no bit cutting
            key = (id(raw.values), comp.scale, comp.offset)
            if key not in scaled_cache:
                scaled_cache[key] = _scaled(raw.values, comp.scale, comp.offset)
            expanded.setdefault(target.name, []).append((scaled_cache[key], valid_rows))
            continue
        assert source is not None
        bits = (source >> np.uint64(comp.bit_offset)) & np.uint64((1 << comp.bits) - 1)
        values = bits.astype(np.int64)
        if comp.accumulate:
            sel = np.flatnonzero(valid_rows)
            reset_points = resets.get(comp.target_num, np.zeros(0, dtype=np.int64))
            segment = np.searchsorted(reset_points, record_index[sel], side="right")
            values = values.copy()
            values[sel] = _accumulate(values[sel], comp.bits, segment)
        values = _scaled(values, comp.scale, comp.offset)
        expanded.setdefault(target.name, []).append((values, valid_rows))


# ---------------------------------------------------------------- the whole file


_TIME_FIELD_NAMES = ("timestamp_16",)
_GROUPS_BY_MASK = 64
"""Up to this many distinct layouts, records are grouped by one mask per layout instead of a sort."""


def decode_fit(data: bytes, messages: Collection[str] | None = None) -> DecodedFit:
    """Decode FIT bytes into columnar message tables; never raises for bad bytes.

    ``messages`` limits the full decode to the named message types (others still
    contribute their timestamps, which anchor ``timestamp_16`` and compressed
    headers). ``None`` decodes everything.
    """
    sc = scan(data)
    if sc.not_fit is not None:
        return DecodedFit({}, "not_fit", sc.not_fit, 0, [], 0)
    buf = np.frombuffer(data, dtype=np.uint8)
    n = sc.positions.size
    wanted_nums = (
        None if messages is None else {profile.message_numbers().get(m, -1) for m in messages}
    )

    by_message: dict[int, list[tuple[np.ndarray, dict[int, _Raw]]]] = {}
    ts16: np.ndarray | None = None  # only when some record has timestamp_16; 16 bits suffice
    ts16_valid: np.ndarray | None = None
    groups: list[np.ndarray] = []
    if n:
        layout_of = _same_layout_ids(sc.definitions)
        layout_ids = layout_of[sc.definition_ids]
        present = np.unique(layout_of)
        if present.size == 1:
            groups = [np.arange(n, dtype=index_dtype(n))]  # one layout: no sort
        elif present.size <= _GROUPS_BY_MASK:
            # a few layouts: one pass each, int32 indices, no int64 argsort of every record
            groups = [nonzero_index(layout_ids == g) for g in present]
            groups = [g for g in groups if g.size]
        else:
            order = np.argsort(layout_ids, kind="stable").astype(index_dtype(n))
            bounds = np.flatnonzero(layout_ids[order][1:] != layout_ids[order][:-1]) + 1
            groups = np.split(order, bounds)  # views of ``order``
        del layout_ids
    full = np.zeros(n, dtype=np.int64)  # becomes the records' times (see _resolve_times)
    full_valid = np.zeros(n, dtype=bool)
    if n:
        for group in groups:  # record indices of one layout, ascending
            definition = sc.definitions[int(layout_of[sc.definition_ids[group[0]]])]
            spec = profile.message(definition.global_num)
            ts16_num = next(
                (num for num, f in spec.fields.items() if f.name in _TIME_FIELD_NAMES), None
            )
            wanted = wanted_nums is None or definition.global_num in wanted_nums
            field_nums = (
                None
                if wanted
                else {TIMESTAMP_FIELD} | ({ts16_num} if ts16_num is not None else set())
            )
            raws = _decode_rows(buf, definition, sc.positions[group], field_nums)
            ts = raws.get(TIMESTAMP_FIELD)
            if ts is not None and ts.values.ndim == 1 and ts.values.dtype.kind in "iu":
                full[group] = ts.values
                full_valid[group] = ts.valid
            t16 = raws.get(ts16_num) if ts16_num is not None else None
            if t16 is not None and t16.values.ndim == 1 and t16.values.dtype.kind in "iu":
                if ts16 is None or ts16_valid is None:
                    ts16, ts16_valid = np.zeros(n, dtype=np.uint16), np.zeros(n, dtype=bool)
                ts16[group] = t16.values
                ts16_valid[group] = t16.valid
            if wanted:
                by_message.setdefault(definition.global_num, []).append((group, raws))

    time, time_valid, compressed = _resolve_times(sc, full, full_valid, ts16, ts16_valid)
    tables: dict[str, MessageTable] = {}
    for num in list(by_message):
        spec = profile.message(num)
        record_index, raws = _stack(
            by_message.pop(num)
        )  # popped: each message's raw parts are freed in turn
        columns = _apply_profile(spec, raws, record_index, _accumulator_resets(sc, spec))
        if record_index.size == n:  # every record (ascending, so all in order): views, no copies
            offset, row_time, row_valid, row_compressed = sc.positions, time, time_valid, compressed
        else:
            offset, row_time = sc.positions[record_index], time[record_index]
            row_valid, row_compressed = time_valid[record_index], compressed[record_index]
        if row_compressed.any():  # the table's own time array serves as the column (no copy)
            _merge_column(columns, "timestamp", row_time, row_compressed)
        tables[spec.name] = MessageTable(
            name=spec.name,
            num=num,
            record_index=record_index,
            offset=offset,
            time=row_time,
            time_valid=row_valid,
            columns=columns,
        )
    tables = dict(
        sorted(tables.items(), key=lambda kv: int(kv[1].record_index[0]) if len(kv[1]) else 0)
    )
    damage = sc.damage
    return DecodedFit(
        messages=tables,
        status="partial" if damage else "ok",
        reason=f"{damage.reason} (byte {damage.offset})" if damage else None,
        damage_offset=damage.offset if damage else None,
        segments=sc.segments,
        n_records=n,
    )


def _same_layout_ids(definitions: list[Definition]) -> np.ndarray:
    """For each definition, the id of the first definition with the same layout.

    Some devices (Wahoo ELEMNT) repeat a definition before nearly every
    message; records of identical layouts are decoded together as one group.
    """
    first: dict[tuple[int, bool, tuple[FieldDef, ...], int], int] = {}
    ids = [
        first.setdefault((d.global_num, d.big_endian, d.fields, d.size), d.id) for d in definitions
    ]
    return np.array(ids, dtype=np.min_scalar_type(max(len(ids) - 1, 0)))


def _resolve_times(
    sc: Scan,
    full: np.ndarray,
    full_valid: np.ndarray,
    ts16: np.ndarray | None,
    ts16_valid: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each record's time (FIT s), whether it is known, and whether it came from a compressed header.

    ``full`` and ``full_valid`` are taken over and returned as the time and its
    validity (no copy); work arrays are per compressed or ``timestamp_16``
    record or per anchor, never int64s for every record (see ``MEMORY_FACTOR``).
    """
    compressed = sc.headers >= 0x80
    seg = sc.segments_of_records
    np.logical_and(full_valid, ~compressed, out=full_valid)
    time = full
    if compressed.any():
        fill_compressed(time, full_valid, compressed, sc.headers, seg)
    time_valid = full_valid
    np.logical_or(time_valid, compressed, out=time_valid)  # now: records with a time of their own
    if ts16 is None or ts16_valid is None:
        return time, time_valid, compressed
    anchors = nonzero_index(time_valid)
    for a in range(0, time.size, _TIME_CHUNK):
        rows = np.flatnonzero(ts16_valid[a : a + _TIME_CHUNK] & ~time_valid[a : a + _TIME_CHUNK])
        if rows.size:
            _resolve_ts16_rows(sc, time, time_valid, ts16, anchors, rows + a)
    return time, time_valid, compressed


_TIME_CHUNK = 1 << 16
"""Records per step of the ``timestamp_16`` resolution (its work arrays stay this size)."""


def _resolve_ts16_rows(
    sc: Scan,
    time: np.ndarray,
    time_valid: np.ndarray,
    ts16: np.ndarray,
    anchors: np.ndarray,
    rows: np.ndarray,
) -> None:
    """Times of the ``timestamp_16`` records at ``rows`` (in file order), written into ``time``/``time_valid``.

    ``anchors``: indices of the records with a time of their own. Rows resolve
    from the anchor before them only, so the chunks are independent.
    """
    seg = sc.segments_of_records
    at = np.searchsorted(anchors, rows)  # the first anchor after each row
    before_idx = anchors[np.maximum(at - 1, 0)] if anchors.size else rows
    has_anchor = (at > 0) & (seg[before_idx] == seg[rows])
    from16 = resolve_timestamp_16(time[before_idx], ts16[rows].astype(np.int64))
    # past the next record that carries its own time by more than an hour: noise, not a time
    after_idx = anchors[np.minimum(at, anchors.size - 1)] if anchors.size else rows
    has_next = (at < anchors.size) & (seg[after_idx] == seg[rows])
    late = has_next & (from16 > time[after_idx] + TIMESTAMP_16_BEHIND_S)
    time[rows] = from16
    time_valid[rows[has_anchor]] = True
    if sc.damage is not None:
        # before the damage no later record confirms the framing: the same hour, from the record before
        previous = np.maximum(rows - 1, 0)
        unconfirmed = ~has_next & (seg[rows] == seg[-1]) & (rows > 0) & time_valid[previous]
        late |= unconfirmed & (from16 > time[previous] + TIMESTAMP_16_BEHIND_S)
    time_valid[rows[late]] = False


def _accumulator_resets(sc: Scan, spec: MessageSpec) -> dict[int, np.ndarray]:
    """Record indices where fitparse restarts each accumulated component of ``spec``: every
    definition of the message that holds a field with such a component (and every new chained file)."""
    targets: dict[int, set[int]] = {}
    for fnum, fspec in spec.fields.items():
        for comp in fspec.components:
            if comp.accumulate:
                targets.setdefault(comp.target_num, set()).add(fnum)
    if not targets:
        return {}
    out: dict[int, np.ndarray] = {}
    for target, source_fields in targets.items():
        points = [
            int(first)
            for d, first in zip(sc.definitions, sc.definition_first_record, strict=True)
            if d.global_num == spec.num and any(f.num in source_fields for f in d.fields)
        ]
        out[target] = np.array(sorted(points), dtype=np.int64)
    return out
