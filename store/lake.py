"""The Parquet lake: raw-derived canonical tables, append-only by ingest batch, compacted by bucket.

Layout under the lake root::

    <table>/participant_id=<id>/<batch_id>.parquet   a fresh batch's data parts (minutes, daily_totals, ...)
    files/participant_id=<id>/<batch_id>.parquet     its manifest part, written last: the commit mark
    <table>/bucket=<NN>/<generation>-<YYYY-MM>.parquet   compacted data: one part per bucket and month
    <table>/bucket=<NN>/<generation>-<YYYY-MM>.retired.parquet   rows retired before that compaction (history)
    files/bucket=<NN>/<generation>.parquet           a compacted generation's manifest part: its commit mark
    retired/participant_id=<id>/<retirement>.parquet  retirements: (batch, file) rows that no longer count

A batch is one participant's files from one ingest call; its id is a hash of
its file ids, so a crashed run that is started again writes the same names.
A data part counts only once its manifest part exists; ``recover`` removes
parts left behind by a crash and finishes interrupted replacements.

Participants are hashed into ``BUCKETS`` buckets. ``compact`` rewrites the
fresh batches of a bucket, month by month, together with the bucket's current
compacted part of that month, into one new part per bucket and month; months
it does not touch keep their part. A fresh batch that is already large (a
backfill's history of one participant) is adopted instead: the generation
names its parts where they are, and only its manifest rows move. The new
generation's manifest part holds every manifest row of the bucket (each with
the batch it came from) and names its data parts in the Parquet footer;
writing it is the commit. From then on the bucket's newest generation is what
readers see, and the fresh batches it lists no longer count, whether or not
their files are gone yet: the rows a reader sees are the same before, during
and after a compaction, wherever it is killed. ``sweep`` deletes what
compaction replaced (after the warehouse stops naming it). So the lake holds
about buckets x months x tables files, the adopted large batches (about one
per participant and backfill) and the batches since the last compaction,
whatever the number of ingests.

Every write goes through ``store.atomic`` (a temporary name renamed into
place on disk, one whole object on object storage), and the filesystem is a
``pyarrow.fs`` one, so the same code can point at object storage.

Retiring (``retire``: ``irisin forget``, a re-read of a file a newer reader
or changed settings may read) deletes nothing: it writes one part naming
``(participant, batch, file)`` triples, and from then on ``manifest`` shows
those rows as ``retired`` and every scan (and the warehouse) leaves out the
rows those files wrote in those batches. The file may then be ingested again,
under the same or another participant, into a new batch; its new rows count.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from config.conform import conform
from config.participant_id import validate_participant_id
from config.schema import FILES, LAKE_TABLES, RETIRED, TABLES
from store.atomic import TEMPORARY_SUFFIX, is_local, write_parquet

MANIFEST = "files"
RETIREMENTS = "retired"
SUPERSEDED = "superseded"
RETIRED_STATUS = "retired"
"""Status ``manifest`` shows for a row a retirement names (the part on disk keeps the original)."""
NOT_LIVE = (SUPERSEDED, RETIRED_STATUS)
NOT_READ_WHOLE = ("skipped", "quarantined", "partial")
"""Statuses of files a newer reader or other settings may read (more): see ``unread_rows``."""
PARTITION_KEY = "participant_id="
"""Prefix of a participant's folder name: ``participant_id=<id>``."""
FOLDERS_LISTED_ONE_BY_ONE = 16
"""Up to this many participants, their folders are listed one by one; beyond, the table is listed once."""
MIN_PARQUET_BYTES = 12
"""Smallest possible Parquet file: magic, footer length, magic."""
BUCKET_KEY = "bucket="
"""Prefix of a compacted bucket's folder name: ``bucket=<NN>``."""
BUCKETS = 32
"""Buckets participants are hashed into. Fixed for a lake: a bucket's compacted parts
hold exactly the participants that hash into it."""
COMPACT_AFTER_BATCHES = 16
"""A bucket is compacted once it holds this many fresh (uncompacted) batches."""
ADOPT_PART_BYTES = 512 * 1024
"""A fresh batch with a data part this large is not a small file: compaction adopts its parts
into the generation as they are instead of rewriting them (a backfill's batch holds a
participant's whole history; rewriting it with every month it reaches costs what the
backfill cost, and buys nothing)."""
PARTS_KEY = b"irisin.parts"
"""Footer key of a generation's manifest part: the JSON list of its data parts, relative to the root."""
RETIRED_PARTS_KEY = b"irisin.retired_parts"
"""Footer key of a generation's manifest part: its parts of retired rows (history no reader counts)."""
RETIRED_PART_SUFFIX = ".retired.parquet"
"""Name ending of a compacted part of retired rows: ``<generation>-<YYYY-MM>.retired.parquet``."""
GENERATION_LENGTH = 21
"""``g`` and 20 digits of nanoseconds: generation names sort by time."""
MONTH_COLUMNS = {
    "minutes": "minute_utc",
    "daily_totals": "local_date",
    "sessions": "start_utc",
    "profiles": "observed_utc",
}
"""The time column each table's rows are put into months by."""
NO_MONTH = "0000-00"
"""Month of a row without a time (a profile with no observation time)."""
GEN_COLUMN = "_gen"
"""Column of ``Lake._manifest``: the bucket whose generation holds the row, null for a fresh batch's row."""
GENERATION_FILES = pa.schema([*FILES, pa.field("batch_id", pa.string())], metadata=FILES.metadata)
"""A generation's manifest part: the manifest columns and the batch each row came from."""
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


