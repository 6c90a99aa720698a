"""Casting a table to its canonical schema (``config.schema``): the one place it is done.

Every store write conforms what it writes (lake parts, the manifest,
retirements, compaction, the weekly derived table), and readers conform their
own tables so that a file that cannot be conformed is held by itself.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl
import pyarrow as pa


class SchemaError(ValueError):
    """A frame does not fit its canonical table."""


PIPELINE_FILLED: tuple[str, ...] = ("participant_id", "file_id")
"""Columns the ingest pipeline fills in when a reader leaves them out (a reader knows neither,
except a Fitabase export, whose rows carry their own ``participant_id``)."""


def conform(
    table: pa.Table | pl.DataFrame, schema: pa.Schema, *, filled_later: Collection[str] = ()
) -> pa.Table:
    """``table`` with exactly the canonical columns of ``schema``, in its order and types.

    The one place a table is cast to its canonical schema: every store write
    (lake parts, the manifest, retirements, compaction, the weekly derived table)
    goes through it, and readers call it on their own tables so that a file that
    cannot be conformed is held by itself. Extra columns are dropped; missing
    nullable columns are filled with nulls; a missing required column, a null in
    a required column or a value the canonical type cannot hold (a cast that
    would lose it) is a ``SchemaError`` naming the table and the column, so a
    reader bug cannot write a wrong or half-empty table. Columns in
    ``filled_later`` (see ``PIPELINE_FILLED``) are left out when absent, for
    whoever fills them before the store conforms the table again.
    """
    if isinstance(table, pl.DataFrame):
        table = table.to_arrow()
    name = schema.metadata.get(b"table", b"?").decode() if schema.metadata else "?"
    have = set(table.column_names)
    missing = [
        f.name
        for f in schema
        if f.name not in have and not f.nullable and f.name not in filled_later
    ]
    if missing:
        raise SchemaError(f"{name}: missing required columns {missing}; got {table.column_names}")
    arrays: list[pa.Array | pa.ChunkedArray] = []
    fields: list[pa.Field] = []
    for f in schema:
        if f.name in have:
            col = _cast(table.column(f.name), f, name)
            if not f.nullable and col.null_count:
                raise SchemaError(f"{name}: column {f.name!r} has {col.null_count} nulls")
        elif f.name in filled_later:
            continue
        else:
            col = pa.nulls(table.num_rows, f.type)
        arrays.append(col)
        fields.append(f)
    if len(fields) == len(schema):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema.metadata))


def _cast(column: pa.ChunkedArray, field: pa.Field, table: str) -> pa.ChunkedArray:
    """``column`` as ``field``'s type; a ``SchemaError`` naming the column when a value would not survive."""
    if column.type == field.type:
        return column
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaError(
            f"{table}: column {field.name!r} is {column.type}, which cannot be {field.type}: {exc}"
        ) from exc
