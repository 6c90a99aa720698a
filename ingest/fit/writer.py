"""A small FIT writer: definitions, data messages, compressed timestamps, CRCs.

It exists so tests and the demo generator can produce FIT files with known
contents (including deliberately odd ones: big endian, header CRC 0x0000,
``timestamp_16`` a few seconds behind its anchor, chained files). Values are
written raw, exactly as given (no scale/offset); ``None`` writes the field's
invalid sentinel.

Example::

    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "serial_number", "time_created"])
    w.write(0, [32, 1, 1234, 1_000_000_000])
    data = w.to_bytes()
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.fit import profile
from ingest.fit.basetypes import BASE_TYPES, BYTE, STRING, BaseType
from ingest.fit.crc import crc16

_STRUCT_CODES = {
    "u1": "B",
    "i1": "b",
    "u2": "H",
    "i2": "h",
    "u4": "I",
    "i4": "i",
    "u8": "Q",
    "i8": "q",
    "f4": "f",
    "f8": "d",
}


@dataclass(frozen=True)
class FieldLayout:
    """One field of a definition the writer emits: number, base type and element count."""

    num: int
    base: BaseType
    count: int = 1

    @property
    def size(self) -> int:
        return self.base.size * self.count


@dataclass(frozen=True)
class _LocalDefinition:
    message_num: int
    fields: tuple[FieldLayout, ...]
    dev_sizes: tuple[int, ...]
    big_endian: bool


class FitWriter:
    """Builds one FIT file in memory; ``to_bytes`` adds the header and both CRCs."""

    def __init__(
        self,
        *,
        big_endian: bool = False,
        header_size: int = 14,
        header_crc: bool = True,
        protocol_version: int = 0x20,
        profile_version: int = 2093,
    ) -> None:
        self.big_endian = big_endian
        self.header_size = header_size
        self.header_crc = header_crc
        self.protocol_version = protocol_version
        self.profile_version = profile_version
        self._body = bytearray()
        self._locals: dict[int, _LocalDefinition] = {}

    def define(
        self,
        local: int,
        message: str | int,
        fields: Sequence[str | int | FieldLayout | tuple[str, int]],
        *,
        developer_field_sizes: Sequence[int] = (),
    ) -> None:
        """Write a definition message for local message ``local``.

        ``fields`` are profile field names (base type from the profile), ``(name,
        count)`` for arrays and strings (count = bytes for strings), or explicit
        ``FieldLayout``s. ``developer_field_sizes`` adds developer fields of those
        sizes (written as zero bytes; readers must skip them).
        """
        num = message if isinstance(message, int) else profile.message_numbers()[message]
        spec = profile.message(num)
        layouts = []
        for f in fields:
            if isinstance(f, FieldLayout):
                layouts.append(f)
                continue
            name, count = (f, 1) if not isinstance(f, tuple) else f
            fnum = name if isinstance(name, int) else spec.field_num(name)
            if fnum is None:
                raise KeyError(f"message {spec.name!r} has no field {name!r}")
            base = BASE_TYPES[profile.base_type_number(num, fnum)]
            layouts.append(FieldLayout(fnum, base, count))
        endian = ">" if self.big_endian else "<"
        header = 0x40 | (0x20 if developer_field_sizes else 0) | (local & 0x0F)
        out = bytearray([header, 0, 1 if self.big_endian else 0])
        out += struct.pack(endian + "HB", num, len(layouts))
        for lay in layouts:
            out += bytes([lay.num, lay.size, lay.base.number])
        if developer_field_sizes:
            out.append(len(developer_field_sizes))
            for i, size in enumerate(developer_field_sizes):
                out += bytes([i, size, 0])
        self._body += out
        self._locals[local] = _LocalDefinition(
            num, tuple(layouts), tuple(developer_field_sizes), self.big_endian
        )

    def write(
        self, local: int, values: Sequence[object], *, time_offset: int | None = None
    ) -> None:
        """Write one data message; ``time_offset`` (0-31) uses a compressed-timestamp header."""
        definition = self._locals[local]
        if time_offset is None:
            out = bytearray([local & 0x0F])
        else:
            out = bytearray([0x80 | ((local & 0x03) << 5) | (time_offset & 0x1F)])
        endian = ">" if definition.big_endian else "<"
        for lay, value in zip(definition.fields, values, strict=True):
            out += _encode(lay, value, endian)
        out += bytes(sum(definition.dev_sizes))
        self._body += out

    def write_many(
        self,
        local: int,
        columns: Sequence[np.ndarray],
        *,
        time_offsets: np.ndarray | None = None,
    ) -> None:
        """Write many data messages at once, one per row of the given column arrays.

        Columns follow the definition's field order; numeric fields only (one
        value per field). A masked entry (``numpy.ma``) writes the invalid
        sentinel. ``time_offsets`` (0-31 per row) uses compressed-timestamp
        headers. Vectorised: the demo generator writes weeks of minutes this way.
        """
        self._body += self.encode_many(local, columns, time_offsets=time_offsets).tobytes()

    def encode_many(
        self,
        local: int,
        columns: Sequence[np.ndarray],
        *,
        time_offsets: np.ndarray | None = None,
    ) -> np.ndarray:
        """The records ``write_many`` would append, as a structured array, without appending them.

        A caller that interleaves two local messages (a full timestamp each hour,
        ``timestamp_16`` between) encodes each once and appends slices with ``raw``.
        """
        definition = self._locals[local]
        endian = ">" if definition.big_endian else "<"
        n = len(columns[0]) if columns else 0
        names = ["header"] + [f"f{i}" for i in range(len(definition.fields))] + ["dev"]
        formats = ["u1"] + [
            endian + lay.base.dtype if lay.base.size > 1 else lay.base.dtype
            for lay in definition.fields
        ]
        formats.append(f"V{sum(definition.dev_sizes)}" if definition.dev_sizes else "V0")
        rows = np.zeros(n, dtype=np.dtype({"names": names, "formats": formats}, align=False))
        if time_offsets is None:
            rows["header"] = local & 0x0F
        else:
            rows["header"] = 0x80 | ((local & 0x03) << 5) | (np.asarray(time_offsets) & 0x1F)
        for i, (lay, values) in enumerate(zip(definition.fields, columns, strict=True)):
            if lay.count != 1 or lay.base is STRING or lay.base is BYTE and lay.size != 1:
                raise ValueError("write_many writes one-value numeric fields only")
            sentinel = np.nan if lay.base.is_float else lay.base.invalid
            as_type = np.float64 if lay.base.is_float else np.int64
            if isinstance(values, np.ma.MaskedArray):
                rows[f"f{i}"] = np.ma.filled(values.astype(as_type), sentinel)
            else:
                rows[f"f{i}"] = np.asarray(values, dtype=as_type)
        return rows

    def raw(self, data: bytes) -> None:
        """Append bytes as they are (for damaged-file tests)."""
        self._body += data

    def to_bytes(self) -> bytes:
        header = bytearray([self.header_size, self.protocol_version])
        header += struct.pack("<HI", self.profile_version, len(self._body)) + b".FIT"
        if self.header_size >= 14:
            header += struct.pack("<H", crc16(bytes(header)) if self.header_crc else 0)
            header += bytes(self.header_size - 14)
        content = bytes(header) + bytes(self._body)
        return content + struct.pack("<H", crc16(content))


def _encode(lay: FieldLayout, value: object, endian: str) -> bytes:
    base = lay.base
    if base is STRING:
        text = b"" if value is None else str(value).encode("utf-8")
        return text[: lay.size].ljust(lay.size, b"\0")
    if base is BYTE:
        if value is None:
            return b"\xff" * lay.size
        assert isinstance(value, (bytes, bytearray, list, tuple)), (
            f"byte field {lay.num} needs bytes"
        )
        return bytes(value)[: lay.size].ljust(lay.size, b"\0")
    code = _STRUCT_CODES[base.dtype]
    items = (
        list(value)
        if isinstance(value, (list, tuple))
        else [value] * lay.count
        if lay.count > 1 and value is None
        else [value]
    )
    if len(items) != lay.count:
        raise ValueError(f"field {lay.num} needs {lay.count} values, got {len(items)}")
    out = b""
    for item in items:
        if item is None:
            out += (
                struct.pack(endian + code, float("nan"))
                if base.is_float
                else struct.pack(endian + code, base.invalid)
            )
        else:
            out += struct.pack(endian + code, item)
    return out


def chain(*files: bytes) -> bytes:
    """Several FIT files back to back, as some devices and tools write them."""
    return b"".join(files)


def degenerate_fit(size: int, shape: str = "one") -> bytes:
    """A FIT file of about ``size`` bytes that costs a decoder the most per byte (tests, benchmarks).

    Zero-field definitions and one-byte data records (the header byte only):
    ``one``, one monitoring definition and one long run of records; ``two``,
    a monitoring and a record definition in turn (two tables, no run);
    ``compressed``, compressed-timestamp headers with changing offsets.
    """
    w = FitWriter()
    w.define(0, "monitoring", [])
    if shape == "one":
        w.raw(bytes(size))
    elif shape == "two":
        w.define(1, "record", [])
        w.raw(bytes([0, 1]) * (size // 2))
    elif shape == "compressed":
        w.raw((np.arange(size) % 32 | 0x80).astype(np.uint8).tobytes())
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return w.to_bytes()
