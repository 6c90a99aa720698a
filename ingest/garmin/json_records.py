"""Turn a Garmin JSON array of objects into typed columns, without a loop per record.

Garmin's JSON files hold hundreds of objects with dozens of keys each, most
of which irisin does not need (stress curves, body battery). The fast path
hands the parsed list to Arrow with only the wanted keys in the schema:
absent keys become nulls and extra keys are ignored, all in C. When a value
has the wrong JSON type (a number written as a string, an object where a
number belongs) Arrow refuses the whole list; the slow path then infers
the wanted columns with polars (one small dict per object, on this path
only) and casts them, counting the values that could not be read so the
manifest says how many were lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from ingest.contract import TerminalInputError
from ingest.salvage import without_bom


class GarminFormatError(TerminalInputError):
    """A Garmin export member is not what its name promises; the message names the file and the problem."""


def load_json(data: bytes, name: str) -> Any:
    """Parse JSON bytes, or raise ``GarminFormatError`` naming ``name`` and where parsing stopped."""
    try:
        return orjson.loads(without_bom(data))
    except orjson.JSONDecodeError as exc:
        raise GarminFormatError(f"{name}: not valid JSON ({exc})") from None


@dataclass
class RecordColumns:
    """The wanted columns of a list of JSON objects, and how many values had to be dropped."""

    frame: pl.DataFrame
    unreadable: dict[str, int] = field(default_factory=dict)
    """Per key: values present in the file but of a type that cannot be read as the column's type."""


def records_to_columns(
    records: list[Any], fields: Mapping[str, pa.DataType], name: str
) -> RecordColumns:
    """Columns ``fields`` (JSON key -> Arrow type) of ``records``; absent keys read as null.

    Raises ``GarminFormatError`` when an element is not a JSON object.
    Objects carrying a ``typeKey`` (Garmin's wrapper for enumerations such as
    ``activityType``) are read as that key where a string is wanted.
    """
    schema = pa.schema([pa.field(k, t) for k, t in fields.items()])
    try:
        table = pa.Table.from_pylist(records, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, AttributeError):
        return _columns_with_coercion(records, fields, name)
    return RecordColumns(frame=pl.from_arrow(table))  # type: ignore[arg-type]


def _columns_with_coercion(
    records: list[Any], fields: Mapping[str, pa.DataType], name: str
) -> RecordColumns:
    """Slow path: infer the wanted columns, then cast them, counting what does not cast."""
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise GarminFormatError(
            f"{name}: element {bad} is a JSON {type(records[bad]).__name__}, expected an object"
        )
    # Keep only the wanted keys, so a key irisin ignores (stress curves, body battery) cannot
    # make the whole file unreadable by changing shape between objects.
    wanted = [{key: record.get(key) for key in fields} for record in records]
    try:
        raw = pl.DataFrame(wanted, infer_schema_length=None, strict=False)
    except Exception as exc:  # polars raises several types for irreconcilable shapes
        raise GarminFormatError(f"{name}: objects have incompatible shapes ({exc})") from None

    columns: list[pl.Series] = []
    unreadable: dict[str, int] = {}
    for key, arrow_type in fields.items():
        target = pl.from_arrow(pa.array([], arrow_type)).dtype  # type: ignore[union-attr]
        source = raw.get_column(key)
        if isinstance(source.dtype, pl.Struct) and "typeKey" in {
            f.name for f in source.dtype.fields
        }:
            source = source.struct.field("typeKey").alias(key)
        if isinstance(source.dtype, pl.Struct | pl.List | pl.Array):
            cast = pl.Series(key, [None] * raw.height, dtype=target)
        else:
            cast = source.cast(target, strict=False)
        lost = (source.is_not_null() & cast.is_null()).sum()
        if lost:
            unreadable[key] = int(lost)
        columns.append(cast)
    return RecordColumns(frame=pl.DataFrame(columns), unreadable=unreadable)
