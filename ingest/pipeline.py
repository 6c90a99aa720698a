"""Ingest raw files into the lake: hash, detect, read, quarantine, commit.

This is the I/O edge around the pure readers. For each input (a file, a
folder or a zip) it records every file it saw in the manifest, writes the
canonical rows of new files in one batch per participant, copies refused
files to the quarantine with their reason, and skips bytes it has already
ingested, so running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from config import Study
from config.participant_id import RULE, problem_with, validate_participant_id
from config.schema import FILES, LAKE_TABLES
from ingest.archive import Bundle, Refusal, is_zip_bytes, open_bundle
from ingest.archive_limits import archive_limits_of
from ingest.contract import (
    BundleReader,
    Member,
    ReadContext,
    ReaderUnavailable,
    ReadResult,
    must_propagate,
)
from ingest.fingerprints import file_id_of
from ingest.parallel import ReaderPool
from ingest.recognise import FAMILIES, HEAD_BYTES, recognise
from ingest.regular_files import SpecialFileError, open_regular, read_regular
from ingest.roster_hold import HELD_KIND, hold_reason
from ingest.time_window import CREATED_KEY, WRITTEN_KEY, Window, within_window
from ingest.versions import (
    family_of_module,
    intake_settings,
    reader_versions,
    settings_json,
    stale_rows,
    versions_json,
)
from store.lake import LISTED_KEY, SHARED_BYTES_NOTE, Batch, KnownFiles, Lake
from store.quarantine import quarantine

FIT_MAGIC = b".FIT"
FROM_ID_ONLY = "_from-id"
"""Participant of ``irisin ingest --participant-from-id`` without ``--participant``: every row must
take its participant from the file's own ids; rows of a file that names none are left out."""
ANY_FAMILY = "*"
"""``ReadResult.family`` of a file no reader claimed: any family's next version may read it."""
ARCHIVE_FAMILY = "archive"


def looks_like_fit(name: str, head: bytes) -> bool:
    return name.lower().endswith(".fit") or (len(head) >= 12 and head[8:12] == FIT_MAGIC)


@dataclass(frozen=True)
class _BundleKind:
    name: str
    module: str
    detect: str
    read: str


BUNDLE_KINDS: tuple[_BundleKind, ...] = (
    _BundleKind("garmin_export", "ingest.garmin", "looks_like_garmin_export", "read_garmin_export"),
    _BundleKind(
        "fitbit_takeout", "ingest.fitbit", "looks_like_fitbit_export", "read_fitbit_export"
    ),
    _BundleKind("fitabase", "ingest.fitbit", "looks_like_fitabase_export", "read_fitabase_export"),
    _BundleKind(
        "apple_health", "ingest.apple", "looks_like_apple_health_export", "read_apple_health_export"
    ),
    _BundleKind(
        "activity_xml", "ingest.activity_xml", "looks_like_activity_xml", "read_activity_xml"
    ),
)
"""Export readers, tried in order; each claims the members it recognises."""


def _reader_bug(e: BaseException) -> bool:
    """Whether an exception out of a reader is a fault of the file to record, not a signal to pass on.

    Rust extensions (polars) raise ``PanicException``, a ``BaseException``; it
    must quarantine the file like any other reader failure. Transient errors
    (``TransientInputError``, ``OSError``) go up to the flow's retry and leave
    the file for the next run; Ctrl-C and interpreter exit propagate.
    """
    return not must_propagate(e)


FIT_READER = ("ingest.fit.reader", "read_fit")
FIT_BATCH_READER = ("ingest.fit.reader", "read_fits")
FIT_READ_WINDOW = 1024
"""New FIT members of one export read (and held in memory) together at most."""
FIT_READ_BYTES = 64 << 20
"""Bytes of new FIT members held before they are read: a window is read once it holds this much,
so a large member (a FIT of hundreds of MB) is read with at most this much beside it, never
together with a thousand others."""


def _load_attr(module: str, attr: str) -> Callable[..., Any]:
    """A reader function; a reader that cannot be imported is an installation fault that stops the run."""
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as e:
        raise ReaderUnavailable(
            f"the reader {module}.{attr} cannot be loaded ({type(e).__name__}: {e}); "
            "irisin is not installed completely: reinstall it (make .venv/.installed or pip install -e .)"
        ) from e


STREAM_MEMBERS_OVER = 64 << 20
"""Members larger than this (and able to stream) are hashed from a stream, never held whole."""


def _hash_stream(member: Member) -> tuple[str, bytes]:
    """The file id (SHA-256, as ``file_id_of``) and head of a member, read as a stream."""
    assert member.stream is not None
    digest = hashlib.sha256()
    head = b""
    with member.stream() as f:
        while chunk := f.read(1 << 20):
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            digest.update(chunk)
    return digest.hexdigest(), head


def _identify_loose(path: Path) -> tuple[str, bytes, int, bytes | None]:
    """A loose file's id (SHA-256), first bytes, size and, when small, its bytes.

    A file over ``STREAM_MEMBERS_OVER`` (an ``export.zip`` of several GB) is
    hashed from a stream in 1 MiB blocks and not held; its bytes are ``None``.
    Raises ``SpecialFileError`` for anything but a regular file.
    """
    with open_regular(path, follow_symlinks=True) as f:
        size = os.fstat(f.fileno()).st_size
        if size <= STREAM_MEMBERS_OVER:
            data = f.read()
            return file_id_of(data), data[:HEAD_BYTES], len(data), data
        digest = hashlib.sha256()
        head = b""
        read = 0
        while block := f.read(1 << 20):
            if len(head) < HEAD_BYTES:
                head += block[: HEAD_BYTES - len(head)]
            digest.update(block)
            read += len(block)
    return digest.hexdigest(), head, read, None


def _reader_of(path: Path) -> Callable[[], bytes]:
    """A loader of a loose file's bytes, read only if needed (a quarantine copy of a refused archive)."""
    return lambda: read_regular(path, follow_symlinks=True)