def bucket_of(participant_id: str) -> int:
    """The bucket of a participant: a stable hash, the same on every machine and run."""
    digest = hashlib.sha256(participant_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def bucket_folder(bucket: int) -> str:
    return f"{BUCKET_KEY}{bucket:02d}"


@dataclass(frozen=True)
class Generation:
    """The current compacted generation of one bucket: its manifest part and data parts."""

    bucket: str
    """Folder name, ``bucket=<NN>``."""
    name: str
    manifest_part: str
    parts: dict[str, list[str]]
    """Table -> absolute paths of its data parts: one per month, and the parts of adopted
    batches (large fresh batches named where they are, see ``ADOPT_PART_BYTES``)."""
    batches: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    """The ``(participant_id, batch_id)`` batches it holds."""
    retired: dict[str, list[str]] = field(default_factory=dict)
    """Table -> its parts of rows retired before they were compacted (one per month): the lake's
    history, kept with their mark and never counted by a reader (``Lake.history`` shows them)."""

    def named(self) -> list[str]:
        """Every data part the generation names, counted or retired."""
        return [p for parts in (*self.parts.values(), *self.retired.values()) for p in parts]


@dataclass
class CompactionReport:
    """What one ``compact`` call did."""

    buckets: list[str] = field(default_factory=list)
    batches: int = 0
    """Fresh batches folded into generations."""
    adopted: int = 0
    """Of those, batches large enough to keep their parts as they are."""
    parts_written: int = 0


@dataclass(frozen=True)
class Batch:
    """One participant's rows and manifest rows, written as a unit.

    A table may come in pieces of different shapes (one per file read); the lake
    conforms each piece to the canonical schema and writes them as one part.
    """

    participant_id: str
    tables: Mapping[str, pa.Table | Sequence[pa.Table]]
    manifest: pa.Table


ATTRIBUTED_BY_CONTENT = ("fitabase",)
"""Kinds of file whose rows go to the participants their content names (a Fitabase ``Id``), not the inbox's."""


SHARED_BYTES_NOTE = "same_bytes_also_held_by"
"""Manifest notes key: the other participants already holding a file's bytes when it was recorded."""


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
    reread: set[str] = field(default_factory=set)
    """Files (and the archives holding them) to read again for participants who no longer hold them:
    a content-attributed file some of whose participants were forgotten since it was last read
    (``irisin forget --participant`` of one Id of a shared Fitabase export). ``held_by`` is false
    for them; the ingest commits only the rows of participants not holding the file."""
    first_named: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(participant_id, file_id) of a file read again by ``irisin repair`` -> the other holders its
    first record named: the re-read row then says what a clean run's does, whichever copy another
    participant added since (a note must not depend on the order files were read in)."""

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
            self.reread.discard(fid)
            if kind.startswith(ATTRIBUTED_BY_CONTENT):
                self.attributed.add(fid)

    def held_by(self, participant_id: str, file_id: str) -> bool:
        """Whether ``participant_id`` already holds ``file_id`` (so its bytes need no reading for them)."""
        holders = self.holders.get(file_id)
        if holders is None or file_id in self.reread:
            return False
        return participant_id in holders or file_id in self.attributed

    def others_holding(self, participant_id: str, file_id: str) -> list[str]:
        """The other participants whose manifest already holds ``file_id`` (as first recorded, for a
        file read again by repair: ``first_named``)."""
        named = self.first_named.get((participant_id, file_id))
        if named is not None:
            return named
        return sorted(self.holders.get(file_id, set()) - {participant_id})

    def discard(self, participant_id: str, file_id: str) -> None:
        """Forget that ``participant_id`` holds ``file_id`` (it is to be read again for them)."""
        holders = self.holders.get(file_id)
        if holders is None:
            return
        holders.discard(participant_id)
        self.attributed.discard(file_id)
        if not holders:
            del self.holders[file_id]

    def __contains__(self, file_id: object) -> bool:
        return file_id in self.holders

    def __len__(self) -> int:
        return len(self.holders)

    def __iter__(self) -> Iterator[str]:
        return iter(self.holders)

    def copy(self) -> KnownFiles:
        return KnownFiles(
            {k: set(v) for k, v in self.holders.items()}, set(self.attributed), set(self.reread)
        )


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
        self._unread: pl.DataFrame | None = None
        """``unread_rows`` of the last whole-manifest read."""
        self._members: dict[str, int] | None = None
        """Archive file id -> its members in the manifest (``archive_members``), from the last whole read."""
        self.damaged: list[tuple[str, str]] = []
        """Committed data parts found missing or unreadable by the last ``recover``, with the problem."""
        self._gens: dict[str, Generation | None] = {}
        """Bucket folder -> its current compacted generation (None: none), loaded lazily."""
        self._gens_complete = False
        """Whether ``_gens`` holds every bucket (a bucket missing has no generation)."""
        self._retired: pl.DataFrame | None = None
        """Every retirement, read once per lake object, kept current by ``retire``."""

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
        bid = self._fresh_batch_id(batch.participant_id, manifest.column("file_id").to_pylist())
        live = self._live_files(batch.participant_id)  # as it was before this batch
        for name, pieces in batch.tables.items():
            table = _conformed(pieces, LAKE_TABLES[name])
            if table.num_rows:
                self._write_atomic(table, self._part(name, batch.participant_id, bid))
        self._write_atomic(manifest, self._part(MANIFEST, batch.participant_id, bid))
        if self._members is not None and _names_archives(manifest):
            # an archive new to the index: its members count from now
            rows = pl.from_arrow(
                manifest.select(["file_id", "path", "kind", "notes", "container_id"])
            )
            assert isinstance(rows, pl.DataFrame)
            for outer, n in _members_by_archive(rows).items():
                self._members.setdefault(outer, n)
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
            self._finish_replacements(self._manifest([batch.participant_id]))
            self._live[batch.participant_id] = self._read_live(batch.participant_id)
        return bid

    def _fresh_batch_id(self, participant_id: str, file_ids: list[str]) -> str:
        """The batch id of these files; past any batch of the same files that a retirement names.

        A file ingested again after its rows were retired must not land in the
        retired batch's name (its new rows would be retired too, and the old
        part overwritten). The id stays a function of the files and the
        retirements, so a crashed run started again writes the same names.
        """
        bid = batch_id_for(file_ids)
        retired = self.retirements([participant_id])
        if retired.height == 0:
            return bid
        used = set(retired["batch_id"].to_list())
        n = 0
        candidate = bid
        while candidate in used:
            n += 1
            candidate = batch_id_for([*file_ids, f"again:{n}"])
        return candidate

    def _live_files(self, participant_id: str) -> dict[str, str]:
        """Logical path -> live file id of one participant, read once per lake object."""
        live = self._live.get(participant_id)
        if live is None:
            live = {} if self._live_complete else self._read_live(participant_id)
            self._live[participant_id] = live
        return live

    def _read_live(self, participant_id: str) -> dict[str, str]:
        return _live_of(self.manifest([participant_id])).get(participant_id, {})

    # -- compacted generations -----------------------------------------------
    @staticmethod
    def _is_fresh(path: str) -> bool:
        """Whether a part belongs to a fresh batch (a participant folder), not to a compacted bucket."""
        return path.rsplit("/", 2)[-2].startswith(PARTITION_KEY)

    def _generations(self, buckets: Iterable[str] | None = None) -> dict[str, Generation]:
        """The current generation of each bucket that has one (optionally of some buckets only), cached."""
        if buckets is None:
            if not self._gens_complete:
                sel = pafs.FileSelector(
                    f"{self.root}/{MANIFEST}", recursive=False, allow_not_found=True
                )
                for info in self.fs.get_file_info(sel):
                    name = info.path.rsplit("/", 1)[-1]
                    is_bucket = info.type == pafs.FileType.Directory and name.startswith(BUCKET_KEY)
                    if is_bucket and name not in self._gens:
                        self._gens[name] = self._load_generation(name)
                self._gens_complete = True
            return {b: g for b, g in sorted(self._gens.items()) if g is not None}
        out: dict[str, Generation] = {}
        for bucket in sorted(set(buckets)):
            if bucket not in self._gens:
                self._gens[bucket] = None if self._gens_complete else self._load_generation(bucket)
            gen = self._gens[bucket]
            if gen is not None:
                out[bucket] = gen
        return out

    def _generation_manifests(self, bucket: str) -> list[str]:
        """Every generation manifest part of a bucket, oldest first."""
        return [
            p
            for p in self._parts_in(f"{self.root}/{MANIFEST}/{bucket}", recursive=False)
            if _is_generation(p.rsplit("/", 1)[-1].removesuffix(".parquet"))
        ]

    def _load_generation(self, bucket: str) -> Generation | None:
        manifests = self._generation_manifests(bucket)
        if not manifests:
            return None
        return self._read_generation(bucket, manifests[-1])

    def _read_generation(self, bucket: str, manifest_part: str) -> Generation:
        with self.fs.open_input_file(manifest_part) as handle:
            pf = pq.ParquetFile(handle)
            meta = pf.schema_arrow.metadata or {}
            held = pf.read(columns=["participant_id", "batch_id"])
        parts: dict[str, list[str]] = {}
        for rel in json.loads(meta.get(PARTS_KEY, b"[]")):
            parts.setdefault(rel.split("/", 1)[0], []).append(f"{self.root}/{rel}")
        retired: dict[str, list[str]] = {}
        for rel in json.loads(meta.get(RETIRED_PARTS_KEY, b"[]")):
            retired.setdefault(rel.split("/", 1)[0], []).append(f"{self.root}/{rel}")
        batches = frozenset(
            zip(
                held.column("participant_id").to_pylist(),
                held.column("batch_id").to_pylist(),
                strict=True,
            )
        )
        name = manifest_part.rsplit("/", 1)[-1].removesuffix(".parquet")
        return Generation(bucket, name, manifest_part, parts, batches, retired)

    def _covered(self, batches: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of ``batches`` that a compacted generation holds (they count there, not in their own parts)."""
        wanted = set(batches)
        gens = self._generations({bucket_folder(bucket_of(pid)) for pid, _ in wanted})
        return {
            b for b in wanted if (g := gens.get(bucket_folder(bucket_of(b[0])))) and b in g.batches
        }

    def _fresh_commits(self, participants: Iterable[str] | None = None) -> set[tuple[str, str]]:
        """Fresh batches with a manifest part that no generation holds: the ones that count on their own."""
        units = {self._batch_of(p) for p in self._list(MANIFEST, participants) if self._is_fresh(p)}
        return units - self._covered(units)

    def _buckets_of(self, participants: Iterable[str] | None) -> set[str] | None:
        return None if participants is None else {bucket_folder(bucket_of(p)) for p in participants}

    # -- reading -------------------------------------------------------------
    def committed_batches(self) -> list[tuple[str, str]]:
        """Every committed batch as ``(participant_id, batch_id)``, sorted; compaction keeps a batch's identity."""
        held = {b for g in self._generations().values() for b in g.batches}
        return sorted(self._fresh_commits() | held)

    def participants(self) -> list[str]:
        """Every participant with a committed batch, sorted."""
        return sorted({pid for pid, _ in self.committed_batches()})

    def committed_parts(self, table: str, participants: Iterable[str] | None = None) -> list[str]:
        """Parts that count: fresh batches' parts with a manifest part, and the current generations'.

        With ``participants``, a generation's part also holds other
        participants of its bucket (``scan`` filters them out).
        """
        want = None if participants is None else sorted(set(participants))
        fresh = self._fresh_commits(want)
        gens = self._generations(self._buckets_of(want))
        if table == MANIFEST:
            own = [self._part(MANIFEST, pid, bid) for pid, bid in sorted(fresh)]
            return own + [g.manifest_part for g in gens.values()]
        own = [
            p for p in self._list(table, want) if self._is_fresh(p) and self._batch_of(p) in fresh
        ]
        held = [p for g in gens.values() for p in g.parts.get(table, [])]
        if want is not None:  # an adopted part holds one participant: only the wanted ones'
            wanted = set(want)
            held = [p for p in held if not self._is_fresh(p) or self._batch_of(p)[0] in wanted]
        return own + held

    def manifest(self, participants: Iterable[str] | None = None) -> pl.DataFrame:
        """Every manifest row (optionally of some participants), with the batch it belongs to.

        A row a retirement names shows the status ``retired``. Parts written
        before a column existed read it as null.
        """
        return self._manifest(participants).drop(GEN_COLUMN)

    def _manifest(self, participants: Iterable[str] | None = None) -> pl.DataFrame:
        """``manifest`` and, in ``_gen``, the bucket whose generation holds the row (null for a fresh batch)."""
        want = None if participants is None else sorted(set(participants))
        empty = pl.from_arrow(GENERATION_FILES.empty_table())
        assert isinstance(empty, pl.DataFrame)
        frames = [empty.with_columns(pl.lit(None, pl.String).alias(GEN_COLUMN))]
        parts = [self._part(MANIFEST, pid, bid) for pid, bid in sorted(self._fresh_commits(want))]
        if parts:
            files_schema = empty.drop("batch_id").schema
            if isinstance(self.fs, pafs.LocalFileSystem):
                frame = pl.read_parquet(
                    parts,
                    schema=files_schema,
                    include_file_paths="_part",
                    missing_columns="insert",
                )
            else:
                tables = (pq.read_table(p, filesystem=self.fs, partitioning=None) for p in parts)
                frame = pl.concat(
                    pl.DataFrame(conform(table, FILES)).with_columns(pl.lit(p).alias("_part"))
                    for p, table in zip(parts, tables, strict=True)
                )
            frames.append(
                frame.with_columns(
                    pl.col("_part").str.extract(r"/([^/]+)\.parquet$").alias("batch_id"),
                    pl.lit(None, pl.String).alias(GEN_COLUMN),
                ).drop("_part")
            )
        for bucket, gen in self._generations(self._buckets_of(want)).items():
            rows = self._generation_rows(gen)
            if want is not None:
                rows = rows.filter(pl.col("participant_id").is_in(want))
            frames.append(rows.with_columns(pl.lit(bucket).alias(GEN_COLUMN)))
        frame = pl.concat(frames, how="vertical_relaxed")
        retired = self.retirements(want)
        if retired.height == 0:
            return frame
        keys = retired.select(_RETIRED_KEY).unique().with_columns(pl.lit(True).alias("_retired"))
        return (
            frame.join(keys, on=_RETIRED_KEY, how="left")
            .with_columns(
                pl.when(pl.col("_retired"))
                .then(pl.lit(RETIRED_STATUS))
                .otherwise(pl.col("status"))
                .alias("status")
            )
            .drop("_retired")
        )

    def _generation_rows(self, gen: Generation) -> pl.DataFrame:
        frame = pl.from_arrow(
            pq.read_table(
                gen.manifest_part, filesystem=self.fs, schema=GENERATION_FILES, partitioning=None
            )
        )
        assert isinstance(frame, pl.DataFrame)
        return frame

    # -- retirement -----------------------------------------------------------
    def retirements(self, participants: Iterable[str] | None = None) -> pl.DataFrame:
        """Every retirement (optionally of some participants): which batch's rows of which file no longer count."""
        if self._retired is None:
            parts = self._list(RETIREMENTS)
            empty = pl.from_arrow(RETIRED.empty_table())
            assert isinstance(empty, pl.DataFrame)
            if not parts:
                self._retired = empty
            else:
                table = pq.read_table(parts, filesystem=self.fs, schema=RETIRED, partitioning=None)
                frame = pl.from_arrow(table)
                assert isinstance(frame, pl.DataFrame)
                self._retired = frame
        if participants is None:
            return self._retired
        return self._retired.filter(pl.col("participant_id").is_in(sorted(set(participants))))

    def retire(self, rows: pl.DataFrame, reason: str) -> int:
        """Retire manifest rows (``participant_id``, ``batch_id``, ``file_id``): they and what their files wrote stop counting.

        Nothing is deleted or rewritten: one part per participant names the
        rows, and every read applies it. Rows already retired are left out,
        so retiring twice writes nothing the second time. Returns the rows
        newly retired.
        """
        done = self.retirements().select(_RETIRED_KEY)
        new = rows.select(_RETIRED_KEY).unique().join(done, on=_RETIRED_KEY, how="anti")
        if new.height == 0:
            return 0
        now = now_utc()
        for (pid,), grp in new.sort(_RETIRED_KEY).group_by("participant_id", maintain_order=True):
            h = hashlib.sha256(reason.encode())
            for b, f in grp.select("batch_id", "file_id").iter_rows():
                h.update(f"{b}:{f};".encode())
            table = pa.table(
                {
                    "participant_id": grp["participant_id"].to_arrow(),
                    "batch_id": grp["batch_id"].to_arrow(),
                    "file_id": grp["file_id"].to_arrow(),
                    "reason": pa.array([reason] * grp.height, pa.string()),
                    "retired_at": pa.array([now] * grp.height, pa.timestamp("us", tz="UTC")),
                }
            )
            self._write_atomic(
                conform(table, RETIRED), self._part(RETIREMENTS, str(pid), h.hexdigest()[:24])
            )
        self._forget()
        self._retired = None
        return new.height

    def scan_retired(self, table: str, retirements: pl.DataFrame) -> pl.LazyFrame:
        """The rows the given retirements took out of ``table`` (what a derive must recompute the weeks of)."""
        schema = TABLES[table]
        empty = pl.from_arrow(schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        frames = []
        for (pid, bid), grp in retirements.group_by("participant_id", "batch_id"):
            ids = sorted(set(grp["file_id"].to_list()))
            part = self._part(table, str(pid), str(bid))
            parts = [part] if self.fs.get_file_info(part).is_file else []
            if not parts:  # compacted since: its generation's parts of that table
                gen = self._generations([bucket_folder(bucket_of(str(pid)))]).get(
                    bucket_folder(bucket_of(str(pid)))
                )
                if gen is not None and (str(pid), str(bid)) in gen.batches:
                    # rows retired before the compaction sit in its parts of retired rows
                    parts = gen.parts.get(table, []) + gen.retired.get(table, [])
            if parts:
                frames.append(
                    self._read_parts(parts, empty).filter(
                        (pl.col("participant_id") == str(pid)) & pl.col("file_id").is_in(ids)
                    )
                )
        return pl.concat(frames) if frames else empty.lazy()

    def retired_in(self, parts: list[str]) -> dict[str, list[str]]:
        """Part path -> file ids whose rows in that part are retired (only parts that have some).

        A fresh part: the retirements of its batch. A compacted part: those of
        any batch its generation holds, made after the part was written (the
        generation named in the part's file name, which a part carried
        unchanged into later generations keeps): compaction moves rows retired
        before it into the generation's parts of retired rows, and the same
        bytes ingested again since may sit in the same part, live.
        """
        retired = self.retirements()
        if retired.height == 0 or not parts:
            return {}
        by_batch: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for pid, bid, fid, at in retired.select(
            *_RETIRED_KEY, pl.col("retired_at").dt.epoch("ns")
        ).iter_rows():
            by_batch.setdefault((pid, bid), []).append((fid, at))
        held: dict[str, tuple[frozenset[tuple[str, str]], int]] = {}
        if any(not self._is_fresh(p) for p in parts):
            for gen in self._generations().values():
                for paths in gen.parts.values():
                    held.update(
                        {p: (gen.batches, _written_of(p)) for p in paths if not self._is_fresh(p)}
                    )
        out: dict[str, list[str]] = {}
        for part in parts:
            if self._is_fresh(part):
                ids = [f for f, _ in by_batch.get(self._batch_of(part), [])]
            else:
                batches, written = held.get(part, (frozenset(), 0))
                ids = [f for b in batches for f, at in by_batch.get(b, []) if at > written]
            if ids:
                out[part] = sorted(set(ids))
        return out

    def history(self, table: str, participants: Iterable[str] | None = None) -> pl.LazyFrame:
        """Every row ``table`` holds, counted or retired, with ``retired`` (bool) saying which.

        The lake keeps its history: a retirement marks rows, compaction carries
        the retired ones in parts of their own, and nothing is deleted (only a
        superseded version of a file is replaced). ``scan`` is this without the
        retired rows.
        """
        want = None if participants is None else sorted(set(participants))
        schema = TABLES[table]
        empty = pl.from_arrow(schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        parts = self.committed_parts(table, want)
        retired = self.retired_in(parts)
        frames = [empty.lazy().with_columns(pl.lit(False).alias("retired"))]
        frames += [
            self._read_parts([p], empty).with_columns(
                pl.col("file_id").is_in(retired.get(p, [])).alias("retired")
            )
            for p in parts
        ]
        for gen in self._generations(self._buckets_of(want)).values():
            frames += [
                self._read_parts([p], empty).with_columns(pl.lit(True).alias("retired"))
                for p in gen.retired.get(table, [])
            ]
        frame = pl.concat(frames)
        return frame if want is None else frame.filter(pl.col("participant_id").is_in(want))

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
            self._remember(self._manifest())
        assert self._known is not None
        return self._known.copy()

    def _remember(self, manifest: pl.DataFrame) -> None:
        """Index a whole-manifest read: live files per participant and every known file id.

        A file whose every row is retired is not known: the next ingest reads it afresh.
        """
        self._live, self._live_complete = _live_of(manifest), True
        self._known = KnownFiles.of(manifest.filter(pl.col("status") != RETIRED_STATUS))
        live = manifest.filter(~pl.col("status").is_in(NOT_LIVE))
        self._known.reread = self._partly_forgotten(manifest, live)
        read_whole = (
            live.filter(pl.col("status") == "ok").select("participant_id", "file_id").unique()
        )
        unread = live.filter(pl.col("status").is_in(NOT_READ_WHOLE)).join(
            read_whole, on=["participant_id", "file_id"], how="anti"
        )
        holders = live.join(
            unread.select("participant_id", pl.col("container_id").alias("file_id"))
            .drop_nulls()
            .unique(),
            on=["participant_id", "file_id"],
        )
        self._unread = pl.concat([unread, holders]).unique(maintain_order=True)
        self._members = _members_by_archive(live)

    def archive_members(self, file_id: str) -> int:
        """How many members (nested archives and their members included) the archive ``file_id`` has in the manifest.

        What a run that finds the archive already known counts as its members
        without opening it, so a re-run counts what the first run counted. By
        file id, not path: a study folder moved since keeps its counts.
        """
        if self._members is None:
            self._remember(self._manifest())
        assert self._members is not None
        return self._members.get(file_id, 0)

    def holds_archives(self) -> bool:
        """Whether the manifest records any archive with members (else no known file needs counting)."""
        if self._members is None:
            self._remember(self._manifest())
        assert self._members is not None
        return any(self._members.values())

    def _partly_forgotten(self, manifest: pl.DataFrame, live: pl.DataFrame) -> set[str]:
        """Content-attributed files with a participant retired since the file was last read, and their archives.

        Such a file still has live rows (the other participants'), so it is
        known; but what the retired participant's rows held is to be read
        again (``KnownFiles.reread``). Once read again, the file has a row newer
        than the retirement and is known as before.
        """
        attributed = pl.any_horizontal(
            pl.col("kind").str.starts_with(prefix) for prefix in ATTRIBUTED_BY_CONTENT
        )
        gone = manifest.filter((pl.col("status") == RETIRED_STATUS) & attributed)
        if gone.height == 0:
            return set()
        dated = gone.join(
            self.retirements().select(*_RETIRED_KEY, "retired_at"), on=_RETIRED_KEY
        ).join(
            live.select("participant_id", "file_id"), on=["participant_id", "file_id"], how="anti"
        )
        last_gone = dated.group_by("file_id").agg(pl.col("retired_at").max())
        last_read = live.group_by("file_id").agg(
            pl.col("ingested_at").max(), pl.col("container_id").drop_nulls().unique()
        )
        due = last_gone.join(last_read, on="file_id").filter(
            pl.col("retired_at") > pl.col("ingested_at")
        )
        return set(due["file_id"].to_list()) | set(
            due["container_id"].explode(empty_as_null=True).drop_nulls().to_list()
        )

    def unread_rows(self) -> pl.DataFrame:
        """Live manifest rows of files not read whole, and the rows of the archives that hold them.

        Skipped, quarantined and partial files whose bytes no live ``ok`` row
        holds: what a newer reader or changed settings may read (more). From
        the same whole-manifest read as ``known_file_ids``.
        """
        if self._unread is None:
            self._remember(self.manifest())
        assert self._unread is not None
        return self._unread

    def _forget(self) -> None:
        self._live, self._live_complete, self._known, self._unread = {}, False, None, None
        self._members = None
        self._gens, self._gens_complete = {}, False

    def scan(self, table: str, participants: Iterable[str] | None = None) -> pl.LazyFrame:
        """Lazy frame over one table's committed rows (typed even when empty)."""
        parts = self.committed_parts(table, participants)
        frame = self._scan_parts(table, parts)
        if participants is not None and any(not self._is_fresh(p) for p in parts):
            frame = frame.filter(pl.col("participant_id").is_in(sorted(set(participants))))
        return frame

    def scan_batches(self, table: str, batches: Iterable[tuple[str, str]]) -> pl.LazyFrame:
        """Lazy frame over the rows that the given ``(participant_id, batch_id)`` batches wrote to ``table``.

        Only committed batches count. Looks at those batches' files alone (or
        the generations holding them), so reading back what one ingest wrote
        costs what that ingest wrote.
        """
        wanted = sorted(set(batches))
        covered = self._covered(wanted)
        own = [b for b in wanted if b not in covered]
        manifests = self.fs.get_file_info([self._part(MANIFEST, pid, bid) for pid, bid in own])
        candidates = [
            self._part(table, pid, bid)
            for (pid, bid), m in zip(own, manifests, strict=True)
            if m.is_file
        ]
        parts = [i.path for i in self.fs.get_file_info(candidates) if i.is_file]
        frames = [self._scan_parts(table, parts)]
        for gen in self._generations({bucket_folder(bucket_of(p)) for p, _ in covered}).values():
            held = [b for b in covered if b in gen.batches]
            ids = (
                self._generation_rows(gen)
                .join(
                    pl.DataFrame(held, schema=["participant_id", "batch_id"], orient="row"),
                    on=["participant_id", "batch_id"],
                )["file_id"]
                .to_list()
            )
            frames.append(
                self._scan_parts(table, gen.parts.get(table, [])).filter(
                    pl.col("file_id").is_in(ids)
                )
            )
        return frames[0] if len(frames) == 1 else pl.concat(frames)

    def _scan_parts(self, table: str, parts: list[str]) -> pl.LazyFrame:
        """Rows of ``parts``, without the rows of retired files (only parts that hold some are filtered)."""
        schema = TABLES[table]
        empty = pl.from_arrow(schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        if not parts:
            return empty.lazy()
        retired = self.retired_in(parts) if table in LAKE_TABLES else {}
        clean = [p for p in parts if p not in retired]
        frames = [self._read_parts(clean, empty)] if clean else []
        frames += [
            self._read_parts([p], empty).filter(~pl.col("file_id").is_in(ids))
            for p, ids in retired.items()
        ]
        return frames[0] if len(frames) == 1 else pl.concat(frames)

    def _read_parts(self, parts: list[str], empty: pl.DataFrame) -> pl.LazyFrame:
        if isinstance(self.fs, pafs.LocalFileSystem):
            # A part written before a column existed reads it as null (``profiles.birth_year``).
            return pl.scan_parquet(parts, schema=empty.schema, missing_columns="insert")
        table = pq.read_table(
            parts, filesystem=self.fs, schema=empty.to_arrow().schema, partitioning=None
        )
        return pl.from_arrow(table).lazy()  # type: ignore[union-attr]

    # -- compaction ----------------------------------------------------------
    def compact(
        self,
        threshold: int = COMPACT_AFTER_BATCHES,
        buckets: Iterable[int] | None = None,
        adopt_bytes: int = ADOPT_PART_BYTES,
    ) -> CompactionReport:
        """Fold the fresh batches of every bucket holding at least ``threshold`` of them into a new generation.

        ``buckets`` limits the work to some buckets (those a run touched).
        A batch with a data part of at least ``adopt_bytes`` is adopted, not
        rewritten. What it replaces stays on disk, unread, until ``sweep``.
        """
        report = CompactionReport()
        only = None if buckets is None else {bucket_folder(b) for b in buckets}
        by_bucket: dict[str, list[tuple[str, str]]] = {}
        for pid, bid in sorted(self._fresh_commits()):
            by_bucket.setdefault(bucket_folder(bucket_of(pid)), []).append((pid, bid))
        for bucket, units in sorted(by_bucket.items()):
            if (only is None or bucket in only) and len(units) >= max(threshold, 1):
                self._compact_bucket(bucket, units, report, adopt_bytes)
        return report

    def _compact_bucket(
        self,
        bucket: str,
        units: list[tuple[str, str]],
        report: CompactionReport,
        adopt_bytes: int = ADOPT_PART_BYTES,
    ) -> None:
        old = self._generations([bucket]).get(bucket)
        name = f"g{time.time_ns():020d}"
        if old is not None and name <= old.name:
            name = f"g{int(old.name[1:]) + 1:020d}"
        parts: dict[str, list[str]] = {}
        retired_parts: dict[str, list[str]] = {}
        infos = {
            table: self.fs.get_file_info([self._part(table, pid, bid) for pid, bid in units])
            for table in LAKE_TABLES
        }
        large = {
            unit
            for k, unit in enumerate(units)
            if any(i[k].is_file and (i[k].size or 0) >= adopt_bytes for i in infos.values())
        }
        for table, schema in LAKE_TABLES.items():
            present = [(u, i.path) for u, i in zip(units, infos[table], strict=True) if i.is_file]
            fresh = [path for u, path in present if u not in large]
            old_parts = old.parts.get(table, []) if old is not None else []
            adopted = [p for p in old_parts if self._is_fresh(p)]
            adopted += [path for u, path in present if u in large]
            by_month = {_month_of_part(p): p for p in old_parts if not self._is_fresh(p)}
            gone_by_month = {
                _month_of_part(p): p
                for p in (old.retired.get(table, []) if old is not None else [])
            }
            if fresh:
                self._compact_table(
                    table, schema, fresh, f"{bucket}/{name}", by_month, gone_by_month, report
                )
            parts[table] = sorted(by_month.values()) + sorted(adopted)
            if gone_by_month:
                retired_parts[table] = sorted(gone_by_month.values())
        fresh_rows = self._manifest_rows(units)
        held = [fresh_rows] if old is None else [self._generation_rows(old), fresh_rows]
        manifest = pl.concat(held, how="vertical_relaxed").sort("participant_id", "path")
        listed = json.dumps([p.removeprefix(f"{self.root}/") for t in parts for p in parts[t]])
        kept = json.dumps(
            [p.removeprefix(f"{self.root}/") for t in retired_parts for p in retired_parts[t]]
        )
        table = conform(manifest.to_arrow(), GENERATION_FILES).replace_schema_metadata(
            {
                **(GENERATION_FILES.metadata or {}),
                PARTS_KEY: listed.encode(),
                RETIRED_PARTS_KEY: kept.encode(),
            }
        )
        manifest_part = f"{self.root}/{MANIFEST}/{bucket}/{name}.parquet"
        self._write_atomic(table, manifest_part)  # the commit: from here the generation counts
        batches = frozenset(units) | (old.batches if old is not None else frozenset())
        self._gens[bucket] = Generation(bucket, name, manifest_part, parts, batches, retired_parts)
        report.buckets.append(bucket)
        report.batches += len(units)
        report.adopted += len(large)
        report.parts_written += 1

    def _compact_table(
        self,
        table: str,
        schema: pa.Schema,
        fresh: list[str],
        generation: str,
        by_month: dict[str, str],
        gone_by_month: dict[str, str],
        report: CompactionReport,
    ) -> None:
        """Write one table's new parts of a generation: per month its live rows, and its retired rows apart.

        Every month the fresh parts reach is rewritten with the month's current
        part; rows retired by then (in the fresh parts, or in the old part
        since it was written) join the month's part of retired rows, so
        compaction deletes nothing. ``by_month`` and ``gone_by_month`` (month
        -> part) are updated in place; months the fresh rows do not reach keep
        their parts.
        """
        empty = pl.from_arrow(schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        column = MONTH_COLUMNS[table]
        month = pl.col(column).dt.strftime("%Y-%m").fill_null(NO_MONTH).alias("_month")

        def flagged(paths: list[str]) -> pl.DataFrame:
            retired = self.retired_in(paths)
            clean = [p for p in paths if p not in retired]  # one scan: a backlog is many parts
            frames = []
            if clean:
                frames.append(
                    self._read_parts(clean, empty).with_columns(pl.lit(False).alias("_retired"))
                )
            frames += [
                self._read_parts([p], empty).with_columns(
                    pl.col("file_id").is_in(ids).alias("_retired")
                )
                for p, ids in retired.items()
            ]
            return pl.concat(frames).with_columns(month).collect()

        rows = flagged(fresh)
        root = f"{self.root}/{table}/{generation}"
        for (key,), new in rows.group_by("_month"):
            key = str(key)
            if key in by_month:
                new = pl.concat([flagged([by_month[key]]), new])
            live = new.filter(~pl.col("_retired")).drop("_month", "_retired")
            gone = new.filter(pl.col("_retired")).drop("_month", "_retired")
            if key in gone_by_month and gone.height:
                gone = pl.concat([self._read_parts([gone_by_month[key]], empty).collect(), gone])
            for frame, target, suffix in (
                (live, by_month, ".parquet"),
                (gone, gone_by_month, RETIRED_PART_SUFFIX),
            ):
                if frame.height == 0:
                    if suffix == ".parquet":
                        target.pop(key, None)  # every row of the month is retired now
                    continue
                path = f"{root}-{key}{suffix}"
                ordered = frame.sort("participant_id", column, nulls_last=True).to_arrow()
                self._write_atomic(conform(ordered, schema), path)
                target[key] = path
                report.parts_written += 1

    def _manifest_rows(self, units: list[tuple[str, str]]) -> pl.DataFrame:
        """The manifest rows of some fresh batches, each with its batch id.

        On a local disk the parts are read in one call (a bucket's backlog can
        be thousands of one-row parts; one by one they cost a few ms each).
        """
        if units and isinstance(self.fs, pafs.LocalFileSystem):
            empty = pl.from_arrow(FILES.empty_table())
            assert isinstance(empty, pl.DataFrame)
            read = pl.read_parquet(
                [self._part(MANIFEST, pid, bid) for pid, bid in units],
                schema=empty.schema,
                include_file_paths="_part",
                missing_columns="insert",  # a part written before a manifest column existed: null
            )
            return read.with_columns(
                pl.col("_part").str.extract(r"/([^/]+)\.parquet$").alias("batch_id")
            ).drop("_part")
        frames = []
        for pid, bid in units:
            read = pq.read_table(
                self._part(MANIFEST, pid, bid), filesystem=self.fs, partitioning=None
            )  # a part written before a manifest column existed reads it as null
            frame = pl.DataFrame(conform(read, FILES))
            assert isinstance(frame, pl.DataFrame)
            frames.append(frame.with_columns(pl.lit(bid).alias("batch_id")))
        return pl.concat(frames, how="vertical_relaxed")

    def sweep(self) -> list[str]:
        """Delete what the current generations replaced; returns the paths deleted.

        Fresh batches a generation holds and parts no current generation
        names go first, then older generations' manifest parts. Only call it
        when nothing still names those files (after the warehouse refresh).
        """
        self._gens, self._gens_complete = {}, False
        gens = self._generations()
        held = {b for g in gens.values() for b in g.batches}
        named = {p for g in gens.values() for p in g.named()}
        current = {g.manifest_part for g in gens.values()}
        first: list[str] = []
        last: list[str] = []
        for table in (*LAKE_TABLES, MANIFEST):
            for path in self._parts_in(f"{self.root}/{table}", recursive=True):
                if self._is_fresh(path):
                    if self._batch_of(path) in held and path not in named:  # not an adopted part
                        (last if table == MANIFEST else first).append(path)
                elif table == MANIFEST:
                    if path not in current:
                        last.append(path)
                elif path not in named:
                    first.append(path)
        for path in (*first, *last):
            self.fs.delete_file(path)
        return [*first, *last]

    def file_count(self) -> int:
        """Files under the lake root (what a recovery lists)."""
        sel = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        return sum(1 for i in self.fs.get_file_info(sel) if i.is_file)

    # -- replacement and recovery -------------------------------------------
    def _rewrite_without(
        self,
        path: str,
        schema: pa.Schema,
        file_ids: set[str],
        status_update: bool,
        *,
        keep_empty: bool = False,
    ) -> None:
        with self.fs.open_input_file(path) as handle:
            pf = pq.ParquetFile(handle)
            metadata = pf.schema_arrow.metadata
            table = conform(pf.read(), schema)
        in_old = pc.is_in(table.column("file_id"), value_set=pa.array(sorted(file_ids)))
        if not pc.any(in_old).as_py():
            return  # nothing of those files here (a month of a generation they never reached)
        if status_update:
            status = pc.if_else(in_old, pa.scalar(SUPERSEDED), table.column("status"))
            table = table.set_column(
                table.schema.get_field_index("status"), schema.field("status"), status
            )
        else:
            table = table.filter(pc.invert(in_old))
        if table.num_rows == 0 and not status_update and not keep_empty:
            self.fs.delete_file(path)
        else:
            self._write_atomic(table.replace_schema_metadata(metadata), path)

    def _finish_replacements(self, manifest: pl.DataFrame) -> bool:
        """Retire rows of files that a newer version of the same logical file replaced.

        Two versions of one file share (participant, logical path); the one
        ingested last wins. ``manifest`` (from ``_manifest``) holds the rows
        to check (one participant's, or all). Returns whether anything was
        retired; running this twice does nothing the second time.
        """
        live = manifest.filter(~pl.col("status").is_in(NOT_LIVE)).with_columns(
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
        in_generations: dict[str, set[str]] = {}
        for (pid, bid, bucket), grp in old.group_by("participant_id", "batch_id", GEN_COLUMN):
            ids = set(grp["file_id"].to_list())
            if bucket is not None:
                in_generations.setdefault(str(bucket), set()).update(ids)
                continue
            for table in LAKE_TABLES:
                part = self._part(table, str(pid), str(bid))
                if self.fs.get_file_info(part).is_file:
                    self._rewrite_without(part, LAKE_TABLES[table], ids, status_update=False)
            self._rewrite_without(
                self._part(MANIFEST, str(pid), str(bid)), FILES, ids, status_update=True
            )
        for bucket, ids in sorted(in_generations.items()):
            gen = self._generations([bucket])[bucket]
            for table, paths in gen.parts.items():
                for part in paths:
                    self._rewrite_without(
                        part, LAKE_TABLES[table], ids, status_update=False, keep_empty=True
                    )
            self._rewrite_without(gen.manifest_part, GENERATION_FILES, ids, status_update=True)
        return True

    def recover(self) -> list[str]:
        """Make the lake consistent after a crash; returns the orphan parts and temporary files removed.

        One recursive listing of the lake finds both, and the one read of the
        whole manifest it needs also serves ``known_file_ids`` afterwards. A
        compacted part that no generation's manifest part names is a killed
        compaction's leftover and goes too.
        """
        sel = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        infos = [i for i in self.fs.get_file_info(sel) if i.is_file]
        files = sorted(i.path for i in infos)
        prefix = f"{self.root}/"
        parts: dict[str, list[str]] = {}
        for path in files:
            if path.endswith(".parquet"):
                parts.setdefault(path.removeprefix(prefix).split("/", 1)[0], []).append(path)
        manifests = parts.get(MANIFEST, [])
        committed = {self._batch_of(p) for p in manifests if self._is_fresh(p)}
        named: set[str] = set()
        for p in manifests:
            if not self._is_fresh(p):
                bucket = p.rsplit("/", 2)[-2]
                gen = self._read_generation(bucket, p)
                named.update(gen.named())
        removed = [
            p
            for table in LAKE_TABLES
            for p in parts.get(table, [])
            if p not in named and (not self._is_fresh(p) or self._batch_of(p) not in committed)
        ]
        removed += [p for p in files if p.endswith(TEMPORARY_SUFFIX)]
        for path in removed:
            self.fs.delete_file(path)
        self._forget()
        manifest = self._manifest()
        if self._finish_replacements(manifest):
            self._forget()
            manifest = self._manifest()
            infos = [i for i in self.fs.get_file_info(sel) if i.is_file]
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
        that part (a generation: at least one part of that table, and every
        part it names). A part shorter than a Parquet file can be (header and
        footer magic) is damaged. Both come from the listing recovery already
        makes, so the check costs no extra read.
        """
        counted = {
            "minutes": "rows_minutes",
            "daily_totals": "rows_daily_totals",
            "sessions": "rows_sessions",
        }
        live = manifest.filter(~pl.col("status").is_in(NOT_LIVE))
        damaged: list[tuple[str, str]] = []

        def check(path: str, what: str) -> None:
            size = sizes.get(path, -1)
            if size == -1:
                damaged.append((path, f"missing ({what})"))
            elif size is not None and size < MIN_PARQUET_BYTES:
                damaged.append((path, f"unreadable: {size} bytes, too short to be a Parquet file"))

        fresh = live.filter(pl.col(GEN_COLUMN).is_null())
        expected = fresh.group_by("participant_id", "batch_id").agg(
            pl.col(c).sum() for c in counted.values()
        )
        for row in expected.sort("participant_id", "batch_id").iter_rows(named=True):
            for table, col in counted.items():
                if row[col]:
                    path = self._part(table, str(row["participant_id"]), str(row["batch_id"]))
                    check(path, f"its manifest says {row[col]:,} {table} rows")
        held = live.filter(pl.col(GEN_COLUMN).is_not_null())
        totals = held.group_by(GEN_COLUMN).agg(pl.col(c).sum() for c in counted.values())
        for row in totals.sort(GEN_COLUMN).iter_rows(named=True):
            gen = self._generations([str(row[GEN_COLUMN])])[str(row[GEN_COLUMN])]
            for table, col in counted.items():
                if row[col] and not gen.parts.get(table):
                    damaged.append(
                        (
                            f"{self.root}/{table}/{gen.bucket}/{gen.name}-*.parquet",
                            f"missing (its generation's manifest says {row[col]:,} {table} rows)",
                        )
                    )
            for path in gen.named():
                check(path, f"generation {gen.bucket}/{gen.name} names it")
        return damaged


LISTED_KEY = "listed"
"""Notes key of an archive's manifest row: how many members (nested ones included) it listed when read."""


def _names_archives(manifest: pa.Table) -> bool:
    """Whether any row is one ``_members_by_archive`` counts (an archive, or a member of one)."""
    return manifest.column("container_id").null_count < manifest.num_rows or (
        "zip" in manifest.column("kind").to_pylist()
    )


def _members_by_archive(manifest: pl.DataFrame) -> dict[str, int]:
    """Archive file id -> its members: the count its row's notes recorded, else its rows' member paths.

    Members whose bytes were already known from elsewhere get no manifest row
    of their own, so the count recorded when the archive was read is what a
    re-run counts; rows written before that note existed count by path.
    """
    members = (
        manifest.lazy()
        .filter(pl.col("container_id").is_not_null())
        .select("container_id", "path")
        .unique()
        .group_by("container_id")
        .len()
        .collect()
    )
    out = dict(zip(members["container_id"].to_list(), members["len"].to_list(), strict=True))
    listed = manifest.filter(pl.col("kind") == "zip").select(
        "file_id",
        pl.col("notes").str.json_path_match(f"$.{LISTED_KEY}").cast(pl.Int64, strict=False),
    )
    out.update({fid: n for fid, n in listed.drop_nulls().iter_rows()})
    return out


def _is_generation(name: str) -> bool:
    return len(name) == GENERATION_LENGTH and name.startswith("g") and name[1:].isdigit()


def _month_of_part(path: str) -> str:
    """``YYYY-MM`` of a compacted part, from its name ``<generation>-<YYYY-MM>[.retired].parquet``."""
    name = path.rsplit("/", 1)[-1].removesuffix(RETIRED_PART_SUFFIX).removesuffix(".parquet")
    return name[GENERATION_LENGTH + 1 :]


def _written_of(path: str) -> int:
    """When a compacted part was written: the nanoseconds of the generation in its name."""
    return int(path.rsplit("/", 1)[-1][1:GENERATION_LENGTH])


def _live_of(manifest: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Participant -> logical path -> file id of the live (not superseded) manifest rows; newest wins."""
    live = (
        manifest.filter(~pl.col("status").is_in(NOT_LIVE))
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


_RETIRED_KEY = ["participant_id", "batch_id", "file_id"]


def now_utc() -> datetime:
    return datetime.now(UTC)


def _conformed(pieces: pa.Table | Sequence[pa.Table], schema: pa.Schema) -> pa.Table:
    """One canonical table from one or more pieces: pieces of one shape are joined, then each shape conformed."""
    if isinstance(pieces, pa.Table):
        return conform(pieces, schema)
    shapes: dict[str, list[pa.Table]] = {}
    for t in pieces:
        shapes.setdefault(t.schema.to_string(show_schema_metadata=False), []).append(t)
    if not shapes:
        return schema.empty_table()
    return pa.concat_tables([conform(pa.concat_tables(g), schema) for g in shapes.values()])
