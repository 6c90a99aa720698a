"""FIT base types: numpy dtype, size and the "invalid" sentinel of each.

A field whose raw value equals its base type's sentinel has no value (null).
Floats are invalid when NaN, ``*z`` types when zero, strings when empty and
byte arrays when every byte is 0xFF. An unknown base type number, or a field
whose size is not a multiple of its base type, is read as bytes, as the FIT
SDK does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class BaseType:
    """One FIT base type."""

    number: int
    name: str
    dtype: str
    """numpy type code without byte order, e.g. ``u2``."""
    invalid: int | None
    """raw value meaning "no value"; None for float (NaN), string and byte."""
    size: int
    """bytes per element."""

    @property
    def is_float(self) -> bool:
        return self.dtype[0] == "f"


BYTE = BaseType(0x0D, "byte", "u1", None, 1)
STRING = BaseType(0x07, "string", "u1", None, 1)

BASE_TYPES: dict[int, BaseType] = {
    b.number: b
    for b in (
        BaseType(0x00, "enum", "u1", 0xFF, 1),
        BaseType(0x01, "sint8", "i1", 0x7F, 1),
        BaseType(0x02, "uint8", "u1", 0xFF, 1),
        BaseType(0x83, "sint16", "i2", 0x7FFF, 2),
        BaseType(0x84, "uint16", "u2", 0xFFFF, 2),
        BaseType(0x85, "sint32", "i4", 0x7FFFFFFF, 4),
        BaseType(0x86, "uint32", "u4", 0xFFFFFFFF, 4),
        STRING,
        BaseType(0x88, "float32", "f4", None, 4),
        BaseType(0x89, "float64", "f8", None, 8),
        BaseType(0x0A, "uint8z", "u1", 0, 1),
        BaseType(0x8B, "uint16z", "u2", 0, 2),
        BaseType(0x8C, "uint32z", "u4", 0, 4),
        BYTE,
        BaseType(0x8E, "sint64", "i8", 0x7FFFFFFFFFFFFFFF, 8),
        BaseType(0x8F, "uint64", "u8", 0xFFFFFFFFFFFFFFFF, 8),
        BaseType(0x90, "uint64z", "u8", 0, 8),
    )
}
"""Base types by the number written in definition messages (fitparse's table: an
unlisted number, e.g. one without the endian bit, is read as bytes)."""


@cache
def base_type_for(number: int, size: int) -> BaseType:
    """The base type to decode a field with, falling back to bytes where it cannot apply."""
    base = BASE_TYPES.get(number, BYTE)
    if size % base.size:
        return BYTE
    return base