def _head(member: Member) -> bytes:
    """The first bytes of a member for recognition; nothing when it cannot be loaded (its reader says why)."""
    try:
        return member.load()[:HEAD_BYTES]
    except Exception:
        return b""


def check_readers() -> None:
    """Import every reader now, so a broken installation fails the run before any file is touched."""
    _load_attr(*FIT_READER)
    _load_attr(*FIT_BATCH_READER)
    for kind in BUNDLE_KINDS:
        _load_attr(kind.module, kind.detect)
        _load_attr(kind.module, kind.read)


def _decided_by(result: ReadResult, family: str) -> ReadResult:
    """``result``, with the reader family that decided it (unless a reader set one)."""
    if result.family is None:
        result.family = family
    return result


def _fit_reader_failed(e: BaseException) -> ReadResult:
    """The result of a FIT file the reader raised on: quarantined with the error, the batch unharmed."""
    if not _reader_bug(e):
        raise e
    return ReadResult(
        kind="fit",
        status="quarantined",
        reason=f"FIT reader failed: {type(e).__name__}: {e}",
        family="fit",
    )


def read_fit_guarded(data: bytes, ctx: ReadContext) -> ReadResult:
    """The FIT reader; a reader bug quarantines the file instead of sinking the batch."""
    reader = _load_attr(*FIT_READER)
    try:
        return _decided_by(reader(data, ctx), "fit")
    except BaseException as e:  # a reader bug must not sink the batch
        return _fit_reader_failed(e)


def read_fits_guarded(jobs: Sequence[tuple[bytes, ReadContext]]) -> list[ReadResult]:
    """``read_fit_guarded`` of many files, converted in one batch (``ingest.fit.reader.read_fits``).

    The same results, file by file, as reading them one at a time.
    """
    if not jobs:
        return []
    reader = _load_attr(*FIT_BATCH_READER)
    return [
        _fit_reader_failed(o) if isinstance(o, BaseException) else _decided_by(o, "fit")
        for o in reader(jobs)
    ]


_read_fit = read_fit_guarded


@dataclass
class FileOutcome:
    """What happened to one file or archive member."""

    file_id: str
    path: str
    participant_id: str
    kind: str
    status: str
    reason: str | None
    rows: dict[str, int] = field(default_factory=dict)
    new: bool = True
    left_out: dict[str, int] = field(default_factory=dict)
    """Records the reader left out, by notes key (``LEFT_OUT``), so a report can say so without the notes."""


LEFT_OUT: dict[str, str] = {
    "records_dropped": "unreadable records",
    "duplicate_records_dropped": "exact duplicate records, counted once",
    "samples_implausible_dropped": "impossible samples (heart rate outside 20-220 bpm, negative steps)",
    "times_implausible_dropped": "records dated before the device existed or after the run's clock plus a day",
    "labels_unknown_records": "records with a label irisin does not know",
}
"""Notes keys counting records a reader left out, and what they are in words."""


def left_out_of(notes: dict[str, Any]) -> dict[str, int]:
    """The ``LEFT_OUT`` counts of a file's notes (only those above 0)."""
    return {k: int(notes[k]) for k in LEFT_OUT if isinstance(notes.get(k), int) and notes[k] > 0}


@dataclass
class IngestReport:
    """Outcome of one ingest call: every file seen, and the lake batches its new files were committed in.

    ``batches`` (``(participant_id, batch_id)``) lets a caller read back just
    the new rows (their weeks are what a nightly recomputes) from the parts
    those batches wrote, without listing or reading the rest of the lake.
    """

    outcomes: list[FileOutcome] = field(default_factory=list)
    batches: list[tuple[str, str]] = field(default_factory=list)
    known_members: int = 0
    """Members of archives found already known, counted from the manifest rather than listed one by one."""

    def extend(self, other: IngestReport) -> None:
        self.outcomes += other.outcomes
        self.batches += other.batches
        self.known_members += other.known_members

    def counts(self) -> Counter[tuple[str, str]]:
        """(kind, status) -> files, for new files only."""
        return Counter((o.kind, o.status) for o in self.outcomes if o.new)

    @property
    def new_files(self) -> int:
        return sum(o.new for o in self.outcomes)


def _loader(data: bytes) -> Callable[[], bytes]:
    """A ``_Pending.load`` for bytes already in memory."""
    return lambda: data


@dataclass
class _Pending:
    """A read member waiting to be committed."""

    member_path: str
    file_id: str
    size: int
    result: ReadResult
    load: Callable[[], bytes] | None
    container_id: str | None
    full_path: str | None = None
    """set for loose files committed together (``Ingestor.ingest_files``): the file's own path."""


