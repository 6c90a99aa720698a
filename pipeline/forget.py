"""``irisin forget`` and ``irisin reprocess``: act on files already in the manifest, never on raw files.

``forget`` retires what a file (or every file of a participant) wrote, so the
next run ingests it afresh, e.g. under the right participant after it was
filed under a wrong one. ``reprocess`` reads skipped, quarantined or partial
files again now, from where they were read (the inbox item holding them, or
the path given to ``irisin ingest``). Both keep the lake's history: retired
rows are marked (``store.lake.Lake.retire``), not deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from config import Study
from ingest.pipeline import Ingestor, IngestReport
from pipeline.jobs import InboxItem, inbox_items, ingest_item
from store.lake import NOT_LIVE, NOT_READ_WHOLE, Lake

FILE_ID_MIN_PREFIX = 8
"""Shortest file id prefix ``forget --file`` accepts (as git accepts short commit ids)."""


def rows_to_forget(
    manifest: pl.DataFrame, *, file_id: str | None = None, participant: str | None = None
) -> pl.DataFrame:
    """The live manifest rows ``forget`` retires.

    ``participant``: every live row of that participant. ``file_id`` (or a
    unique prefix of at least 8 characters): the file's rows, the members'
    rows when it is an archive, and the rows of the archive holding it (so the
    archive is read again; its members already known are not).
    """
    live = manifest.filter(~pl.col("status").is_in(NOT_LIVE))
    if participant is not None:
        rows = live.filter(pl.col("participant_id") == participant)
        if rows.height == 0:
            raise ValueError(f"participant {participant!r} has no files in the manifest")
        return rows
    if file_id is None:
        raise ValueError("name a file (--file FILE_ID) or a participant (--participant P)")
    fid = _one_file_id(live, file_id.strip().lower())
    own = live.filter(pl.col("file_id") == fid)
    holders = own["container_id"].drop_nulls().unique().to_list()
    return live.filter(
        (pl.col("file_id") == fid)
        | (pl.col("container_id") == fid)
        | pl.col("file_id").is_in(holders)
    )


def _one_file_id(live: pl.DataFrame, prefix: str) -> str:
    if len(prefix) < FILE_ID_MIN_PREFIX:
        raise ValueError(
            f"file id {prefix!r} is too short: give at least {FILE_ID_MIN_PREFIX} characters "
            "(see 'irisin export files' for the file_id column)"
        )
    ids = live.filter(pl.col("file_id").str.starts_with(prefix))["file_id"].unique().to_list()
    if not ids:
        raise ValueError(
            f"no file with id {prefix!r} in the manifest (retired files count no more)"
        )
    if len(ids) > 1:
        raise ValueError(f"file id {prefix!r} is ambiguous: {len(ids)} files start with it")
    return str(ids[0])


@dataclass
class Forgotten:
    """What ``forget`` retired."""

    rows: int
    files: int
    participants: list[str]
    raw_paths: list[str] = field(default_factory=list)
    """Where the raw files were read from (untouched): move them before the next run if misfiled."""


def forget(lake: Lake, *, file_id: str | None = None, participant: str | None = None) -> Forgotten:
    """Retire the rows ``rows_to_forget`` names (idempotent: a second call finds nothing live)."""
    rows = rows_to_forget(lake.manifest(), file_id=file_id, participant=participant)
    what = (
        f"irisin forget --file {file_id}"
        if file_id
        else f"irisin forget --participant {participant}"
    )
    lake.retire(rows, what)
    return Forgotten(
        rows=rows.height,
        files=rows["file_id"].n_unique(),
        participants=sorted(set(rows["participant_id"].to_list())),
        raw_paths=sorted({p.split("!/", 1)[0] for p in rows["path"].to_list()}),
    )


def parse_statuses(text: str) -> tuple[str, ...]:
    """``skipped,quarantined,partial`` -> a tuple, each checked."""
    statuses = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in statuses if s not in NOT_READ_WHOLE]
    if bad or not statuses:
        raise ValueError(
            f"--status takes a comma-separated list of {', '.join(NOT_READ_WHOLE)}; got {text!r}"
        )
    return statuses


@dataclass
class Reprocessed:
    report: IngestReport
    files: int
    """Files marked to be read again."""
    missing: list[str]
    """Raw paths no longer where they were read from: their rows stay as they were."""


def reprocess(
    study: Study,
    ingestor: Ingestor,
    *,
    participants: Iterable[str] | None = None,
    statuses: Iterable[str] = NOT_READ_WHOLE,
) -> Reprocessed:
    """Read skipped, quarantined or partial files again now, from the inbox item or path they came from."""
    wanted = None if participants is None else set(participants)
    rows = ingestor.lake.unread_rows().filter(pl.col("status").is_in(list(statuses)))
    if wanted is not None:
        rows = rows.filter(pl.col("participant_id").is_in(sorted(wanted)))
    tops = {
        (pid, path.split("!/", 1)[0])
        for pid, path in rows.select("participant_id", "path").iter_rows()
    }
    items = inbox_items(study, sorted({pid for pid, _ in tops}))
    chosen: dict[tuple[str, str], InboxItem] = {}
    loose: list[tuple[str, Path]] = []
    missing: list[str] = []
    for pid, top in sorted(tops):
        item = next(
            (
                i
                for i in items
                if i.participant_id == pid and (top == str(i.path) or top.startswith(f"{i.path}/"))
            ),
            None,
        )
        if item is not None:
            chosen.setdefault((pid, str(item.path)), item)
        elif Path(top).exists():
            loose.append((pid, Path(top)))
        else:
            missing.append(top)
    keep = rows.filter(~pl.col("path").str.split("!/").list.first().is_in(missing))
    marked = ingestor.read_again(keep, "irisin reprocess") if keep.height else 0
    report = IngestReport()
    for held in chosen.values():
        report.extend(ingest_item(study, held, ingestor.lake, ingestor))
    for pid, path in loose:
        report.extend(ingestor.ingest_one(pid, path))
    return Reprocessed(report, marked, missing)
