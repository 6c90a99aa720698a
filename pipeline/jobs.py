"""The pipeline's steps as plain functions: find inputs, ingest, derive, publish.

The CLI and the Prefect flows both call these; flows add retries,
concurrency and observability around them, nothing else. Each step is
idempotent and leaves the store consistent if interrupted.
"""

from __future__ import annotations

import gc
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from config import Study
from features.incremental import replace_weeks, touched_weeks
from features.plausibility import EXCLUSION_COLUMNS, exclusions_table
from features.scope import DAILY_REACH_AFTER, REACH_AFTER, REACH_BEFORE, keep_requested
from features.utc_hours import UTC_HOUR_COLUMNS, days_of_weeks, replace_days, utc_hour_totals
from features.weekly import (
    Inputs,
    WeekTables,
    concat_week_tables,
    week_tables,
    week_tables_in_batches,
)
from ingest.fingerprints import Fingerprints
from ingest.pipeline import FileOutcome, Ingestor, IngestReport, looks_like_fit
from ingest.regular_files import special_kind
from models.adherence import participant_scores
from models.cohort import cohort_weekly
from models.weekly_status import with_status
from pipeline import __version__
from pipeline.lock import holds_lock, study_lock
from pipeline.validity import NOTES_TABLE, data_notes_table
from store.atomic import is_local, write_text
from store.derived import DerivedStore, DerivedTableDamaged
from store.lake import KnownFiles, Lake
from store.objects import filesystem_of
from store.verify import named_lake_damage
from store.warehouse import refresh_warehouse


@dataclass(frozen=True)
class InboxItem:
    """One unit of ingestion: a file, or an export folder read as a whole (``folder``).

    ``refused`` says why an entry of the inbox is not read at all (a symlink,
    a FIFO or another special file): it is reported every run, never opened.
    """

    participant_id: str
    path: Path
    folder: bool = False
    refused: str | None = None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects without cycles.

    Listing a large inbox makes tens of thousands of paths, hash-cache entries
    and report lines. Each burst of allocations sets off collections that walk
    every object the process holds (Prefect, polars, what a backfill left),
    which at 36,000 files cost more than the listing itself. Reference
    counting still frees everything; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lake_of(study: Study) -> Lake:
    return Lake(study.paths.lake_location)


def recover_store(study: Study, lake: Lake | None = None) -> list[str]:
    """Finish what a crashed run left in the lake; only with the study lock held (``pipeline.lock``).

    Recovery deletes uncommitted parts and temporary files, which, while
    another run is live, are that run's work in progress: so it refuses to
    run without the lock rather than risk them.
    """
    if not holds_lock(study):
        raise RuntimeError(
            "the lake is recovered only under the study lock (pipeline.lock.study_lock)"
        )
    return (lake or lake_of(study)).recover()


def damage_outcomes(study: Study, lake: Lake) -> list[FileOutcome]:
    """Report lines (status ``failed``) for committed lake parts the last recovery found missing or unreadable.

    Their rows are gone from every table until the part is rebuilt from its
    raw file, so a run names each one instead of finishing silently.
    """
    out = []
    for path, problem in lake.damaged:
        pid = path.rsplit("/", 2)[-2].removeprefix("participant_id=")
        shown = path.removeprefix(f"{Path(lake.root).parent.parent}/")
        reason = f"committed lake part {problem}; rebuild it from its raw file (irisin repair --study {study.root})"
        out.append(FileOutcome("", shown, pid, "lake part", "failed", reason))
    return out


def derived_of(study: Study) -> DerivedStore:
    return DerivedStore(study.paths.derived_location)