class Ingestor:
    """Ingests inputs for one study into its lake."""

    def __init__(
        self,
        study: Study,
        lake: Lake | None = None,
        *,
        participant_from_id: bool = False,
        pool: ReaderPool | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        check_readers()
        self.clock = clock or (lambda: datetime.now(UTC))
        """the run's clock: rows dated after it plus a day are not data (``ingest.time_window``)."""
        self.pool = pool
        """worker processes for FIT reads (``ingest.parallel``); None reads in this process."""
        self.study = study
        self.lake = lake or Lake(study.paths.lake_location)
        self.quarantine_root = study.paths.quarantine
        self.participant_from_id = participant_from_id
        self.progress: Callable[[str, int, int], None] | None = None
        """Told ``(participant, files, bytes)`` as each file on disk is done (a progress bar's ``advance``):
        a loose file or zip once handled, a folder's files one by one as they are read."""
        c = study.config.ingest
        self.limits = archive_limits_of(c)
        ids = study.roster.filter(pl.col("fitabase_id").is_not_null())
        self.id_map = dict(
            zip(ids["fitabase_id"].to_list(), ids["participant_id"].to_list(), strict=True)
        )
        self._known: KnownFiles | None = None
        self._retry: dict[tuple[str, str], list[dict[str, Any]]] = {}
        """(participant, file id) -> its live manifest rows to retire when the file is read again."""
        self.versions = reader_versions()
        self._settings: dict[str, tuple[dict[str, Any], str, str]] = {}
        self._rostered = set(study.roster["participant_id"].to_list())
        self._zones: dict[str, str] = dict(
            zip(
                study.roster["participant_id"].to_list(),
                study.roster["timezone"].to_list(),
                strict=True,
            )
        )

    @property
    def known(self) -> KnownFiles:
        """The manifest's file ids with who holds each (``store.lake.KnownFiles``), kept current by commits;
        but those a reader or settings change may read now.

        A skipped, quarantined or partial file whose reader family has a new
        version, or whose settings (archive limits, participant mapping)
        changed, is left out (``ingest.versions``), with the archive holding
        it; its old rows are retired when it is committed again.
        """
        if self._known is None:
            known = self.lake.known_files()
            stale = stale_rows(
                self.lake.unread_rows(), self.versions, lambda pid: self.settings_of(pid)[0]
            )
            self._retry = {}
            if stale.height:
                unread = self.lake.unread_rows()
                holders = unread.join(
                    stale.select(
                        "participant_id",
                        pl.col("container_id").alias("file_id"),
                        "why",
                    ).unique(["participant_id", "file_id"]),
                    on=["participant_id", "file_id"],
                )
                for row in pl.concat([stale, holders], how="diagonal_relaxed").iter_rows(
                    named=True
                ):
                    self._retry.setdefault((row["participant_id"], row["file_id"]), []).append(row)
            for pid, fid in self._retry:
                known.discard(pid, fid)
            self._known = known
        return self._known

    def holds(self, participant_id: str, file_id: str) -> bool:
        """Whether these bytes are already recorded for this participant (another's copy is not theirs)."""
        return self.known.held_by(participant_id, file_id)

    def read_again(self, rows: pl.DataFrame, why: str) -> int:
        """Read the files of these live manifest rows again when next met (``irisin reprocess``).

        They leave ``known``, with the archives holding them (from
        ``Lake.unread_rows``), and their old rows are retired when they are
        committed again, as for a stale file. Returns the files marked.
        """
        _ = self.known
        assert self._known is not None
        unread = self.lake.unread_rows()
        chosen = rows.select(
            "participant_id", "batch_id", "file_id", "container_id", pl.lit(why).alias("why")
        )
        holders = unread.join(
            chosen.select("participant_id", pl.col("container_id").alias("file_id")).unique(),
            on=["participant_id", "file_id"],
        ).select("participant_id", "batch_id", "file_id", "container_id", pl.lit(why).alias("why"))
        for row in pl.concat([chosen, holders]).unique().iter_rows(named=True):
            key = (row["participant_id"], row["file_id"])
            due = self._retry.setdefault(key, [])
            if not any(r["batch_id"] == row["batch_id"] for r in due):
                due.append(row)
            self._known.discard(row["participant_id"], row["file_id"])
        return chosen.select("participant_id", "file_id").n_unique()

    def retry_due(self) -> dict[tuple[str, str], str]:
        """(participant, file id) -> why it will be read again, for the files ``known`` leaves out."""
        _ = self.known
        return {key: rows[0]["why"] for key, rows in self._retry.items()}

    def settings_of(self, participant_id: str) -> tuple[dict[str, Any], str, str]:
        """``(settings, JSON, hash)`` deciding how a participant's files are read (``ingest.versions``)."""
        cached = self._settings.get(participant_id)
        if cached is None:
            settings = intake_settings(
                self.limits,
                timezone=self._zones.get(participant_id),
                in_roster=participant_id in self._rostered,
                id_map=self.id_map,
                participant_from_id=self.participant_from_id,
            )
            cached = (settings, *settings_json(settings))
            self._settings[participant_id] = cached
        return cached

    def versions_of(self, family: str | None) -> str:
        """The ``reader_versions`` JSON of a result decided by ``family``."""
        if family is None:
            return versions_json({})
        if family == ANY_FAMILY:
            return versions_json(self.versions)
        return versions_json({family: self.versions[family]} if family in self.versions else {})

    def _ctx(self, participant_id: str, file_id: str, path: str) -> ReadContext:
        return ReadContext(
            participant_id=participant_id,
            file_id=file_id,
            path=path,
            timezone=self._zones.get(participant_id)
            or self._zones.setdefault(participant_id, self.study.timezone_of(participant_id)),
            zones=self._zones,
            id_map=self.id_map,
            participant_from_id=self.participant_from_id,
        )

    # -- entry ---------------------------------------------------------------
    def ingest(self, participant_id: str, paths: Iterable[Path]) -> IngestReport:
        """Ingest files, folders or zips for a participant."""
        report = IngestReport()
        for path in paths:
            report.extend(self.ingest_one(participant_id, Path(path)))
        return report

    def ingest_one(self, participant_id: str, path: Path) -> IngestReport:
        """Ingest one file, folder or zip for a participant (``progress`` hears of each file on disk)."""
        report = self._ingest_one(participant_id, path)
        if self.progress is not None and not path.is_dir():
            self.progress(participant_id, 1, _size_on_disk(path))
        return report

    def _file_done(self, participant_id: str, member_path: str, size: int) -> None:
        """A folder's own file (not a member of an archive inside it) is read: tell ``progress``."""
        if self.progress is not None and "!/" not in member_path:
            self.progress(participant_id, 1, size)

    def _ingest_one(self, participant_id: str, path: Path) -> IngestReport:
        validate_participant_id(participant_id, f"participant id for {path}")
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if self.is_held(participant_id):
            return self._hold(participant_id, path)
        if path.is_dir():
            return self._ingest_bundle(participant_id, path, None)
        try:
            fid, head, size, data = _identify_loose(path)
        except (
            SpecialFileError
        ) as e:  # a FIFO, device or socket given as a file: named, never opened
            refused = ReadResult(
                kind="refused", status="quarantined", reason=str(e), family=ARCHIVE_FAMILY
            )
            fid = file_id_of(f"refused:{path}".encode())
            return self._commit(
                participant_id, str(path), [_Pending("", fid, 0, refused, None, None)]
            )
        if self.holds(participant_id, fid):  # an archive's members are counted from the manifest
            return IngestReport(
                [FileOutcome(fid, str(path), participant_id, "known", "ok", None, new=False)],
                known_members=self.lake.archive_members(fid) if is_zip_bytes(head[:4]) else 0,
            )
        if is_zip_bytes(head):
            held = data
            load = (lambda: held) if held is not None else _reader_of(path)
            return self._ingest_bundle(participant_id, path, (fid, size, load))
        if data is None and not looks_like_fit(path.name, head[:12]):
            # too large to hold (a loose Apple export.xml of several GB): its reader streams it
            pending = [self._read_large_loose_file(participant_id, path, fid, size, head)]
            return self._commit(participant_id, str(path), pending)
        if data is None:  # a FIT file this large is read whole by its reader anyway
            data = read_regular(path, follow_symlinks=True)
        pending = [self._read_loose_file(participant_id, path, fid, data)]
        return self._commit(participant_id, str(path), pending)

    # -- participants the roster does not list ----------------------------------
    def is_held(self, participant_id: str) -> bool:
        """Whether this participant's files are held unread: the id is not in roster.csv.

        With ``participant_from_id`` the rows go to the participants the file
        names (``fitabase_id``), so the id given is not the one scored.
        """
        return not self.participant_from_id and participant_id not in self._rostered

    def _hold(self, participant_id: str, path: Path) -> IngestReport:
        """One manifest row per raw file (a zip is one file), ``kind=held, status=skipped``, nothing read.

        The row records ``settings.participant.in_roster = false``; once the id
        is in the roster the settings hash differs and the next run reads the
        files again by itself, retiring these rows first.
        """
        if not path.is_dir():
            return self.hold_files(participant_id, [path])
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        pending = self._held_pending(participant_id, path, files, follow_symlinks=False)
        if not pending:
            return IngestReport()
        return self._commit(participant_id, str(path), pending, folder=True)

    def hold_files(self, participant_id: str, paths: Sequence[Path]) -> IngestReport:
        """Hold loose files of an unrostered participant as one lake batch (as ``_hold`` holds a folder).

        A nightly splits a folder of FIT files into one unit per file; holding
        them together writes one manifest part, not one per file.
        """
        pending: list[_Pending] = []
        for path in paths:
            for p in self._held_pending(participant_id, path, [path], follow_symlinks=True):
                p.full_path = str(path)
                pending.append(p)
        if not pending:
            return IngestReport()
        return self._commit(participant_id, str(paths[0]), pending)

    def _held_pending(
        self, participant_id: str, root: Path, files: Sequence[Path], *, follow_symlinks: bool
    ) -> list[_Pending]:
        """The held (or, for a special file, refused) results of files below ``root`` not recorded yet."""
        reason = hold_reason(participant_id, self._rostered)
        pending: list[_Pending] = []
        for f in files:
            try:
                data = read_regular(f, follow_symlinks=follow_symlinks)
            except SpecialFileError as e:
                result = ReadResult(
                    kind="refused", status="quarantined", reason=str(e), family=ARCHIVE_FAMILY
                )
                fid = file_id_of(f"refused:{f}".encode())
                pending.append(_Pending(_member(root, f), fid, 0, result, None, None))
                continue
            fid = file_id_of(data)
            if root.is_dir():
                self._file_done(participant_id, "", len(data))
            if self.holds(participant_id, fid):
                continue
            held = ReadResult(kind=HELD_KIND, status="skipped", reason=reason)
            pending.append(_Pending(_member(root, f), fid, len(data), held, None, None))
        return pending

    # -- single files --------------------------------------------------------
    def _read_loose_file(self, participant_id: str, path: Path, fid: str, data: bytes) -> _Pending:
        ctx = self._ctx(participant_id, fid, str(path))
        if looks_like_fit(path.name, data[:12]):
            result = _read_fit(data, ctx)
        else:
            member = Member(path.name, len(data), lambda: data)
            result = self._read_loose_member(member, ctx, data[:HEAD_BYTES])
        return _Pending("", fid, len(data), result, lambda: data, None)

    def _read_large_loose_file(
        self, participant_id: str, path: Path, fid: str, size: int, head: bytes
    ) -> _Pending:
        """A loose file over ``STREAM_MEMBERS_OVER``, handed to its reader as a stream, never held whole."""
        ctx = self._ctx(participant_id, fid, str(path))
        member = Member(
            path.name,
            size,
            _reader_of(path),
            lambda: open_regular(path, follow_symlinks=True),
        )
        result = self._read_loose_member(member, ctx, head)
        return _Pending("", fid, size, result, _reader_of(path), None)

    def _read_loose_member(self, member: Member, ctx: ReadContext, head: bytes) -> ReadResult:
        """A loose file other than FIT, read as a one-member export; skipped when no reader knows it."""
        results = self._read_members([member], ctx, {member.path: head})
        return results.get(member.path) or ReadResult(
            kind="unknown",
            status="skipped",
            reason="not a file format irisin reads",
            family=ANY_FAMILY,
        )

    # -- folders and archives -------------------------------------------------
    def _read_members(
        self, members: Sequence[Member], ctx: ReadContext, heads: dict[str, bytes] | None = None
    ) -> dict[str, ReadResult]:
        """One result per member a reader recognised; each member goes to the family its name and content decide.

        ``heads`` holds the first bytes of members already loaded; others are
        loaded here. Families ``ingest.recognise`` does not know (readers added
        later) still claim members by their own ``detect``.
        """
        heads = heads or {}
        decided = {m.path: recognise(m.path, heads.get(m.path) or _head(m)) for m in members}
        paths = [m.path for m in members]
        results: dict[str, ReadResult] = {}
        for kind in BUNDLE_KINDS:
            detect = _load_attr(kind.module, kind.detect)
            read: BundleReader = _load_attr(kind.module, kind.read)
            remaining = [m for m in members if m.path not in results]
            if kind.name in FAMILIES:
                remaining = [m for m in remaining if decided[m.path].family == kind.name]
                if not remaining:
                    continue
            elif not detect(paths):
                continue
            family = family_of_module(kind.module)
            try:
                results.update({p: _decided_by(r, family) for p, r in read(remaining, ctx).items()})
            except BaseException as e:  # a reader bug must not sink the rest of the archive
                if not _reader_bug(e):
                    raise
                for m in remaining:
                    results.setdefault(
                        m.path,
                        ReadResult(
                            kind=kind.name,
                            status="quarantined",
                            reason=f"{kind.name} reader failed: {type(e).__name__}: {e}",
                            family=family,
                        ),
                    )
        for path, rec in decided.items():
            if path not in results and rec.family is None and rec.ambiguous:
                results[path] = ReadResult(
                    kind="unknown", status="skipped", reason=rec.evidence, family="recognise"
                )
            elif path in results and rec.ambiguous:  # the content decided: say so in the manifest
                results[path].notes = {
                    **results[path].notes,
                    "recognised_as": f"{rec.family}: {rec.evidence}",
                }
        return results

    def _ingest_bundle(
        self,
        participant_id: str,
        path: Path,
        archive: tuple[str, int, Callable[[], bytes]] | None,
    ) -> IngestReport:
        """A folder, or (``archive``: its id, size and a loader of its bytes) a zip file, read member by member."""
        container_id = archive[0] if archive else None
        try:
            with open_bundle(path, self.limits) as bundle:
                whole = next(
                    (r for r in bundle.refusals if r.path == ""), None
                )  # the archive itself refused
                bundle.refusals = [r for r in bundle.refusals if r is not whole]
                known: list[tuple[str, str]] = []
                pending = self._read_bundle(participant_id, path, bundle, container_id, known)
                listed = [p.member_path for p in pending] + [m for m, _ in known]
                for p in pending:  # a nested archive records its members, for a re-run's count
                    if p.member_path and p.result.kind == "zip" and p.result.status == "ok":
                        below = f"{p.member_path}!/"
                        p.result.notes = {LISTED_KEY: sum(m.startswith(below) for m in listed)}
                if archive is not None:
                    fid, size, load = archive
                    counts = Counter(p.result.status for p in pending)
                    note = ReadResult(
                        kind="zip",
                        notes={"members": dict(counts), LISTED_KEY: len(listed)},
                        family=ARCHIVE_FAMILY,
                    )
                    if whole is not None:
                        note = ReadResult(
                            kind="refused",
                            status="quarantined",
                            reason=whole.reason,
                            family=ARCHIVE_FAMILY,
                        )
                    pending.insert(0, _Pending("", fid, size, note, load if whole else None, None))
                # commit while the archive is open: quarantine copies read members lazily
                report = self._commit(participant_id, str(path), pending, folder=archive is None)
                sep = "!/" if archive is not None else "/"
                report.outcomes += [
                    FileOutcome(
                        fid, f"{path}{sep}{member}", participant_id, "known", "ok", None, new=False
                    )
                    for member, fid in known
                ]
                return report
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            if archive is None:
                raise
            fid, size, load = archive
            bad = ReadResult(
                kind="zip",
                status="quarantined",
                reason=f"corrupt zip archive: {e}",
                family=ARCHIVE_FAMILY,
            )
            return self._commit(
                participant_id, str(path), [_Pending("", fid, size, bad, load, None)]
            )

    def _read_bundle(
        self,
        participant_id: str,
        path: Path,
        bundle: Bundle,
        container_id: str | None,
        known: list[tuple[str, str]],
    ) -> list[_Pending]:
        """Pending results of the bundle's new members; ``known`` gets ``(member path, file id)`` of the others.

        Nested archives and refused members already recorded are known like any
        member, so a re-run neither records them again nor counts them new.
        """
        pending: list[_Pending] = []
        folder = container_id is None and path.is_dir()
        for c in bundle.containers:
            if folder:
                self._file_done(participant_id, c.path, c.size)
            cid = bundle.container_ids.get(c.path) or file_id_of(c.load())
            if self.holds(participant_id, cid):
                known.append((c.path, cid))
                continue
            pending.append(
                _Pending(
                    c.path,
                    cid,
                    c.size,
                    ReadResult(kind="zip", family=ARCHIVE_FAMILY),
                    None,
                    container_id,
                )
            )
        for r in bundle.refusals:
            refused = self._refused(r, container_id)
            if self.holds(participant_id, refused.file_id):
                known.append((refused.member_path, refused.file_id))
            else:
                pending.append(refused)
        ids: dict[str, str] = {}
        heads: dict[str, bytes] = {}
        others: list[Member] = []
        fits: list[tuple[Member, str, bytes, ReadContext]] = []
        held = 0  # bytes of the FIT members in ``fits``
        for m in bundle.members:
            try:
                if m.stream is not None and m.size > STREAM_MEMBERS_OVER:
                    fid, head = _hash_stream(m)
                    data = None
                else:
                    data = m.load()
                    fid, head = file_id_of(data), data[:HEAD_BYTES]
            except (
                zipfile.BadZipFile,
                SpecialFileError,
                EOFError,
            ) as e:  # an OSError is transient: raised for a retry
                pending.append(
                    self._refused(
                        Refusal(m.path, m.size, f"unreadable archive member: {e}"), container_id
                    )
                )
                continue
            ids[m.path] = fid
            if folder:
                self._file_done(participant_id, m.path, m.size)
            if looks_like_fit(m.path, head[:12]):
                if self.holds(participant_id, fid):
                    known.append((m.path, fid))
                    continue
                if data is None:  # a FIT file this large is read whole by its reader anyway
                    data = m.load()
                fits.append((m, fid, data, self._ctx(participant_id, fid, f"{path}!/{m.path}")))
                held += len(data)
                if len(fits) >= FIT_READ_WINDOW or held >= FIT_READ_BYTES:
                    pending += self._read_fit_members(fits, container_id)
                    held = 0
            else:
                others.append(m)
                heads[m.path] = head
            del data
        pending += self._read_fit_members(fits, container_id)
        # An export whose every file is known needs no reading; one with a new
        # file is read whole, since its files explain each other (clock, Ids).
        if all(self.holds(participant_id, ids[m.path]) for m in others):
            known += [(m.path, ids[m.path]) for m in others]
        else:
            ctx = self._ctx(participant_id, container_id or "", str(path))
            results = self._read_members(others, ctx, heads)
            for m in others:
                fid = ids[m.path]
                if self.holds(participant_id, fid):
                    known.append((m.path, fid))
                    continue
                res = results.get(m.path) or ReadResult(
                    kind="unknown",
                    status="skipped",
                    reason="not a file irisin reads",
                    family=ANY_FAMILY,
                )
                pending.append(_Pending(m.path, fid, m.size, res, m.load, container_id))
        return pending

    def read_fits(self, jobs: Sequence[tuple[bytes, ReadContext]]) -> list[ReadResult]:
        """Read FIT files, on the worker pool when there is one; results in job order."""
        if self.pool is None:
            return read_fits_guarded(jobs)
        return self.pool.read_fits(jobs, read_fits_guarded)

    def _read_fit_members(
        self, fits: list[tuple[Member, str, bytes, ReadContext]], container_id: str | None
    ) -> list[_Pending]:
        """Pending rows of the collected FIT members (read together), emptying ``fits``."""
        results = self.read_fits([(data, ctx) for _, _, data, ctx in fits])
        out = [
            _Pending(m.path, fid, m.size, res, m.load, container_id)
            for (m, fid, _, _), res in zip(fits, results, strict=True)
        ]
        fits.clear()
        return out

    def ingest_files(
        self,
        files: dict[str, list[Path]],
        commit_guard: Callable[[str], AbstractContextManager[Any]] | None = None,
    ) -> IngestReport:
        """Ingest loose files of several participants: new FIT files read together, one lake batch per participant.

        What a nightly shard does with its participants' new daily FIT files:
        one read over the worker pool and one batch (one part per table) per
        participant, instead of a read and a batch per file. Folders, zips and
        other files go through ``ingest_one``. ``commit_guard(participant_id)``
        is held around each participant's commit (the flows' participant lock).
        """
        guard = commit_guard or (lambda _pid: nullcontext())
        report = IngestReport()
        fits: list[tuple[str, Path, str, bytes]] = []
        collected: dict[str, str] = {}
        later: list[tuple[str, Path]] = []
        for participant_id, paths in files.items():
            validate_participant_id(participant_id, "participant id")
            if self.is_held(participant_id):  # recorded as held, nothing read
                loose_held = [p for p in paths if not p.is_dir()]
                for path in paths:
                    if path.is_dir():
                        with guard(participant_id):
                            report.extend(self.ingest_one(participant_id, path))
                if loose_held:
                    with guard(participant_id):
                        report.extend(self.hold_files(participant_id, loose_held))
                continue
            for path in paths:
                data = None
                if not path.is_dir() and looks_like_fit(path.name, b""):
                    try:
                        data = read_regular(path, follow_symlinks=True)
                    except SpecialFileError:
                        data = None  # refused by ingest_one, with its reason
                if data is None or is_zip_bytes(data[:4]):
                    with guard(participant_id):
                        report.extend(self.ingest_one(participant_id, path))
                    continue
                fid = file_id_of(data)
                if self.holds(participant_id, fid):
                    report.outcomes.append(
                        FileOutcome(fid, str(path), participant_id, "known", "ok", None, new=False)
                    )
                    continue
                if collected.setdefault(fid, participant_id) != participant_id:
                    later.append(
                        (participant_id, path)
                    )  # bytes another participant's file has: as ingest_one does
                    continue
                fits.append((participant_id, path, fid, data))
        results = self.read_fits([(d, self._ctx(pid, fid, str(p))) for pid, p, fid, d in fits])
        by_participant: dict[str, list[_Pending]] = {}
        for (pid, path, fid, data), res in zip(fits, results, strict=True):
            by_participant.setdefault(pid, []).append(
                _Pending("", fid, len(data), res, _loader(data), None, full_path=str(path))
            )
        for pid, pending in by_participant.items():
            with guard(pid):
                report.extend(self._commit(pid, pending[0].full_path or "", pending))
        for pid, path in later:
            with guard(pid):
                report.extend(self.ingest_one(pid, path))
        return report

    def _retire_before_reading_again(self, participant_id: str, file_ids: set[str]) -> None:
        """Retire the old rows of the files about to be committed again (stale ones ``known`` left out).

        Retired before the new batch is written: a crash between the two
        leaves the file unknown, so the next run reads it again; nothing ever
        counts twice.
        """
        _ = self.known
        due = [
            row for fid in sorted(file_ids) for row in self._retry.pop((participant_id, fid), [])
        ]
        if due:
            _retire_rows(self.lake, due)

    def _manifest_row(
        self,
        p: _Pending,
        full_path: str,
        participant_id: str,
        res: ReadResult,
        rows: dict[str, int],
        now: datetime,
    ) -> dict[str, Any]:
        row = _manifest_row(p, full_path, participant_id, res, rows, now)
        _, settings, settings_hash = self.settings_of(participant_id)
        row["reader_versions"] = self.versions_of(res.family)
        row["settings"] = settings
        row["settings_hash"] = settings_hash
        return row

    def _refused(self, r: Refusal, container_id: str | None) -> _Pending:
        load = r.load if callable(r.load) else None
        data = b""
        if load is not None:
            try:
                data = load()
            except Exception:  # bytes that cannot be read safely are not copied
                load = None
        fid = file_id_of(data) if data else file_id_of(f"refused:{container_id}:{r.path}".encode())
        result = ReadResult(
            kind="refused", status="quarantined", reason=r.reason, family=ARCHIVE_FAMILY
        )
        return _Pending(r.path, fid, r.size, result, (lambda: data) if data else None, container_id)

    # -- commit ----------------------------------------------------------------
    def _commit(
        self, participant_id: str, input_path: str, pending: list[_Pending], *, folder: bool = False
    ) -> IngestReport:
        """Write the pending results as one batch per participant; ``folder``: members are files under it."""
        sep = "/" if folder else "!/"
        report = IngestReport()
        now = self.clock()
        window = Window.at(now)
        by_participant: dict[
            str, tuple[dict[str, list[pa.Table | _Unfilled]], list[dict[str, Any]]]
        ] = {}
        first_path: dict[str, str] = {}
        for p in pending:
            full_path = p.full_path or (
                input_path if not p.member_path else f"{input_path}{sep}{p.member_path}"
            )
            if p.file_id in first_path:
                # the same bytes twice in one input: listed, read once
                res = ReadResult(
                    kind=p.result.kind,
                    status="skipped",
                    reason=f"same bytes as {first_path[p.file_id]}",
                )
                by_participant.setdefault(participant_id, ({}, []))[1].append(
                    self._manifest_row(p, full_path, participant_id, res, {}, now)
                )
                report.outcomes.append(
                    FileOutcome(
                        p.file_id, full_path, participant_id, res.kind, res.status, res.reason
                    )
                )
                continue
            first_path[p.file_id] = full_path
            res = _dated_in_window(p.result, window)
            # read again for participants who no longer hold it: the others keep their rows as they are
            holding = (
                self.known.holders.get(p.file_id, set())
                if p.file_id in self.known.reread
                else set()
            )
            rows: dict[str, int] = {}
            owners: set[str] = set()
            invalid: dict[str, int] = {}
            unnamed = 0
            for name, table in res.tables.items():
                if name not in LAKE_TABLES or table.num_rows == 0:
                    continue
                if (
                    "file_id" not in table.column_names
                    and "participant_id" not in table.column_names
                    and participant_id != FROM_ID_ONLY
                    and problem_with(participant_id) is None
                ):  # a one-participant reader's table (FIT): its ids are filled per batch, below
                    owners.add(participant_id)
                    tables, _ = by_participant.setdefault(participant_id, ({}, []))
                    tables.setdefault(name, []).append(_Unfilled(table, p.file_id))
                    rows[name] = rows.get(name, 0) + table.num_rows
                    continue
                table = _fill(table, "file_id", p.file_id)
                table = _fill(table, "participant_id", participant_id)
                for pid, part in _split_by_participant(table):
                    if pid == FROM_ID_ONLY:  # the file names no participant of its own
                        unnamed += part.num_rows
                        continue
                    if (
                        problem_with(pid) is not None
                    ):  # an id from the file's content (a Fitabase Id)
                        invalid[pid] = invalid.get(pid, 0) + part.num_rows
                        continue
                    if pid in holding:
                        continue
                    owners.add(pid)
                    tables, _ = by_participant.setdefault(pid, ({}, []))
                    tables.setdefault(name, []).append(part)
                    rows[name] = rows.get(name, 0) + part.num_rows
            if invalid:
                res = _without_invalid_participants(res, invalid, kept=bool(owners))
            if unnamed:
                said = (
                    f"{unnamed:,} rows name no participant of their own (--participant-from-id "
                    "reads ids from Fitabase files only): ingest this file with --participant P"
                )
                res = ReadResult(
                    kind=res.kind,
                    status=("partial" if res.status == "ok" else res.status)
                    if owners
                    else "skipped",
                    reason=f"{res.reason}; {said}" if res.reason else said,
                    notes=res.notes,
                    family=res.family,
                )
            res = _noting_other_holders(res, self.known, participant_id, p.file_id)
            if res.status == "quarantined" and p.load is not None:
                quarantine(
                    self.quarantine_root,
                    file_id=p.file_id,
                    path=full_path,
                    participant_id=participant_id,
                    reason=res.reason or "",
                    data=p.load(),
                )
            for pid in owners or ({participant_id} - holding):
                by_participant.setdefault(pid, ({}, []))[1].append(
                    self._manifest_row(p, full_path, pid, res, rows, now)
                )
            report.outcomes.append(
                FileOutcome(
                    p.file_id,
                    full_path,
                    participant_id,
                    res.kind,
                    res.status,
                    res.reason,
                    rows,
                    left_out=left_out_of(res.notes),
                )
            )
        self.known.reread.difference_update(p.file_id for p in pending)
        for pid, (tables, manifest_rows) in by_participant.items():
            if not manifest_rows:
                continue
            self._retire_before_reading_again(pid, {r["file_id"] for r in manifest_rows})
            with_ids = {name: _with_ids(ts, pid) for name, ts in tables.items()}
            bid = self.lake.write_batch(
                Batch(pid, with_ids, pa.Table.from_pylist(manifest_rows, schema=FILES))
            )
            report.batches.append((pid, bid))
            self.known.update((r["participant_id"], r["file_id"], r["kind"]) for r in manifest_rows)
        return report


def _noting_other_holders(
    res: ReadResult, known: KnownFiles, participant_id: str, file_id: str
) -> ReadResult:
    """The result of bytes another participant already holds: recorded for this one too, and said so.

    The same file in two participants' inboxes is recorded for each of them
    (never for whichever a race let in first); the notes and the reason name
    the others, so a copy made by mistake is seen and can be removed.
    """
    if file_id in known.attributed or res.kind == "zip":
        return res
    others = known.others_holding(participant_id, file_id)
    if not others:
        return res
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    said = (
        f"the same bytes are also recorded for {shown}: recorded for {participant_id} as well; "
        "if this copy is a mistake, remove it from the inbox"
    )
    return ReadResult(
        kind=res.kind,
        status=res.status,
        reason=f"{res.reason}; {said}" if res.reason else said,
        tables=res.tables,
        notes={**res.notes, SHARED_BYTES_NOTE: others},
        family=res.family,
    )


def _dated_in_window(res: ReadResult, window: Window) -> ReadResult:
    """The result without rows dated outside the plausible span; a file with none inside is held.

    The rows left out are counted in the file's notes (``ingest.time_window``).
    A file whose every row is outside (a device whose clock was never set) is
    quarantined with the reason, so its bytes are kept and a later version can
    try it again; it never lands in the lake, so it cannot move "this week".
    """
    if not res.tables:
        return res
    kept, dropped = within_window(
        res.tables, window.for_file(res.notes.get(WRITTEN_KEY), res.notes.get(CREATED_KEY))
    )
    if not dropped.count:
        return res
    notes = {**res.notes, **dropped.notes()}
    left = sum(t.num_rows for name, t in kept.items() if name in LAKE_TABLES)
    if left == 0 and res.status in ("ok", "partial"):
        reason = (
            f"every record ({dropped.count:,}) is dated where no record can be, e.g. "
            f"{dropped.examples[0]}: the device's clock was probably not set"
        )
        if res.reason:
            reason = f"{res.reason}; {reason}"
        return ReadResult(
            kind=res.kind, status="quarantined", reason=reason, notes=notes, family=res.family
        )
    return ReadResult(
        kind=res.kind,
        status=res.status,
        reason=res.reason,
        tables=kept,
        notes=notes,
        family=res.family,
    )


def _retire_rows(lake: Lake, rows: list[dict[str, Any]]) -> None:
    """Retire manifest rows, one retirement per distinct reason."""
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_reason.setdefault(f"read again: {r['why']}", []).append(r)
    for reason, group in by_reason.items():
        frame = pl.DataFrame(
            {k: [r[k] for r in group] for k in ("participant_id", "batch_id", "file_id")},
            schema={"participant_id": pl.String, "batch_id": pl.String, "file_id": pl.String},
        )
        lake.retire(frame, reason)


def _without_invalid_participants(
    res: ReadResult, invalid: dict[str, int], *, kept: bool
) -> ReadResult:
    """The result of a file whose content named participant ids that break the rule: those rows are left out.

    The file is ``partial`` when rows of valid ids remain, else quarantined;
    the reason names each refused id and its rows, so the export can be fixed.
    """
    shown = sorted(invalid.items())[:5]
    named = "; ".join(f"{_clip(pid)} {problem_with(pid)} ({n:,} rows)" for pid, n in shown)
    more = f"; and {len(invalid) - len(shown)} more" if len(invalid) > len(shown) else ""
    reason = f"rows left out for invalid participant id(s) in the file: {named}{more} (a participant id must use {RULE})"
    if res.reason:
        reason = f"{res.reason}; {reason}"
    status = ("partial" if res.status == "ok" else res.status) if kept else "quarantined"
    notes = {**res.notes, "invalid_participant_ids": {_clip(pid): n for pid, n in invalid.items()}}
    return ReadResult(
        kind=res.kind, status=status, reason=reason, tables={}, notes=notes, family=res.family
    )


def _size_on_disk(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone or unreadable since: its outcome says so
        return 0


def _member(root: Path, path: Path) -> str:
    """A held file's path below the folder given (empty for a file given itself)."""
    return path.relative_to(root).as_posix() if path != root else ""


def _clip(pid: object) -> str:
    text = repr(pid)
    return text if len(text) <= 70 else f"{text[:50]}...'"


@dataclass(frozen=True)
class _Unfilled:
    """A reader table of one file without ``file_id`` and ``participant_id`` yet (filled per batch)."""

    table: pa.Table
    file_id: str


def _with_ids(entries: list[pa.Table | _Unfilled], participant_id: str) -> list[pa.Table]:
    """The batch's tables of one name with their ids: each run of unfilled tables of one schema
    (a reader worker's files) joined and filled in one step, as ``_fill`` would have file by file."""
    out: list[pa.Table] = []
    run: list[_Unfilled] = []

    def flush() -> None:
        if not run:
            return
        joined = pa.concat_tables([e.table for e in run])
        counts = np.array([e.table.num_rows for e in run], dtype=np.int64)
        which = pa.array(np.repeat(np.arange(len(run), dtype=np.int64), counts), pa.int64())
        file_ids = pa.array([e.file_id for e in run], pa.string()).take(which)
        ids = pa.repeat(pa.scalar(participant_id, pa.string()), joined.num_rows)
        out.append(joined.append_column("file_id", file_ids).append_column("participant_id", ids))
        run.clear()

    for e in entries:
        if isinstance(e, _Unfilled):
            if run and not run[0].table.schema.equals(e.table.schema):
                flush()
            run.append(e)
        else:
            flush()
            out.append(e)
    flush()
    return out


def _manifest_row(
    p: _Pending,
    full_path: str,
    participant_id: str,
    res: ReadResult,
    rows: dict[str, int],
    now: datetime,
) -> dict[str, Any]:
    return {
        "file_id": p.file_id,
        "path": full_path,
        "container_id": p.container_id,
        "participant_id": participant_id,
        "kind": res.kind,
        "size_bytes": p.size,
        "status": res.status,
        "reason": res.reason,
        "rows_minutes": rows.get("minutes", 0),
        "rows_daily_totals": rows.get("daily_totals", 0),
        "rows_sessions": rows.get("sessions", 0),
        "notes": json.dumps(res.notes, default=str, sort_keys=True) if res.notes else None,
        "ingested_at": now,
    }


def _fill(table: pa.Table, column: str, value: str) -> pa.Table:
    if column in table.column_names:
        col = table.column(column)
        if col.null_count == 0:
            return table
        filled = pc.fill_null(col.cast(pa.string()), value)
        return table.set_column(table.column_names.index(column), column, filled)
    return table.append_column(column, pa.repeat(pa.scalar(value, pa.string()), table.num_rows))


def _split_by_participant(table: pa.Table) -> list[tuple[str, pa.Table]]:
    pids = table.column("participant_id").unique().to_pylist()
    if len(pids) == 1:
        return [(pids[0], table)]
    return [(pid, table.filter(pc.equal(table.column("participant_id"), pid))) for pid in pids]
