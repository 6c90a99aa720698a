"""The DuckDB warehouse: views over the lake and over a snapshot of the derived tables.

Lake views read the list of parts that count at refresh time
(``Lake.committed_parts``): fresh batches with their manifest part (the commit
mark) and the current compacted generations. A part a live run has written but
not committed yet, or one a crash or a killed compaction left, never shows, and
the list is bounded by buckets x months once the lake is compacted. The lake
sweeps what a compaction replaced only after this refresh, so the new
warehouse never names a swept file.
On object storage (``[store] url``) DuckDB cannot read the objects itself
(``store.objects`` says why), so lake parts and derived tables are copied
into the warehouse file through pyarrow, under the same views.
Derived tables are views too, over hard links to the derived Parquet files
taken at refresh time: the derived store replaces its files (a new inode per
write), so the linked snapshot stays as it was until the next refresh, and
nothing is copied. The file is rebuilt under a temporary name and renamed
into place, so a reader (the dashboard, a coordinator's SQL client) sees
either the previous warehouse or the new one, and a crash mid-refresh leaves
the previous one intact. The snapshot of the previous warehouse is kept until
the next refresh, for readers still holding it open.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import duckdb

from config.schema import LAKE_TABLES, TABLES
from store.atomic import publish, temporary_name
from store.derived import DerivedStore
from store.lake import BUCKET_KEY, MANIFEST, RETIREMENTS, Lake
from store.objects import parquet_source

SNAPSHOTS_KEPT = 2
"""Derived-table snapshots kept: the current warehouse's and the one before (readers may still use it)."""


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _empty_table_sql(con: duckdb.DuckDBPyConnection, name: str) -> None:
    empty = TABLES[name].empty_table()  # noqa: F841  (read by DuckDB's replacement scan)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM empty")


def _has_generation(parts: list[str]) -> bool:
    """Whether a list of manifest parts holds a compacted generation's (in a ``bucket=`` folder)."""
    return any(p.rsplit("/", 2)[-2].startswith(BUCKET_KEY) for p in parts)


def snapshots_folder(target: Path) -> Path:
    """Where the derived-table snapshots of the warehouse at ``target`` live."""
    return target.with_name(f".{target.name}.tables")


def _snapshot_derived(derived: DerivedStore, folder: Path) -> list[Path]:
    """Link every derived table file into ``folder`` (a copy where the filesystem cannot link)."""
    folder.mkdir(parents=True)
    linked = []
    for source in sorted(derived.root.glob("*.parquet")):
        link = folder / source.name
        try:
            os.link(source, link)
        except OSError:
            shutil.copy2(source, link)
        linked.append(link)
    return linked


def _copy_derived(con: duckdb.DuckDBPyConnection, derived: DerivedStore) -> None:
    """Derived tables on object storage, copied into the warehouse (small: rows per participant-week or -day).

    A copy is its own snapshot, as the hard links are for a local store.
    """
    for name in derived.tables():
        frame = derived.read(name)
        if frame is None:  # gone since the listing: the next refresh has the new one
            continue
        rows = frame.to_arrow()  # noqa: F841  (read by DuckDB's replacement scan)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM rows")


def _drop_old_snapshots(root: Path) -> None:
    """Keep the newest ``SNAPSHOTS_KEPT`` snapshots (names sort by creation time)."""
    for old in sorted(p for p in root.iterdir() if p.is_dir())[:-SNAPSHOTS_KEPT]:
        shutil.rmtree(old, ignore_errors=True)


def _retired_sql(con: duckdb.DuckDBPyConnection, lake: Lake) -> str | None:
    """The lake's retirements as a warehouse table (``retired``), or None when there are none."""
    retired = lake.retirements().to_arrow()  # noqa: F841  (read by DuckDB's replacement scan)
    if not len(retired):
        return None
    con.execute(f"CREATE TABLE {RETIREMENTS} AS SELECT * FROM retired")
    return RETIREMENTS


def refresh_warehouse(lake: Lake, derived: DerivedStore, target: Path) -> Path:
    """Rebuild the warehouse file at ``target`` from the lake and derived tables."""
    target = Path(target).resolve()
    # with the store on object storage nothing else makes the local store folder
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    snapshot = snapshots_folder(target) / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    con = duckdb.connect(str(tmp))
    try:
        con.execute("BEGIN TRANSACTION")
        retired = _retired_sql(con, lake)
        batch = "regexp_extract(filename, '([^/]+)[.]parquet$', 1)"
        for name in (*LAKE_TABLES, MANIFEST):
            parts = lake.committed_parts(name)
            if not parts:
                _empty_table_sql(con, name)
                continue
            source = parquet_source(con, name, parts, lake.fs)
            if name == MANIFEST:
                # a generation's manifest part carries each row's batch id; a fresh part's is its name
                has_gen = _has_generation(parts)
                row_batch = f"coalesce(t.batch_id, {batch})" if has_gen else batch
                drop = "filename, batch_id" if has_gen else "filename"
                status = (
                    f" REPLACE (CASE WHEN EXISTS (SELECT 1 FROM {retired} r WHERE"
                    f" r.participant_id = t.participant_id AND r.batch_id = {row_batch}"
                    " AND r.file_id = t.file_id) THEN 'retired' ELSE status END AS status)"
                    if retired
                    else ""
                )
                con.execute(
                    f"CREATE VIEW {name} AS SELECT * EXCLUDE ({drop}){status} FROM {source}"
                )
                continue
            # none of the rows of a retired file in a part that held it (store.lake.Lake.retired_in)
            gone = " OR ".join(
                f"(filename = {_sql_str(p)} AND file_id IN ({', '.join(_sql_str(f) for f in ids)}))"
                for p, ids in lake.retired_in(parts).items()
            )
            where = f" WHERE NOT ({gone})" if gone else ""
            con.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (filename) FROM {source}{where}")
        if derived.remote:
            _copy_derived(con, derived)
        else:
            for table in _snapshot_derived(derived, snapshot):
                con.execute(
                    f"CREATE VIEW {table.stem} AS SELECT * FROM read_parquet({_sql_str(str(table))})"
                )
        if not derived.exists("weekly"):
            _empty_table_sql(con, "weekly")
        con.execute("COMMIT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        shutil.rmtree(snapshot, ignore_errors=True)
        raise
    con.close()
    Path(f"{tmp}.wal").unlink(missing_ok=True)
    publish(tmp, target)
    if snapshot.parent.is_dir():
        _drop_old_snapshots(snapshot.parent)
    return target


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for reading (the dashboard's only access)."""
    return duckdb.connect(str(path), read_only=True)
