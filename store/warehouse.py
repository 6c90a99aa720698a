"""The DuckDB warehouse: views over the lake, tables of the derived results.

Lake views read the lake's part files by glob: parts left by a crash are
removed by ``Lake.recover`` at the start of every run, before the refresh.
The file is rebuilt under a temporary name and renamed into place, so a reader
(the dashboard, a coordinator's SQL client) sees either the previous warehouse
or the new one, and a crash mid-refresh leaves the previous one intact.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from irisin.schema import LAKE_TABLES, TABLES
from store.derived import DerivedStore
from store.lake import MANIFEST, Lake

WAREHOUSE_FILE = "warehouse.duckdb"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _empty_table_sql(con: duckdb.DuckDBPyConnection, name: str) -> None:
    empty = TABLES[name].empty_table()  # noqa: F841  (read by DuckDB's replacement scan)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM empty")


def refresh_warehouse(lake: Lake, derived: DerivedStore, target: Path) -> Path:
    """Rebuild the warehouse file at ``target`` from the lake and derived tables."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    con = duckdb.connect(str(tmp))
    try:
        con.execute("BEGIN TRANSACTION")
        for name in (*LAKE_TABLES, MANIFEST):
            if lake.committed_parts(name):
                glob = _sql_str(f"{lake.root}/{name}/*/*.parquet")
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({glob}, hive_partitioning = false)")
            else:
                _empty_table_sql(con, name)
        for name in derived.root.glob("*.parquet"):
            con.execute(
                f"CREATE TABLE {name.stem} AS SELECT * FROM read_parquet({_sql_str(str(name.resolve()))})"
            )
        if not derived.exists("weekly"):
            _empty_table_sql(con, "weekly")
        con.execute("COMMIT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, target)
    Path(f"{tmp}.wal").unlink(missing_ok=True)
    return target


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for reading (the dashboard's only access)."""
    return duckdb.connect(str(path), read_only=True)
