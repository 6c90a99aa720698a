"""The Parquet lake: raw-derived canonical tables, append-only by ingest batch.

Layout under the lake root::

    <table>/participant_id=<id>/<batch_id>.parquet   data parts (minutes, daily_totals, ...)
    files/participant_id=<id>/<batch_id>.parquet     manifest part, written last: the commit mark

A batch is one participant's files from one ingest call; its id is a hash of
its file ids, so a crashed run that is started again writes the same names.
A data part counts only once its manifest part exists; ``recover`` removes
parts left behind by a crash and finishes interrupted replacements. Every
write goes through ``store.atomic`` (a temporary name renamed into place on
disk, one whole object on object storage), and the filesystem is a
``pyarrow.fs`` one, so the same code can point at object storage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from config.participant_id import validate_participant_id
from config.schema import FILES, LAKE_TABLES, TABLES, conform
from store.atomic import TEMPORARY_SUFFIX, is_local, write_parquet

MANIFEST = "files"
SUPERSEDED = "superseded"
PARTITION_KEY = "participant_id="
"""Prefix of a participant's folder name: ``participant_id=<id>``."""
FOLDERS_LISTED_ONE_BY_ONE = 16
"""Up to this many participants, their folders are listed one by one; beyond, the table is listed once."""
MIN_PARQUET_BYTES = 12
"""Smallest possible Parquet file: magic, footer length, magic."""
ROW_GROUP_ROWS = 16_384
"""Rows per Parquet row group: about 11 days of one participant's minutes, so a
scan filtered to a few weeks (an incremental nightly) skips the rest of a
participant's history by row-group statistics instead of decoding it."""


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


ATTRIBUTED_BY_CONTENT = ("fitabase",)
"""Kinds of file whose rows go to the participants their content names (a Fitabase ``Id``), not the inbox's."""