def weekly_for_reading(
    study: Study,
    what: str = "irisin export",
    *,
    wait_seconds: float = 3600.0,
    on_wait: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """The weekly table for a command that only reads the study (export), derived first if missing.

    Reading needs no lock: derived tables and lake parts are replaced
    atomically, so a reader sees whole tables. Deriving writes the derived
    tables and the record of which lake batches they include, so it is done
    under the study lock (waiting up to ``wait_seconds`` for a running
    nightly, then ``StudyBusyError``); a derive racing a nightly's would let
    the older result overwrite the newer and mark its batches as included.
    """
    weekly = derived_of(study).read("weekly")
    if weekly is not None:
        return weekly
    with study_lock(study, what, wait_seconds=wait_seconds, on_wait=on_wait):
        weekly = derived_of(study).read("weekly")  # the run we waited for may have written it
        return weekly if weekly is not None else derive(study).weekly


def warehouse_path(study: Study) -> Path:
    return study.paths.warehouse


def files_under(folder: Path) -> list[Path]:
    """Every regular file below ``folder``, in path order; no symlink is followed, no special file listed.

    One ``scandir`` per folder and no ``stat`` per regular file, since the
    nightly lists the study's whole inbox every run. The order is that of
    sorting the paths (depth first, names sorted at every level).
    """
    return walk_inbox_folder(folder)[0]


def walk_inbox_folder(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(regular files, refused entries with their reason)`` below ``folder``.

    Symlinks (to files or folders, loops included) and special files (FIFOs,
    devices, sockets) are refused, never followed or opened; a folder that
    cannot be listed is refused with the system's reason.
    """
    files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    try:
        with os.scandir(folder) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
    except OSError as e:
        return [], [(folder, f"folder cannot be listed: {e.strerror or e}")]
    for entry in ordered:  # folder / name parses only the name, not the whole path again
        path = folder / entry.name
        if entry.is_symlink():
            refused.append((path, _SYMLINK_REASON))
        elif entry.is_dir(follow_symlinks=False):
            sub_files, sub_refused = walk_inbox_folder(path)
            files += sub_files
            refused += sub_refused
        elif entry.is_file(follow_symlinks=False):
            files.append(path)
        else:
            refused.append((path, special_reason(path)))
    return files, refused


_SYMLINK_REASON = (
    "symlink: refused (irisin reads no file through a symlink; copy the file itself into the inbox)"
)


def special_reason(path: Path) -> str:
    """Why a non-regular inbox entry is refused, naming what it is."""
    try:
        kind = special_kind(os.lstat(path).st_mode)
    except OSError as e:
        return f"cannot be examined: {e.strerror or e}"
    return f"{kind}: refused (only regular files are read)"


def files_of(item: InboxItem) -> list[Path]:
    """The files of an inbox unit: the file itself, or every file of its folder (none for a refused entry)."""
    if item.refused is not None:
        return []
    return files_under(item.path) if item.folder else [item.path]


def inbox_items(
    study: Study,
    participants: Iterable[str] | None = None,
    *,
    roots: Iterable[Path] | None = None,
    split_fit_folders: bool = True,
) -> list[InboxItem]:
    """Every unit waiting in ``inbox/<participant_id>/`` and the extra inbox paths.

    A folder of FIT files is split into one unit per file (they are
    independent); any other folder is an export and is read as one unit,
    because its files explain each other (clock detection, Ids).
    ``roots`` replaces the inbox folders (a backfill from another folder of
    ``<participant_id>/`` subfolders); ``split_fit_folders=False`` keeps a FIT
    folder as one unit, so a backfill commits a participant's history as one
    lake batch instead of one per file.
    """
    if roots is None:
        roots = [study.paths.inbox] + [
            (study.root / p) if not Path(p).is_absolute() else Path(p)
            for p in study.config.ingest.extra_inbox_paths
        ]
    want = None if participants is None else set(participants)
    items: list[InboxItem] = []
    for root in roots:
        if not root.is_dir():
            continue
        with os.scandir(root) as listing:
            pdirs = sorted(
                (
                    e
                    for e in listing
                    if not e.name.startswith(".")
                    and (e.is_symlink() or e.is_dir(follow_symlinks=False))
                ),
                key=lambda e: e.name,
            )
        for pentry in pdirs:
            pid, pdir = pentry.name, root / pentry.name
            if want is not None and pid not in want:
                continue
            if pentry.is_symlink():  # inbox/<participant> itself a link elsewhere: never read
                items.append(InboxItem(pid, pdir, refused=_SYMLINK_REASON))
                continue
            try:
                with os.scandir(pdir) as listing:
                    entries = sorted(
                        (e for e in listing if not e.name.startswith(".")), key=lambda e: e.name
                    )
            except OSError as e:
                items.append(
                    InboxItem(pid, pdir, refused=f"folder cannot be listed: {e.strerror or e}")
                )
                continue
            for entry in entries:
                path = pdir / entry.name
                if entry.is_symlink():
                    items.append(InboxItem(pid, path, refused=_SYMLINK_REASON))
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not entry.is_file(follow_symlinks=False):
                    items.append(InboxItem(pid, path, refused=special_reason(path)))
                    continue
                files, refused = (
                    walk_inbox_folder(path) if split_fit_folders and is_dir else ([], [])
                )
                if files and all(looks_like_fit(f.name, b"") for f in files):
                    items += [
                        InboxItem(pid, f) for f in files
                    ]  # a folder of FIT files: one unit per file
                    items += [InboxItem(pid, p, refused=why) for p, why in refused]
                else:
                    items.append(InboxItem(pid, path, folder=is_dir))
    return items


def _has_new_bytes(
    item: InboxItem, known: set[str] | KnownFiles, fingerprints: Fingerprints
) -> bool:
    """Whether the item holds bytes not yet recorded *for its participant* (another's copy is new to them)."""
    if item.refused is not None:
        return True  # reported every run while it is there
    held = (
        (lambda fid: known.held_by(item.participant_id, fid))
        if isinstance(known, KnownFiles)
        else known.__contains__
    )
    try:
        return any(not held(fingerprints.file_id(f)) for f in files_of(item))
    except (
        OSError
    ):  # changed since listed (now a FIFO or a link, or gone): the ingest step says what it is
        return True


def fingerprints_of(study: Study) -> Fingerprints:
    """The study's cache of raw-file hashes (``store/fingerprints.json``)."""
    return Fingerprints(study.paths.fingerprints)


def stat_files(items: Iterable[InboxItem]) -> dict[str, os.stat_result]:
    """``stat`` of every file of ``items`` before a run reads them (what ``remember_read`` checks against)."""
    seen: dict[str, os.stat_result] = {}
    for item in items:
        for f in files_of(item):
            try:
                seen[str(f)] = os.stat(f)
            except OSError:
                continue  # gone or unreadable: the ingest says what it is
    return seen


def remember_read(
    fingerprints: Fingerprints, outcomes: Iterable[FileOutcome], seen: dict[str, os.stat_result]
) -> int:
    """Put the file ids an ingest computed into the hash cache, for files unchanged since ``seen``; returns how many.

    A backfill reads its files in reader processes that do not share the
    cache; without this the first nightly after it hashes the whole history again.
    """
    learned = 0
    for o in outcomes:
        before = seen.get(o.path)
        if before is not None and o.file_id and o.kind != "refused":
            learned += fingerprints.learn(o.path, o.file_id, before)
    return learned


def new_items(
    items: list[InboxItem], known: set[str] | KnownFiles, fingerprints: Fingerprints | None = None
) -> list[InboxItem]:
    """Drop files whose bytes are already in the manifest; a folder stays if any of its files is new.

    An export folder is read as a whole when it stays, so skipping the ones
    with nothing new keeps a nightly with nothing new from re-reading exports.
    With ``fingerprints``, files unchanged since last seen are not hashed again.
    """
    fingerprints = fingerprints or Fingerprints()
    return [i for i in items if _has_new_bytes(i, known, fingerprints)]


def ingest_item(
    study: Study, item: InboxItem, lake: Lake | None = None, ingestor: Ingestor | None = None
) -> IngestReport:
    """Ingest one unit; bad input becomes quarantined rows, never an exception.

    Pass one ``ingestor`` for many items: it reads the manifest once and
    remembers what it has ingested since, instead of re-reading it per item.
    """
    if item.refused is not None:
        return IngestReport(
            [
                FileOutcome(
                    "", str(item.path), item.participant_id, "refused", "quarantined", item.refused
                )
            ]
        )
    ingestor = ingestor or Ingestor(study, lake or lake_of(study))
    return ingestor.ingest_one(item.participant_id, item.path)


def weeks_of(
    study: Study, participants: Iterable[str], since: date | None = None, until: date | None = None
) -> pl.DataFrame:
    """The participant-weeks with data of ``participants`` whose days overlap ``[since, until]``.

    What a backfill of some participants or dates recomputes: every week they
    have rows in the lake, cut to the requested local dates.
    """
    pids = list(participants)
    lake = lake_of(study)
    weeks = touched_weeks(
        lake.scan("minutes", pids), lake.scan("daily_totals", pids), study.roster, study.config
    )
    if since is not None:
        weeks = weeks.filter(pl.col("week_start").dt.offset_by("6d") >= since)
    if until is not None:
        weeks = weeks.filter(pl.col("week_start") <= until)
    return weeks


@dataclass
class DeriveResult:
    """What a derive step recomputed."""

    touched: pl.DataFrame
    weekly: pl.DataFrame
    full: bool


def new_rows(study: Study, table: str, report: IngestReport) -> pl.LazyFrame:
    """The rows of ``table`` that the report's new files wrote, read from just the lake parts of their batches."""
    new_ids = sorted({o.file_id for o in report.outcomes if o.new and o.file_id})
    rows = lake_of(study).scan_batches(table, report.batches)
    return rows.filter(pl.col("file_id").is_in(new_ids)) if new_ids else rows.head(0)


def touched_weeks_of(study: Study, report: IngestReport) -> pl.DataFrame:
    """Participant-weeks that the new rows of an ingest touch.

    The week of a row depends on its source (untrusted sources touch nothing)
    and device offset, which the report does not carry, so the new rows are
    read back from the lake parts of the batches the report committed.
    """
    minutes = new_rows(study, "minutes", report).collect()
    days = new_rows(study, "daily_totals", report).collect()
    return touched_weeks(minutes.lazy(), days.lazy(), study.roster, study.config)


def _days_of_weeks(weeks: pl.DataFrame) -> pl.DataFrame:
    """``participant_id, local_date`` of every day of the given participant-weeks."""
    return (
        weeks.select(
            "participant_id",
            pl.date_ranges("week_start", pl.col("week_start").dt.offset_by("6d")).alias(
                "local_date"
            ),
        )
        .explode("local_date", empty_as_null=True)
        .unique()
    )


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def reach_of_weeks(lake: Lake, weeks: pl.DataFrame) -> dict[str, pl.LazyFrame]:
    """Lake scans of ``minutes``, ``daily_totals`` and ``profiles`` cut to what can affect ``weeks``.

    Only the weeks' participants' parts are listed, and minutes and daily
    totals are filtered to the span from the earliest week to the latest
    with literal bounds, which the Parquet reader turns into skipped row
    groups. ``weekly_table(..., only=weeks)`` narrows further per
    participant; this cut only spares it decoding the rest of the history.
    """
    pids = weeks["participant_id"].unique().sort().to_list()
    first, last = weeks["week_start"].min(), weeks["week_start"].max()
    scans = {t: lake.scan(t, pids) for t in ("minutes", "daily_totals", "profiles")}
    if first is None or last is None:
        return scans
    assert isinstance(first, date) and isinstance(last, date)
    minute_utc = pl.col(
        "minute_utc"
    )  # the lake's type, Datetime(us, UTC): no cast, so the bounds reach the reader
    scans["minutes"] = scans["minutes"].filter(
        (minute_utc >= _utc_midnight(first - REACH_BEFORE))
        & (minute_utc < _utc_midnight(last + REACH_AFTER))
    )
    scans["daily_totals"] = scans["daily_totals"].filter(
        pl.col("local_date").is_between(first, last + DAILY_REACH_AFTER)
    )
    return scans


DERIVE_BATCH_PARTICIPANTS = 50
"""Participants per batch of a full derive; peak memory follows one batch
(1.3 GB for 50 participants x 365 days of minutes, ``python -m bench.weekly``)."""


MAX_SHARDS = 300
"""Most participant shards one backfill or rescore is cut into: each shard is one Prefect task
run, and the Prefect server strains at thousands of them, so a cohort too large for its shard
size gets larger shards instead of more (5,000 participants at 25 a shard are 200)."""


def participant_shards(
    participant_ids: Iterable[str], size: int, max_shards: int = MAX_SHARDS
) -> list[list[str]]:
    """The sorted participants cut into consecutive shards of ``size`` (larger when that makes more than ``max_shards``)."""
    ids = sorted(set(participant_ids))
    size = max(size, -(-len(ids) // max(max_shards, 1)), 1)
    return [ids[first : first + size] for first in range(0, len(ids), size)]


@dataclass(frozen=True)
class ShardTables:
    """What a full derive computes for one shard of participants: week tables, exclusions, UTC-hour totals.

    All depend on a participant's own rows only, so shards computed apart
    (on Dask workers) concatenate to the tables of one pass over everyone.
    """

    tables: WeekTables
    exclusions: pl.DataFrame
    hours: pl.DataFrame


ShardMap = Callable[[list[list[str]]], list[ShardTables]]
"""Computes ``shard_tables`` of each shard somewhere (a Dask cluster), returned in shard order."""


def shard_tables(study: Study, participants: list[str]) -> ShardTables:
    """The week tables and exclusions of some participants, read from the lake under the current config."""
    lake = lake_of(study)
    inputs = _inputs_of(lake)(participants)
    with named_lake_damage(lake, study.root):
        tables = week_tables(*inputs, study.roster, study.config, config_hash=study.inputs_hash())
        exclusions = exclusions_table(inputs.minutes, study.roster, study.config)
        hours = utc_hour_totals(inputs.minutes)
    return ShardTables(tables, exclusions, hours)


def _inputs_of(lake: Lake) -> Callable[[list[str]], Inputs]:
    """The lake's canonical frames of some participants, listing only their parts."""

    def inputs_of(participants: list[str]) -> Inputs:
        return Inputs(
            *(lake.scan(t, participants) for t in ("minutes", "daily_totals", "profiles"))
        )

    return inputs_of


BATCH_COLUMNS = {"participant_id": pl.String(), "batch_id": pl.String()}
INCLUDED_BATCHES = "included_batches"
"""Derive's record of the lake batches its tables include, kept in a ``state`` folder beside
(not among) the derived tables, so the warehouse does not publish it."""
RETIREMENT_COLUMNS = {
    "participant_id": pl.String(),
    "batch_id": pl.String(),
    "file_id": pl.String(),
}
INCLUDED_RETIREMENTS = "included_retirements"
"""Derive's record of the lake retirements its tables include: the weeks of a new one are recomputed."""


def _derive_state(study: Study) -> DerivedStore:
    return derived_of(study).child("state")


def _weeks_of_pending_batches(
    study: Study, lake: Lake, committed: list[tuple[str, str]]
) -> pl.DataFrame | None:
    """Participant-weeks of committed lake batches the derived tables do not include yet.

    A run that stopped between writing batches and deriving left such batches
    behind; their weeks are recomputed by the next derive, which is how a
    crash at any point is completed by the next run. None when derive has
    never recorded what it included (every week is then recomputed).
    """
    state = _derive_state(study)
    recorded = state.read_rebuildable(INCLUDED_BATCHES)
    if recorded is None:
        return None
    included = set(recorded.iter_rows())
    pending = [b for b in committed if b not in included]
    retired = lake.retirements().select(list(RETIREMENT_COLUMNS))
    if retired.height:  # weeks that retired rows counted in must be recomputed without them
        done = state.read_rebuildable(INCLUDED_RETIREMENTS)
        if done is None:
            return None
        retired = retired.join(done, on=list(RETIREMENT_COLUMNS), how="anti")
    if not pending and not retired.height:
        return pl.DataFrame(schema={"participant_id": pl.String(), "week_start": pl.Date()})
    weeks = touched_weeks(
        lake.scan_batches("minutes", pending),
        lake.scan_batches("daily_totals", pending),
        study.roster,
        study.config,
    )
    if retired.height:
        gone = touched_weeks(
            lake.scan_retired("minutes", retired),
            lake.scan_retired("daily_totals", retired),
            study.roster,
            study.config,
        )
        weeks = pl.concat([weeks, gone.select(weeks.columns)]).unique()
    return weeks


def derive(
    study: Study, touched: pl.DataFrame | None = None, *, map_shards: ShardMap | None = None
) -> DeriveResult:
    """``_derive``; an error met reading a damaged lake part names the part (``store.verify.named_lake_damage``)."""
    with named_lake_damage(lake_of(study), study.root):
        return _derive(study, touched, map_shards)


def _derive(
    study: Study, touched: pl.DataFrame | None = None, map_shards: ShardMap | None = None
) -> DeriveResult:
    """Recompute weekly (only ``touched`` participant-weeks, or all), daily, scores; write derived tables.

    The weeks of lake batches that no derive has included yet (a crashed run's)
    are added to ``touched``; the batches included are recorded last.
    ``map_shards``: where a full recompute's participant shards
    (``[ingest] backfill_batch_participants`` each) are computed, e.g. a Dask
    cluster; None computes them here, ``DERIVE_BATCH_PARTICIPANTS`` at a time.
    """
    lake, derived = lake_of(study), derived_of(study)
    cfg, chash = study.config, study.inputs_hash()
    committed = lake.committed_batches()
    previous = derived.read_rebuildable("weekly")  # damaged: rebuilt whole from the lake
    full = (
        touched is None
        or previous is None
        or (previous.height and previous["config_hash"][0] != chash)
        # any other derived table damaged (even on a night with nothing new): rebuilt whole too
        or bool(derived.unreadable())
    )
    if not full:
        assert touched is not None
        pending = _weeks_of_pending_batches(study, lake, committed)
        if pending is None:
            full = True
        else:
            touched = (
                pl.concat([touched.select(pending.columns), pending]).unique().sort(pending.columns)
            )
    sharded: pl.DataFrame | None = None  # the exclusions of a sharded full recompute
    hours: pl.DataFrame | None = None  # UTC-hour totals for the notes; None: from the whole lake
    if full and map_shards is not None and (everyone := _everyone(study, lake)):
        parts = map_shards(participant_shards(everyone, cfg.ingest.backfill_batch_participants))
        weekly, daily, hourly = concat_week_tables([p.tables for p in parts])
        sharded = pl.concat([p.exclusions for p in parts]).sort(
            "participant_id", "week_start", "rule"
        )
        hours = pl.concat([p.hours for p in parts]).sort("participant_id", "hour")
        weekly = with_status(weekly, cfg)
        touched = weekly.select("participant_id", "week_start")
    elif full:
        everyone = _everyone(study, lake)
        weekly, daily, hourly = week_tables_in_batches(
            _inputs_of(lake),
            everyone,
            study.roster,
            cfg,
            config_hash=chash,
            batch_participants=DERIVE_BATCH_PARTICIPANTS,
        )
        weekly = with_status(weekly, cfg)  # the one place a week is scored
        touched = weekly.select("participant_id", "week_start")
    else:
        assert touched is not None and previous is not None
        if touched.height == 0:
            if not derived.exists(NOTES_TABLE):  # a study derived before the notes were a table
                derived.write(NOTES_TABLE, data_notes_table(study, kept_utc_hours(study)))
            return DeriveResult(touched, previous, False)
        # The rows within reach of the touched weeks are read once, for all three tables.
        scans = reach_of_weeks(lake, touched)
        fresh = week_tables(
            scans["minutes"],
            scans["daily_totals"],
            scans["profiles"],
            study.roster,
            cfg,
            config_hash=chash,
            only=touched,
        )
        # Daily and hourly rows are replaced on the days of the touched weeks only, so a
        # nightly costs what its new days cost, not the participants' whole history.
        old_daily, old_hourly = (
            derived.read_rebuildable("daily"),
            derived.read_rebuildable("hourly_wear"),
        )
        if old_daily is None or old_hourly is None or old_daily.columns != fresh.daily.columns:
            return derive(
                study, None
            )  # nothing to merge into, or derived tables of an older layout
        weekly = replace_weeks(previous, with_status(fresh.weekly, cfg), touched)
        daily = pl.concat(
            [old_daily.join(touched, on=["participant_id", "week_start"], how="anti"), fresh.daily],
            how="vertical_relaxed",
        )
        days = _days_of_weeks(touched)
        hourly = pl.concat(
            [
                old_hourly.join(days, on=["participant_id", "local_date"], how="anti"),
                fresh.hourly_wear,
            ],
            how="vertical_relaxed",
        ).sort("participant_id", "local_date", "hour")
        hours = _utc_hours(study, touched, scans["minutes"])
    if hours is None:
        hours = utc_hour_totals(lake.scan("minutes"))
    weekly = weekly.sort("participant_id", "week_start")
    derived.write("weekly", weekly)
    derived.write("daily", daily.sort("participant_id", "local_date"))
    derived.write("hourly_wear", hourly)
    derived.write(
        "exclusions",
        sharded
        if sharded is not None
        else _exclusions(study, lake, derived, touched, None if full else scans["minutes"]),
    )
    derived.write("participant_scores", participant_scores(weekly, cfg))
    derived.write("cohort_weekly", cohort_weekly(weekly))
    # Lake and roster changed (or the config did): the notes `irisin check` prints, for the dashboard.
    derived.write(NOTES_TABLE, data_notes_table(study, hours))
    _derive_state(study).write(UTC_HOURS, hours)
    _derive_state(study).write(
        INCLUDED_RETIREMENTS, lake.retirements().select(list(RETIREMENT_COLUMNS))
    )
    _derive_state(study).write(
        INCLUDED_BATCHES, pl.DataFrame(committed, schema=BATCH_COLUMNS, orient="row")
    )
    return DeriveResult(touched, weekly, bool(full))


def _everyone(study: Study, lake: Lake) -> list[str]:
    """Participants a full recompute covers: every one in the lake or on the roster."""
    return sorted(set(lake.participants()) | set(study.roster["participant_id"].to_list()))


def _exclusions(
    study: Study,
    lake: Lake,
    derived: DerivedStore,
    touched: pl.DataFrame,
    reach: pl.LazyFrame | None,
) -> pl.DataFrame:
    """The ``exclusions`` table (``features.plausibility``): all weeks, or the touched weeks replaced from ``reach``."""
    old = derived.read("exclusions")
    if reach is None or old is None or old.columns != list(EXCLUSION_COLUMNS):
        return exclusions_table(lake.scan("minutes"), study.roster, study.config)
    fresh = keep_requested(exclusions_table(reach, study.roster, study.config), touched)
    kept = old.join(
        touched.select("participant_id", "week_start"),
        on=["participant_id", "week_start"],
        how="anti",
    )
    return pl.concat([kept, fresh]).sort("participant_id", "week_start", "rule")


UTC_HOURS = "utc_hours"
"""Derive's ``features.utc_hours`` totals of the whole lake, kept in its ``state`` folder, so a
nightly's data-quality notes replace the days it touched instead of reading every minute again."""


def kept_utc_hours(study: Study) -> pl.DataFrame | None:
    """The UTC-hour totals the last derive kept (None: none, damaged, or of another layout)."""
    kept = _derive_state(study).read_rebuildable(UTC_HOURS)
    return kept if kept is not None and kept.columns == list(UTC_HOUR_COLUMNS) else None


def _utc_hours(study: Study, touched: pl.DataFrame, reach: pl.LazyFrame) -> pl.DataFrame | None:
    """The kept UTC-hour totals with the days of ``touched`` replaced from ``reach`` (None: none kept)."""
    kept = kept_utc_hours(study)
    if kept is None:
        return None
    return replace_days(kept, utc_hour_totals(reach), days_of_weeks(touched))


COMPACT_ENV = "IRISIN_COMPACT_AFTER_BATCHES"
"""Override of ``store.lake.COMPACT_AFTER_BATCHES`` (fresh batches in a bucket before it is compacted)."""


def compact_threshold() -> int:
    from store.lake import COMPACT_AFTER_BATCHES

    raw = os.environ.get(COMPACT_ENV, "").strip()
    if not raw:
        return COMPACT_AFTER_BATCHES
    try:
        return max(int(raw), 1)
    except ValueError:
        raise ValueError(f"{COMPACT_ENV}={raw!r}: not a whole number of batches") from None


def publish(study: Study) -> Path:
    """Compact the lake's buckets that passed the threshold, rebuild the DuckDB warehouse, then sweep.

    Only buckets that runs since the last compaction wrote to can hold
    enough fresh batches, so this compacts what the run touched. The sweep of
    what compaction replaced comes after the refresh, so the new warehouse
    never names a file that is gone.
    """
    derived = derived_of(study)
    derived.write("roster", study.roster)
    lake = lake_of(study)
    lake.compact(compact_threshold())
    target = refresh_warehouse(lake, derived, warehouse_path(study))
    lake.sweep()
    return target


def _runs_history(derived: DerivedStore) -> pl.DataFrame | None:
    """The runs table so far; a damaged one is moved aside (it is a log, not rebuildable) and a new one started."""
    try:
        return derived.read("runs")
    except DerivedTableDamaged:
        derived.set_aside("runs", f"damaged-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.parquet.bad")
        return None


def write_run_file(study: Study, run_id: str, name: str, text: str) -> str:
    """Write ``runs/<run_id>/<name>`` atomically, in the study folder or on the store's object storage.

    Returns where it went: the local path, or the ``s3://`` URL.
    """
    fs, root = filesystem_of(study.paths.runs_location)
    key = f"{root}/{run_id}/{name}"
    if is_local(fs):
        Path(key).parent.mkdir(parents=True, exist_ok=True)
        write_text(key, text)
        return key
    write_text(key, text, fs)
    return f"s3://{key}"


@dataclass
class RunRecord:
    """What one run did; written to runs/<run_id>/run_info.json and the runs table."""

    flow: str
    study: Study
    run_id: str = field(
        default_factory=lambda: (
            datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
        )
    )
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    parameters: dict[str, Any] = field(default_factory=dict)

    def finish(self, report: IngestReport, summary_markdown: str, status: str) -> str:
        """Write run_info.json and append the run to the derived ``runs`` table."""
        finished = datetime.now(UTC)
        statuses = [o.status for o in report.outcomes if o.new]
        info = {
            "run_id": self.run_id,
            "flow": self.flow,
            "irisin_version": __version__,
            "started_at": self.started_at.isoformat(),
            "finished_at": finished.isoformat(),
            "status": status,
            "parameters": self.parameters,
            # one name, one value: the config_hash the weekly rows, the runs table and `irisin check` show
            "config_hash": self.study.inputs_hash(),
            "settings_hash": self.study.config.hash(),
            "config": json.loads(self.study.config.canonical_json()),
            "files": {
                "seen": len(report.outcomes),
                "new": len(statuses),
                **{
                    s: statuses.count(s)
                    for s in ("ok", "partial", "quarantined", "skipped", "failed")
                },
            },
        }
        path = write_run_file(
            self.study, self.run_id, "run_info.json", json.dumps(info, indent=2, default=str)
        )
        row = pl.DataFrame(
            {
                "run_id": [self.run_id],
                "flow": [self.flow],
                "started_at": [self.started_at],
                "finished_at": [finished],
                "status": [status],
                "summary_markdown": [summary_markdown],
                "files_seen": [info["files"]["seen"]],
                "files_new": [info["files"]["new"]],
                "files_ok": [info["files"]["ok"]],
                "files_partial": [info["files"]["partial"]],
                "files_quarantined": [info["files"]["quarantined"]],
                "config_hash": [info["config_hash"]],
            }
        )
        derived = derived_of(self.study)
        old = _runs_history(derived)
        derived.write("runs", row if old is None else pl.concat([old, row], how="vertical_relaxed"))
        return path
