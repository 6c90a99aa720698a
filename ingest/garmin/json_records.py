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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from ingest.contract import TerminalInputError
from ingest.salvage import Dropped, quote, without_bom


class GarminFormatError(TerminalInputError):
    """A Garmin export member is not what its name promises; the message names the file and the problem."""


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
"""A JSON string (skipped whole, so brackets inside it do not count) or a bracket."""
_SEPARATORS = re.compile(rb"[\s,]*")


@dataclass
class LoadedArray:
    """A Garmin JSON document, and what was lost reading it when it did not parse whole."""

    document: Any
    dropped: Dropped = field(default_factory=Dropped)
    cut: str | None = None
    """Set when the file ends inside its array: what was kept is what came before."""

    def notes(self) -> dict[str, Any]:
        return {**self.dropped.notes(), **({"cut": self.cut} if self.cut else {})}


def load_array(data: bytes, name: str, wrapper_key: str | None = None) -> LoadedArray:
    """A JSON array of objects; when it does not parse whole, every object of it that parses alone.

    A Garmin file is hundreds of independent records (days, activities): one
    damaged byte costs the record it is in, counted in the notes with the
    first examples, not the file. ``wrapper_key``: the records sit in the
    array under this key of the root array's first object
    (``summarizedActivitiesExport``); a root array of records is also
    accepted. A file that parses whole is read exactly as before. Raises
    ``GarminFormatError`` when no record can be read.
    """
    raw = without_bom(data)
    try:
        return LoadedArray(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        error = f"{name}: not valid JSON ({exc})"
    start = _records_start(raw, wrapper_key)
    if start is None:
        raise GarminFormatError(error)
    records, dropped, cut = _salvage_objects(raw, start)
    if not records:
        raise GarminFormatError(error)
    document: Any = records
    if wrapper_key is not None and raw.find(f'"{wrapper_key}"'.encode()) >= 0:
        document = [{wrapper_key: records}]
    return LoadedArray(document, dropped, cut)


def _records_start(raw: bytes, wrapper_key: str | None) -> int | None:
    """Offset of the ``[`` that opens the array of records, or None."""
    if wrapper_key is not None:
        key = raw.find(f'"{wrapper_key}"'.encode())
        if key >= 0:
            found = re.compile(rb"\s*:\s*\[").match(raw, key + len(wrapper_key) + 2)
            return found.end() - 1 if found else None
    stripped = len(raw) - len(raw.lstrip())
    return stripped if raw[stripped : stripped + 1] == b"[" else None


def _salvage_objects(raw: bytes, start: int) -> tuple[list[Any], Dropped, str | None]:
    """The elements of the array opening at ``raw[start]``, each parsed alone; junk between counted."""
    dropped = Dropped()
    records: list[Any] = []
    depth = 0
    element_start = 0
    previous_end = start + 1
    for match in _TOKEN.finditer(raw, start + 1):
        bracket = match.group()[0]
        if bracket == 0x22:  # a string: its content is not structure
            continue
        if bracket in b"[{":
            if depth == 0:
                _count_junk(raw, previous_end, match.start(), dropped)
                element_start = match.start()
            depth += 1
            continue
        if depth == 0:
            if bracket == 0x5D:  # the array's own "]"
                _count_junk(raw, previous_end, match.start(), dropped)
                return records, dropped, None
            continue  # a stray "}" between records: counted with the junk around it
        depth -= 1
        if depth == 0:
            span = raw[element_start : match.end()]
            try:
                records.append(orjson.loads(span))
            except orjson.JSONDecodeError:
                dropped.add(1, [f"byte {element_start}: not a JSON record {quote(span)}"])
            previous_end = match.end()
    cut = f"the file ends mid-record at byte {len(raw)}, after {len(records)} records"
    return records, dropped, cut


def _count_junk(raw: bytes, begin: int, end: int, dropped: Dropped) -> None:
    between = raw[begin:end]
    if _SEPARATORS.fullmatch(between) is None:
        dropped.add(1, [f"byte {begin}: not a JSON record {quote(between.strip())}"])


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
        elif target == pl.Boolean and source.dtype == pl.String:
            # polars cannot cast text to Boolean: "true"/"false" (any case) are read, the rest is lost
            text = pl.col(key).str.strip_chars().str.to_lowercase()
            truth = pl.when(text == "true").then(True).when(text == "false").then(False)
            cast = source.to_frame().select(truth.alias(key)).to_series()
        else:
            cast = source.cast(target, strict=False)
        lost = (source.is_not_null() & cast.is_null()).sum()
        if lost:
            unreadable[key] = int(lost)
        columns.append(cast)
    return RecordColumns(frame=pl.DataFrame(columns), unreadable=unreadable)
