"""The Parquet lake: raw-derived canonical tables, append-only by ingest batch.

Layout under the lake root::

    <table>/participant_id=<id>/<batch_id>.parquet   data parts (minutes, daily_totals, ...)
    files/participant_id=<id>/<batch_id>.parquet     manifest part, written last: the commit mark

A batch is one participant's files from one ingest call; its id is a hash of
its file ids, so a crashed run that is started again writes the same names.
A data part counts only once its manifest part exists; ``recover`` removes
parts left behind by a crash and finishes interrupted replacements. Every
write goes to a temporary name and is renamed into place, and the filesystem
is a ``pyarrow.fs`` one, so the same code can point at object storage.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from irisin.schema import FILES, LAKE_TABLES, TABLES, conform

MANIFEST = "files"
SUPERSEDED = "superseded"


def batch_id_for(file_ids: Iterable[str]) -> str:
    """Deterministic batch id: the same files always land under the same name."""
    h = hashlib.sha256()
    for fid in sorted(set(file_ids)):
        h.update(fid.encode())
    return h.hexdigest()[:24]


@dataclass(frozen=True)
class Batch:
    """One participant's canonical rows and manifest rows, written as a unit."""

    participant_id: str
    tables: dict[str, pa.Table]
    manifest: pa.Table


class Lake:
    """Append-only Parquet store of the canonical tables."""

    def __init__(self, root: str | Path) -> None:
        root_str = str(root)
        if "://" in root_str:
            self.fs, self.root = pafs.FileSystem.from_uri(root_str)
        else:
            self.fs, self.root = pafs.LocalFileSystem(), str(Path(root_str).resolve())
        self.fs.create_dir(self.root, recursive=True)
        self._live: dict[str, dict[str, str]] = {}
        """participant -> logical path -> live file_id, loaded lazily, kept current by write_batch."""

    # -- paths ---------------------------------------------------------------
    def _dir(self, table: str, participant_id: str) -> str:
        return f"{self.root}/{table}/participant_id={participant_id}"

    def _part(self, table: str, participant_id: str, batch_id: str) -> str:
        return f"{self._dir(table, participant_id)}/{batch_id}.parquet"

    def _list(self, table: str) -> list[str]:
        sel = pafs.FileSelector(f"{self.root}/{table}", recursive=True, allow_not_found=True)
        return sorted(
            i.path for i in self.fs.get_file_info(sel) if i.is_file and i.path.endswith(".parquet")
        )

    @staticmethod
    def _batch_of(path: str) -> tuple[str, str]:
        parent, name = path.rsplit("/", 1)
        return parent.rsplit("participant_id=", 1)[1], name.removesuffix(".parquet")

    # -- writing -------------------------------------------------------------
    def _write_atomic(self, table: pa.Table, path: str) -> None:
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with self.fs.open_output_stream(tmp) as out:
            pq.write_table(table, out, compression="zstd")
        self.fs.move(tmp, path)

    def write_batch(self, batch: Batch) -> str:
        """Write a batch's data parts, then its manifest part (the commit)."""
        manifest = conform(batch.manifest, FILES)
        bid = batch_id_for(manifest.column("file_id").to_pylist())
        for name, table in batch.tables.items():
            if table.num_rows:
                self._write_atomic(conform(table, LAKE_TABLES[name]), self._part(name, batch.participant_id, bid))
        self._write_atomic(manifest, self._part(MANIFEST, batch.participant_id, bid))
        if self._replaces_something(batch.participant_id, manifest):
            self._finish_replacements(batch.participant_id)
            self._live.pop(batch.participant_id, None)
        return bid

    def _replaces_something(self, participant_id: str, manifest: pa.Table) -> bool:
        """Whether the new manifest rows are newer versions of files already live."""
        live = self._live.get(participant_id)
        if live is None:
            man = self.manifest([participant_id]).filter(pl.col("status") != SUPERSEDED)
            live = dict(zip(man["path"].map_elements(logical_path, return_dtype=pl.String).to_list(), man["file_id"].to_list(), strict=True))
            self._live[participant_id] = live
        clash = False
        for path, fid in zip(manifest.column("path").to_pylist(), manifest.column("file_id").to_pylist(), strict=True):
            key = logical_path(path)
            if live.get(key, fid) != fid:
                clash = True
            live[key] = fid
        return clash

    # -- reading -------------------------------------------------------------
    def committed_parts(self, table: str, participants: Iterable[str] | None = None) -> list[str]:
        """Data parts whose batch has a manifest part, optionally for some participants."""
        committed = {self._batch_of(p) for p in self._list(MANIFEST)}
        want = None if participants is None else set(participants)
        return [
            p
            for p in self._list(table)
            if self._batch_of(p) in committed and (want is None or self._batch_of(p)[0] in want)
        ]

    def manifest(self, participants: Iterable[str] | None = None) -> pl.DataFrame:
        """Every manifest row (optionally of some participants), with the batch it belongs to."""
        parts = self._list(MANIFEST)
        if participants is not None:
            want = set(participants)
            parts = [p for p in parts if self._batch_of(p)[0] in want]
        empty = pl.from_arrow(FILES.empty_table())
        assert isinstance(empty, pl.DataFrame)
        if not parts:
            return empty.with_columns(pl.lit(None, pl.String).alias("batch_id"))
        if isinstance(self.fs, pafs.LocalFileSystem):
            frame = pl.read_parquet(parts, schema=empty.schema, include_file_paths="_part")
        else:
            frame = pl.concat(
                pl.from_arrow(pq.read_table(p, filesystem=self.fs, schema=FILES)).with_columns(pl.lit(p).alias("_part"))  # type: ignore[union-attr]
                for p in parts
            )
        return frame.with_columns(
            pl.col("_part").str.extract(r"/([^/]+)\.parquet$").alias("batch_id")
        ).drop("_part")

    def known_file_ids(self) -> set[str]:
        return set(self.manifest()["file_id"].to_list())

    def scan(self, table: str, participants: Iterable[str] | None = None) -> pl.LazyFrame:
        """Lazy frame over one table's committed rows (typed even when empty)."""
        schema = TABLES[table]
        parts = self.committed_parts(table, participants)
        empty = pl.from_arrow(schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        if not parts:
            return empty.lazy()
        if isinstance(self.fs, pafs.LocalFileSystem):
            return pl.scan_parquet(parts, schema=empty.schema)
        return pl.from_arrow(pq.read_table(parts, filesystem=self.fs, schema=schema)).lazy()  # type: ignore[union-attr]

    # -- replacement and recovery -------------------------------------------
    def _rewrite_without(self, path: str, schema: pa.Schema, file_ids: set[str], status_update: bool) -> None:
        table = pq.read_table(path, filesystem=self.fs, schema=schema)
        in_old = pc.is_in(table.column("file_id"), value_set=pa.array(sorted(file_ids)))
        if status_update:
            status = pc.if_else(in_old, pa.scalar(SUPERSEDED), table.column("status"))
            table = table.set_column(table.schema.get_field_index("status"), schema.field("status"), status)
        else:
            table = table.filter(pc.invert(in_old))
        if table.num_rows == 0 and not status_update:
            self.fs.delete_file(path)
        else:
            self._write_atomic(table, path)

    def _finish_replacements(self, participant_id: str | None = None) -> None:
        """Retire rows of files that a newer version of the same logical file replaced.

        Two versions of one file share (participant, logical path); the one
        ingested last wins. Running this twice does nothing the second time.
        """
        man = self.manifest(None if participant_id is None else [participant_id])
        live = man.filter(pl.col("status") != SUPERSEDED).with_columns(
            pl.col("path").map_elements(logical_path, return_dtype=pl.String).alias("_key")
        )
        newest = live.sort("ingested_at").group_by("participant_id", "_key").agg(pl.col("file_id").last())
        old = live.join(newest, on=["participant_id", "_key", "file_id"], how="anti")
        if old.height == 0:
            return
        for (pid, bid), grp in old.group_by("participant_id", "batch_id"):
            ids = set(grp["file_id"].to_list())
            for table in LAKE_TABLES:
                part = self._part(table, str(pid), str(bid))
                if self.fs.get_file_info(part).is_file:
                    self._rewrite_without(part, LAKE_TABLES[table], ids, status_update=False)
            self._rewrite_without(self._part(MANIFEST, str(pid), str(bid)), FILES, ids, status_update=True)

    def recover(self) -> list[str]:
        """Make the lake consistent after a crash; returns the orphan parts removed."""
        committed = {self._batch_of(p) for p in self._list(MANIFEST)}
        removed = []
        for table in LAKE_TABLES:
            for p in self._list(table):
                if self._batch_of(p) not in committed:
                    self.fs.delete_file(p)
                    removed.append(p)
        sel = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        for info in self.fs.get_file_info(sel):
            if info.is_file and info.path.endswith(".tmp"):
                self.fs.delete_file(info.path)
                removed.append(info.path)
        self._finish_replacements()
        return removed


def logical_path(path: str) -> str:
    """The identity of a file across versions: its path inside its export.

    ``takeout-1.zip!/Takeout/Fitbit/steps.json`` and a later
    ``takeout-2.zip!/Takeout/Fitbit/steps.json`` are two versions of one file.
    """
    return path.split("!/", 1)[1] if "!/" in path else path


def now_utc() -> datetime:
    return datetime.now(UTC)
