"""Where a store location is: the local disk or S3-compatible object storage.

A location is a string: a local path, or ``s3://bucket/prefix``. Object
storage is reached through ``pyarrow.fs``, which takes the endpoint and the
credentials from the standard ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION`` environment variables (the
study's configuration never holds them).

DuckDB reads local parts with ``read_parquet``. For object storage its
``httpfs`` extension would be the direct way, but the extension is not part
of the DuckDB wheel: ``INSTALL httpfs`` downloads it from DuckDB's extension
site, which a machine without that access (this project's CI among them)
cannot reach, and the PyPI packages of DuckDB extensions trail the DuckDB
release in use. So parts on object storage are read by pyarrow and handed to
DuckDB as Arrow tables (``parquet_source``): the same SQL runs over both.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

FILENAME = "filename"
"""The column naming each row's part, as DuckDB's ``read_parquet(..., filename = true)`` adds it."""


def is_remote(location: str | Path) -> bool:
    """Whether ``location`` is on object storage (an ``s3://`` URL)."""
    return str(location).startswith("s3://")


def filesystem_of(location: str | Path) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, root path inside it)`` for a store location.

    A local path is resolved to an absolute one; an ``s3://bucket/prefix``
    URL gives an ``S3FileSystem`` configured from the ``AWS_*`` environment
    and the root ``bucket/prefix``.
    """
    text = str(location)
    if is_remote(text):
        fs, root = pafs.FileSystem.from_uri(text)
        return fs, root.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(text).resolve())


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_source(
    con: duckdb.DuckDBPyConnection,
    name: str,
    parts: list[str],
    fs: pafs.FileSystem,
) -> str:
    """A DuckDB ``FROM`` item (alias ``t``) over the Parquet ``parts``, with a ``filename`` column.

    Local parts are read in place by ``read_parquet`` (columns united by
    name). Parts on object storage are read one at a time by pyarrow into the
    table ``_parts_<name>`` of ``con``, which gains the columns a later part
    adds (rows of parts without them have nulls), so memory holds one part at
    a time and the rows stay in the connection's database (a copy, since
    DuckDB cannot reach the objects itself). Each object is opened once.
    """
    if isinstance(fs, pafs.LocalFileSystem):
        listed = "[" + ", ".join(_sql_str(p) for p in parts) + "]"
        return f"read_parquet({listed}, hive_partitioning = false, union_by_name = true, filename = true) t"
    staging = f"_parts_{name}"
    columns: set[str] = set()
    for path in parts:  # one open (one footer and one data read) per object
        with fs.open_input_file(path) as handle:
            table = pq.read_table(handle)
        table = table.append_column(FILENAME, pa.array([path] * table.num_rows, pa.string()))
        part = table  # noqa: F841  (read by DuckDB's replacement scan)
        if not columns:
            con.execute(f"CREATE OR REPLACE TABLE {staging} AS SELECT * FROM part")
        else:
            # a column this part adds (parts written by older versions lack newer ones)
            for column, kind, *_ in con.execute("DESCRIBE SELECT * FROM part").fetchall():
                if column not in columns:
                    con.execute(f'ALTER TABLE {staging} ADD COLUMN "{column}" {kind}')
            con.execute(f"INSERT INTO {staging} BY NAME SELECT * FROM part")
        columns.update(table.column_names)
    return f"{staging} t"


def describe_store(url: str | None, study_folder: Path) -> str:
    """One line for ``irisin check``: where the store is, and for object storage whether it answers.

    The bucket is listed once (no write), so a wrong endpoint, bucket or key
    shows here rather than in the middle of a nightly.
    """
    if url is None:
        return f"store: {study_folder / 'store'} and {study_folder / 'runs'} (in the study folder)"
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip() or "AWS (AWS_ENDPOINT_URL unset)"
    fs, root = filesystem_of(url)
    bucket = root.split("/", 1)[0]
    try:
        info = fs.get_file_info(bucket)
    except OSError as exc:
        raise OSError(f"[store] url = {url!r} at {endpoint}: cannot reach it ({exc})") from None
    if info.type == pafs.FileType.NotFound:
        raise OSError(f"[store] url = {url!r} at {endpoint}: no bucket {bucket!r} there")
    return (
        f"store: {url} at {endpoint} (region {os.environ.get('AWS_REGION', '')}); "
        "lake, derived tables and run records there; warehouse, fingerprints and quarantine in the study folder"
    )
