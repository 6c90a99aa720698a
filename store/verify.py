"""Finding damage in a study's store, and naming it.

Raw files are the source of truth: the lake is rebuilt from them and the
derived tables from the lake. This module only looks; ``store.repair`` acts
on what it finds. It checks:

* every lake part (data and manifest): its Parquet footer, and every page
  decoded, so a truncated or overwritten part is found whatever the damage;
* the manifest against the lake: a batch whose manifest lists rows of a
  table needs that table's part, and a data part needs its manifest part;
* every derived table (read whole);
* temporary files an interrupted write left behind;
* the ephemeral Prefect database (SQLite ``quick_check``).

``named_lake_damage`` turns an opaque Parquet error raised while a run reads
the lake into one that names the damaged parts and says how to repair them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from config.layout import StudyPaths
from config.schema import LAKE_TABLES
from store.derived import DerivedStore, DerivedTableDamaged
from store.lake import MANIFEST, SUPERSEDED, Lake

ROW_COLUMNS = {
    "minutes": "rows_minutes",
    "daily_totals": "rows_daily_totals",
    "sessions": "rows_sessions",
}
"""Lake tables whose row counts the manifest records per file."""


@dataclass(frozen=True)
class Damage:
    """One damaged thing in the store: what it is, where, and what is wrong."""

    kind: str
    """``lake part``, ``manifest part``, ``missing part``, ``derived table``, ``temporary file`` or ``prefect database``."""
    path: str
    problem: str
    batch: tuple[str, str] | None = None
    """``(participant_id, batch_id)`` of a lake part, for a repair that re-ingests the batch."""

    def line(self) -> str:
        return f"{self.kind}: {self.path}: {self.problem}"


class LakeDamaged(RuntimeError):
    """A run met damaged lake parts; the message names each and says how to rebuild them."""


def parquet_problem(path: str, lake: Lake | None = None) -> str | None:
    """What is wrong with a Parquet file (footer, then every page decoded), or None when it reads whole."""
    try:
        if lake is not None:
            with lake.fs.open_input_file(path) as handle:
                pq.ParquetFile(handle).read()
        else:
            pq.ParquetFile(path).read()
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for damaged bytes
        return f"{type(exc).__name__}: {exc}"
    return None


def lake_damage(lake: Lake, *, deep: bool = True) -> list[Damage]:
    """Damaged, missing and orphaned-by-damage parts of the lake.

    ``deep``: decode every page (``irisin verify``); otherwise only each
    footer is read, which is what a run does to name the part behind an
    error it met.
    """
    damage: list[Damage] = []
    batches = sorted(lake._fresh_commits())
    committed = set(batches)
    for gen in lake._generations().values():  # compacted: its manifest part and every part it names
        for table, part in [(MANIFEST, gen.manifest_part)] + [
            (t, p) for t, ps in (*gen.parts.items(), *gen.retired.items()) for p in ps
        ]:
            if not lake.fs.get_file_info(part).is_file:
                damage.append(
                    Damage("missing part", part, f"generation {gen.bucket}/{gen.name} names it")
                )
                continue
            problem = parquet_problem(part, lake) if deep else _footer_problem(part, lake)
            if problem:
                kind = "manifest part" if table == MANIFEST else "lake part"
                damage.append(Damage(kind, part, problem))
    manifest_parts = {b: lake._part(MANIFEST, *b) for b in batches}
    readable: dict[tuple[str, str], pl.DataFrame] = {}
    for batch, part in manifest_parts.items():
        problem = parquet_problem(part, lake) if deep else _footer_problem(part, lake)
        if problem:
            damage.append(Damage("manifest part", part, problem, batch))
            continue
        with lake.fs.open_input_file(part) as handle:
            readable[batch] = pl.from_arrow(pq.read_table(handle))  # type: ignore[assignment]
    present: dict[str, set[tuple[str, str]]] = {}
    for table in LAKE_TABLES:
        for part in lake._list(table):
            if not lake._is_fresh(part):
                continue  # a compacted part: checked with its generation above
            batch = lake._batch_of(part)
            present.setdefault(table, set()).add(batch)
            if batch not in committed:
                continue  # an uncommitted part is a crash's leftover: ``recover`` removes it
            problem = parquet_problem(part, lake) if deep else _footer_problem(part, lake)
            if problem:
                damage.append(Damage("lake part", part, problem, batch))
    for batch, rows in readable.items():
        live = rows.filter(pl.col("status") != SUPERSEDED)
        for table, column in ROW_COLUMNS.items():
            expected = int(live[column].sum() or 0)
            if expected and batch not in present.get(table, set()):
                damage.append(
                    Damage(
                        "missing part",
                        lake._part(table, *batch),
                        f"the manifest lists {expected} rows; the part is gone",
                        batch,
                    )
                )
    return damage


def _footer_problem(path: str, lake: Lake) -> str | None:
    try:
        with lake.fs.open_input_file(path) as handle:
            pq.read_metadata(handle)
    except Exception as exc:  # the footer is what a truncated or overwritten part loses first
        return f"{type(exc).__name__}: {exc}"
    return None


def derived_damage(derived_root: Path) -> list[Damage]:
    """Derived tables (and derive's own state) that cannot be read whole."""
    damage = []
    for path in sorted(derived_root.rglob("*.parquet")):
        problem = parquet_problem(str(path))
        if problem:
            damage.append(Damage("derived table", str(path), problem))
    return damage


def remote_derived_damage(derived: DerivedStore) -> list[Damage]:
    """Derived tables (and derive's own state) on object storage that cannot be read whole."""
    damage = []
    for store in (derived, derived.child("state")):
        for name in store.tables():
            try:
                store.read(name)
            except DerivedTableDamaged as exc:
                damage.append(Damage("derived table", store.shown(name), str(exc.__cause__)))
    return damage


def leftover_temporary_files(store: Path) -> list[Damage]:
    """Temporary files of writes that never finished (a crash, a full disk)."""
    return [
        Damage("temporary file", str(p), "left by an interrupted write")
        for p in sorted(store.rglob("*.tmp"))
        if p.is_file()
    ]


def prefect_database_problem(database: Path) -> str | None:
    """What is wrong with an ephemeral Prefect SQLite database, or None (also when there is none yet)."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            (result,) = connection.execute("PRAGMA quick_check").fetchone()
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if result == "ok" else f"integrity check: {result}"


def study_damage(paths: StudyPaths, prefect_database: Path | None) -> list[Damage]:
    """Everything ``irisin verify`` reports for the study at ``paths``."""
    damage = lake_damage(Lake(paths.lake_location))
    damage += (
        remote_derived_damage(DerivedStore(paths.derived_location))
        if paths.remote
        else derived_damage(paths.derived)
    )
    if paths.store.is_dir():
        damage += leftover_temporary_files(paths.store)
    if prefect_database is not None:
        problem = prefect_database_problem(prefect_database)
        if problem:
            damage.append(Damage("prefect database", str(prefect_database), problem))
    return damage


@contextmanager
def named_lake_damage(lake: Lake, study_dir: Path | str | None = None) -> Iterator[None]:
    """Re-raise an error met while reading the lake as ``LakeDamaged`` naming the damaged parts.

    Polars and Arrow report a damaged part without saying which of thousands
    it is. When the block fails, the footers of the committed parts are
    checked; if any is damaged, the error names them and how to rebuild them
    from the raw files. Errors with no damaged part behind them pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        if isinstance(exc, LakeDamaged):
            raise
        try:
            damage = lake_damage(lake, deep=False)
        except Exception:  # the listing itself failed: the original error says more
            raise exc from None
        if not damage:
            raise
        where = f" --study {study_dir}" if study_dir is not None else " --study <study folder>"
        raise LakeDamaged(
            "damaged lake parts: "
            + "; ".join(d.line() for d in damage[:5])
            + (f" (and {len(damage) - 5} more)" if len(damage) > 5 else "")
            + f". Rebuild them from the raw files with: irisin repair{where}"
        ) from exc