@dataclass
class KnownFiles:
    """Which participants hold each file id of the manifest (issue 15 item 6).

    A file's identity stays its content hash, but a file is known *for a
    participant*: the same bytes handed in under a second participant are
    recorded for that participant too, whichever arrives first, so no race
    decides who owns them. A file whose rows go to the participants its
    content names (``ATTRIBUTED_BY_CONTENT``) is known for everyone once read,
    as its rows are already where they belong.
    ``fid in known`` keeps the old meaning: held by anyone.
    """

    holders: dict[str, set[str]]
    attributed: set[str]

    @classmethod
    def of(cls, manifest: pl.DataFrame | pa.Table) -> KnownFiles:
        known = cls({}, set())
        frame = manifest if isinstance(manifest, pl.DataFrame) else pl.from_arrow(manifest)
        assert isinstance(frame, pl.DataFrame)
        known.update(
            zip(
                frame["participant_id"].to_list(),
                frame["file_id"].to_list(),
                frame["kind"].to_list(),
                strict=True,
            )
        )
        return known

    def update(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Record (participant_id, file_id, kind) manifest rows."""
        for pid, fid, kind in rows:
            self.holders.setdefault(fid, set()).add(pid)
            if kind.startswith(ATTRIBUTED_BY_CONTENT):
                self.attributed.add(fid)

    def held_by(self, participant_id: str, file_id: str) -> bool:
        """Whether ``participant_id`` already holds ``file_id`` (so its bytes need no reading for them)."""
        holders = self.holders.get(file_id)
        return holders is not None and (participant_id in holders or file_id in self.attributed)

    def others_holding(self, participant_id: str, file_id: str) -> list[str]:
        """The other participants whose manifest already holds ``file_id``."""
        return sorted(self.holders.get(file_id, set()) - {participant_id})

    def __contains__(self, file_id: object) -> bool:
        return file_id in self.holders

    def __len__(self) -> int:
        return len(self.holders)

    def __iter__(self) -> Iterator[str]:
        return iter(self.holders)

    def copy(self) -> KnownFiles:
        return KnownFiles({k: set(v) for k, v in self.holders.items()}, set(self.attributed))


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
        self._live_complete = False
        """Whether ``_live`` holds every participant of the manifest (a participant missing has no files)."""
        self._known: KnownFiles | None = None
        """Every file id of the manifest, with who holds it, once read whole; kept current by write_batch."""
        self.damaged: list[tuple[str, str]] = []
        """Committed data parts found missing or unreadable by the last ``recover``, with the problem."""

    # -- paths ---------------------------------------------------------------
    def _dir(self, table: str, participant_id: str) -> str:
        """A participant's folder of ``table``; the id is checked here, so no path is built from an unchecked one.

        A valid id (``config.participant_id``) is one path component of safe
        characters, so it is used as it is and the layout stays readable.
        """
        return f"{self.root}/{table}/{PARTITION_KEY}{validate_participant_id(participant_id, 'lake participant id')}"

    def _part(self, table: str, participant_id: str, batch_id: str) -> str:
        return f"{self._dir(table, participant_id)}/{batch_id}.parquet"

    def _list(self, table: str, participants: Iterable[str] | None = None) -> list[str]:
        """Part files of ``table``, optionally of some participants only.

        A few participants' folders are listed one by one, so writing one
        participant's batch does not pay for listing everybody's parts; for
        many, one recursive listing filtered by folder takes fewer calls.
        """
        if participants is None:
            return self._parts_in(f"{self.root}/{table}", recursive=True)
        wanted = set(participants)
        if len(wanted) > FOLDERS_LISTED_ONE_BY_ONE:
            return [
                p
                for p in self._parts_in(f"{self.root}/{table}", recursive=True)
                if self._batch_of(p)[0] in wanted
            ]
        return sorted(
            p for pid in wanted for p in self._parts_in(self._dir(table, pid), recursive=False)
        )

    def _parts_in(self, folder: str, *, recursive: bool) -> list[str]:
        sel = pafs.FileSelector(folder, recursive=recursive, allow_not_found=True)
        return sorted(
            i.path for i in self.fs.get_file_info(sel) if i.is_file and i.path.endswith(".parquet")
        )

    @staticmethod
    def _batch_of(path: str) -> tuple[str, str]:
        """``(participant_id, batch_id)`` of a part, from its own two path components only.

        The id is what follows the partition key in the part's parent folder
        name, wherever else ``participant_id=`` appears in the path (the lake's
        root, or a legacy id).
        """
        parent, name = path.rsplit("/", 1)
        folder = parent.rsplit("/", 1)[-1]
        return folder.removeprefix(PARTITION_KEY), name.removesuffix(".parquet")

    # -- writing -------------------------------------------------------------
    def _write_atomic(self, table: pa.Table, path: str) -> None:
        """One part, whole or not at all (``store.atomic``: rename on disk, one object on S3)."""
        if not is_local(self.fs):
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        write_parquet(path, table, self.fs, row_group_size=ROW_GROUP_ROWS)

    def write_batch(self, batch: Batch) -> str:
        """Write a batch's data parts, then its manifest part (the commit)."""
        manifest = conform(batch.manifest, FILES)
        bid = batch_id_for(manifest.column("file_id").to_pylist())
        live = self._live_files(batch.participant_id)  # as it was before this batch
        for name, table in batch.tables.items():
            if table.num_rows:
                self._write_atomic(
                    conform(table, LAKE_TABLES[name]), self._part(name, batch.participant_id, bid)
                )
        self._write_atomic(manifest, self._part(MANIFEST, batch.participant_id, bid))
        if self._known is not None:
            self._known.update(
                zip(
                    manifest.column("participant_id").to_pylist(),
                    manifest.column("file_id").to_pylist(),
                    manifest.column("kind").to_pylist(),
                    strict=True,
                )
            )
        if _note_live(live, manifest):
            self._finish_replacements(self.manifest([batch.participant_id]))
            self._live[batch.participant_id] = self._read_live(batch.participant_id)
        return bid

    def _live_files(self, participant_id: str) -> dict[str, str]:
        """Logical path -> live file id of one participant, read once per lake object."""
        live = self._live.get(participant_id)
        if live is None:
            live = {} if self._live_complete else self._read_live(participant_id)
            self._live[participant_id] = live
        return live

    def _read_live(self, participant_id: str) -> dict[str, str]:
        return _live_of(self.manifest([participant_id])).get(participant_id, {})

    # -- reading -------------------------------------------------------------
    def committed_batches(self) -> list[tuple[str, str]]:
        """Every committed batch as ``(participant_id, batch_id)``, sorted."""
        return sorted({self._batch_of(p) for p in self._list(MANIFEST)})

    def participants(self) -> list[str]:
        """Every participant with a committed batch, sorted."""
        return sorted({pid for pid, _ in self.committed_batches()})

    def committed_parts(self, table: str, participants: Iterable[str] | None = None) -> list[str]:
        """Data parts whose batch has a manifest part, optionally for some participants."""
        want = None if participants is None else sorted(set(participants))
        committed = {self._batch_of(p) for p in self._list(MANIFEST, want)}
        return [p for p in self._list(table, want) if self._batch_of(p) in committed]

    def manifest(self, participants: Iterable[str] | None = None) -> pl.DataFrame:
        """Every manifest row (optionally of some participants), with the batch it belongs to."""
        parts = self._list(MANIFEST, participants)
        empty = pl.from_arrow(FILES.empty_table())
        assert isinstance(empty, pl.DataFrame)
        if not parts:
            return empty.with_columns(pl.lit(None, pl.String).alias("batch_id"))
        if isinstance(self.fs, pafs.LocalFileSystem):
            frame = pl.read_parquet(parts, schema=empty.schema, include_file_paths="_part")
        else:
            tables = (pq.read_table(p, filesystem=self.fs, schema=FILES) for p in parts)
            frame = pl.concat(
                pl.DataFrame(table).with_columns(pl.lit(p).alias("_part"))
                for p, table in zip(parts, tables, strict=True)
            )
        return frame.with_columns(
            pl.col("_part").str.extract(r"/([^/]+)\.parquet$").alias("batch_id")
        ).drop("_part")

    def known_file_ids(self) -> set[str]:
        """Every file id in the manifest.

        The manifest is read whole once per lake object (by ``recover`` or
        here); the same read indexes every participant's live files, so the
        batches written after it (a nightly's new files) need not read it again.
        """
        return set(self.known_files())

    def known_files(self) -> KnownFiles:
        """Every file id in the manifest with the participants holding it (a copy; see ``KnownFiles``)."""
        if self._known is None:
            self._remember(self.manifest())
        assert self._known is not None
        return self._known.copy()

    def _remember(self, manifest: pl.DataFrame) -> None:
        """Index a whole-manifest read: live files per participant and every known file id."""
        self._live, self._live_complete = _live_of(manifest), True
        self._known = KnownFiles.of(manifest)

    def _forget(self) -> None:
        self._live, self._live_complete, self._known = {}, False, None

    def scan(self, table: str, participants: Iterable[str] | None = None) -> pl.LazyFrame:
        """Lazy frame over one table's committed rows (typed even when empty)."""
        return self._scan_parts(table, self.committed_parts(table, participants))

    def scan_batches(self, table: str, batches: Iterable[tuple[str, str]]) -> pl.LazyFrame:
        """Lazy frame over the rows that the given ``(participant_id, batch_id)`` batches wrote to ``table``.

        Only committed batches count. Looks at those batches' files alone, so
        reading back what one ingest wrote costs what that ingest wrote.
        """
        wanted = sorted(set(batches))
        manifests = self.fs.get_file_info([self._part(MANIFEST, pid, bid) for pid, bid in wanted])
        candidates = [
            self._part(table, pid, bid)
            for (pid, bid), m in zip(wanted, manifests, strict=True)
            if m.is_file
        ]
        parts = [i.path for i in self.fs.get_file_info(candidates) if i.is_file]
        return self._scan_parts(table, parts)

    def _scan_parts(self, table: str, parts: list[str]) -> pl.LazyFrame:
        schema = TABLES[table]
        empty = pl.from_arrow(schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        if not parts:
            return empty.lazy()
        if isinstance(self.fs, pafs.LocalFileSystem):
            return pl.scan_parquet(parts, schema=empty.schema)
        return pl.from_arrow(pq.read_table(parts, filesystem=self.fs, schema=schema)).lazy()  # type: ignore[union-attr]

    # -- replacement and recovery -------------------------------------------
    def _rewrite_without(
        self, path: str, schema: pa.Schema, file_ids: set[str], status_update: bool
    ) -> None:
        table = pq.read_table(path, filesystem=self.fs, schema=schema)
        in_old = pc.is_in(table.column("file_id"), value_set=pa.array(sorted(file_ids)))
        if status_update:
            status = pc.if_else(in_old, pa.scalar(SUPERSEDED), table.column("status"))
            table = table.set_column(
                table.schema.get_field_index("status"), schema.field("status"), status
            )
        else:
            table = table.filter(pc.invert(in_old))
        if table.num_rows == 0 and not status_update:
            self.fs.delete_file(path)
        else:
            self._write_atomic(table, path)

    def _finish_replacements(self, manifest: pl.DataFrame) -> bool:
        """Retire rows of files that a newer version of the same logical file replaced.

        Two versions of one file share (participant, logical path); the one
        ingested last wins. ``manifest`` holds the rows to check (one
        participant's, or all). Returns whether anything was retired; running
        this twice does nothing the second time.
        """
        live = manifest.filter(pl.col("status") != SUPERSEDED).with_columns(
            logical_path_expr().alias("_key")
        )
        newest = (
            live.sort("ingested_at")
            .group_by("participant_id", "_key")
            .agg(pl.col("file_id").last())
        )
        old = live.join(newest, on=["participant_id", "_key", "file_id"], how="anti")
        if old.height == 0:
            return False
        for (pid, bid), grp in old.group_by("participant_id", "batch_id"):
            ids = set(grp["file_id"].to_list())
            for table in LAKE_TABLES:
                part = self._part(table, str(pid), str(bid))
                if self.fs.get_file_info(part).is_file:
                    self._rewrite_without(part, LAKE_TABLES[table], ids, status_update=False)
            self._rewrite_without(
                self._part(MANIFEST, str(pid), str(bid)), FILES, ids, status_update=True
            )
        return True

    def recover(self) -> list[str]:
        """Make the lake consistent after a crash; returns the orphan parts and temporary files removed.

        One recursive listing of the lake finds both, and the one read of the
        whole manifest it needs also serves ``known_file_ids`` afterwards.
        """
        sel = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        infos = [i for i in self.fs.get_file_info(sel) if i.is_file]
        files = sorted(i.path for i in infos)
        prefix = f"{self.root}/"
        parts: dict[str, list[str]] = {}
        for path in files:
            if path.endswith(".parquet"):
                parts.setdefault(path.removeprefix(prefix).split("/", 1)[0], []).append(path)
        committed = {self._batch_of(p) for p in parts.get(MANIFEST, [])}
        removed = [
            p
            for table in LAKE_TABLES
            for p in parts.get(table, [])
            if self._batch_of(p) not in committed
        ]
        removed += [p for p in files if p.endswith(TEMPORARY_SUFFIX)]
        for path in removed:
            self.fs.delete_file(path)
        manifest = self.manifest()
        if self._finish_replacements(manifest):
            self._forget()
            manifest = self.manifest()
            infos = [i for i in self.fs.get_file_info(sel) if i.is_file]
        else:
            self._remember(manifest)
        self.damaged = self._damage(
            manifest, {i.path: i.size for i in infos if i.path.endswith(".parquet")}
        )
        return removed

    def _damage(
        self, manifest: pl.DataFrame, sizes: dict[str, int | None]
    ) -> list[tuple[str, str]]:
        """Committed data parts that are missing or cannot be Parquet, as ``(path, problem)``.

        The manifest says how many rows each live file wrote to ``minutes``,
        ``daily_totals`` and ``sessions``; a batch whose live rows say so has
        that part. A part shorter than a Parquet file can be (header and
        footer magic) is damaged. Both come from the listing recovery already
        makes, so the check costs no extra read.
        """
        counted = {
            "minutes": "rows_minutes",
            "daily_totals": "rows_daily_totals",
            "sessions": "rows_sessions",
        }
        live = manifest.filter(~pl.col("status").is_in([SUPERSEDED, "retired", "forgotten"]))
        expected = live.group_by("participant_id", "batch_id").agg(
            pl.col(c).sum() for c in counted.values()
        )
        damaged: list[tuple[str, str]] = []
        for row in expected.sort("participant_id", "batch_id").iter_rows(named=True):
            for table, col in counted.items():
                if not row[col]:
                    continue
                path = self._part(table, str(row["participant_id"]), str(row["batch_id"]))
                size = sizes.get(path, -1)
                if size == -1:
                    damaged.append((path, f"missing (its manifest says {row[col]:,} {table} rows)"))
                elif size is not None and size < MIN_PARQUET_BYTES:
                    damaged.append(
                        (path, f"unreadable: {size} bytes, too short to be a Parquet file")
                    )
        return damaged


def _live_of(manifest: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Participant -> logical path -> file id of the live (not superseded) manifest rows; newest wins."""
    live = (
        manifest.filter(pl.col("status") != SUPERSEDED)
        .sort("ingested_at")
        .select("participant_id", logical_path_expr().alias("key"), "file_id")
    )
    out: dict[str, dict[str, str]] = {}
    for (pid,), rows in live.group_by("participant_id", maintain_order=True):
        out[str(pid)] = dict(zip(rows["key"].to_list(), rows["file_id"].to_list(), strict=True))
    return out


def _note_live(live: dict[str, str], manifest: pa.Table) -> bool:
    """Record a batch's files as live; True when one is a newer version of a file already live."""
    clash = False
    for path, fid in zip(
        manifest.column("path").to_pylist(), manifest.column("file_id").to_pylist(), strict=True
    ):
        key = logical_path(path)
        if live.get(key, fid) != fid:
            clash = True
        live[key] = fid
    return clash


def logical_path(path: str) -> str:
    """The identity of a file across versions: its path inside its export.

    ``takeout-1.zip!/Takeout/Fitbit/steps.json`` and a later
    ``takeout-2.zip!/Takeout/Fitbit/steps.json`` are two versions of one file.
    """
    return path.split("!/", 1)[1] if "!/" in path else path


def logical_path_expr(path: str = "path") -> pl.Expr:
    """``logical_path`` of a column of paths, as one columnar expression."""
    return pl.coalesce(pl.col(path).str.splitn("!/", 2).struct.field("field_1"), pl.col(path))


def now_utc() -> datetime:
    return datetime.now(UTC)
