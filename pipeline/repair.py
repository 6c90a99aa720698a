"""``irisin repair``: rebuild what ``store.verify`` finds damaged, from what it derives from.

* a damaged or missing lake part: its whole batch is removed and its raw files
  are ingested again (the inbox units that hold them, or the file itself when
  it was ingested from elsewhere); a batch whose raw files are gone is left
  as it is and named;
* damaged derived tables (and any lake repair): every derived table is
  recomputed from the lake and the warehouse rebuilt;
* temporary files of interrupted writes are deleted;
* a corrupt ephemeral Prefect database is moved aside (Prefect makes a new one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from config import Study
from config.schema import LAKE_TABLES
from pipeline.jobs import derive, files_of, inbox_items, lake_of, publish
from store.lake import MANIFEST, SHARED_BYTES_NOTE
from store.verify import Damage, study_damage


@dataclass
class RepairReport:
    """What repair found and did; ``left`` is damage it could not rebuild."""

    found: list[Damage] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def prefect_database_of(study: Study, prefect_home: str | None) -> Path:
    """The ephemeral Prefect database the study's runs use (``PREFECT_HOME/prefect.db``)."""
    return Path(prefect_home or study.root / ".prefect") / "prefect.db"


def _move_aside(database: Path) -> Path:
    aside = database.with_name(f"{database.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    database.rename(aside)
    for extra in ("-wal", "-shm"):
        Path(f"{database}{extra}").unlink(missing_ok=True)
    return aside


def set_aside_corrupt_prefect_database(database: Path) -> Path | None:
    """Move an ephemeral Prefect database that fails its integrity check aside (Prefect makes a new one).

    Run before a flow starts its ephemeral API server, which would otherwise
    wait out its start-up timeout on the corrupt file and fail. Returns where
    it went, or None when the database is sound or absent.
    """
    from store.verify import prefect_database_problem

    return _move_aside(database) if prefect_database_problem(database) else None


def repair(study: Study, prefect_database: Path | None) -> RepairReport:
    report = RepairReport(found=study_damage(study.paths, prefect_database))
    for d in report.found:
        if d.kind == "temporary file":
            Path(d.path).unlink(missing_ok=True)
            report.done.append(f"deleted {d.path}")
        elif d.kind == "prefect database":
            aside = _move_aside(Path(d.path))
            report.done.append(f"moved the corrupt Prefect database aside to {aside}")
    batches = sorted({d.batch for d in report.found if d.batch is not None})
    rebuilt = _reingest(study, batches, report) if batches else False
    if rebuilt or any(d.kind == "derived table" for d in report.found):
        derive(study, None)
        publish(study)
        report.done.append("recomputed every derived table from the lake and rebuilt the warehouse")
    return report


def _reingest(study: Study, batches: list[tuple[str, str]], report: RepairReport) -> bool:
    """Remove each damaged batch whose raw files are all still there, then ingest those files again."""
    from ingest.pipeline import Ingestor

    lake = lake_of(study)
    manifest = _readable_manifest(lake)
    todo: dict[str, set[Path]] = {}
    first_named: dict[tuple[str, str], list[str]] = {}
    for pid, bid in batches:
        rows = manifest.filter((pl.col("participant_id") == pid) & (pl.col("batch_id") == bid))
        for fid, notes in zip(rows["file_id"].to_list(), rows["notes"].to_list(), strict=True):
            # the other holders the first record named (none: it was read first), kept for the re-read
            first_named[(pid, fid)] = list(json.loads(notes or "{}").get(SHARED_BYTES_NOTE, []))
        paths = sorted(
            {_in_this_study(study, pid, p.split("!/", 1)[0]) for p in rows["path"].to_list()}
        )
        if (
            not paths
        ):  # the manifest part itself is unreadable: the inbox is read again for this participant
            units = {i.path for i in inbox_items(study, [pid])}
        else:
            units = _units_holding(study, pid, paths)
            missing = [
                p for p in paths if not any(p == str(u) or p.startswith(f"{u}/") for u in units)
            ]
            if missing:
                report.left.append(
                    f"batch {pid}/{bid}: raw file {missing[0]} is gone; the batch is left as it is"
                )
                continue
        for table in (*LAKE_TABLES, MANIFEST):
            part = lake._part(table, pid, bid)
            if lake.fs.get_file_info(part).is_file:
                lake.fs.delete_file(part)
        todo.setdefault(pid, set()).update(units)
        report.done.append(f"removed damaged batch {pid}/{bid}")
    ingestor = Ingestor(study, lake_of(study))
    ingestor.known.first_named.update(first_named)
    for pid, units in sorted(todo.items()):
        for unit in sorted(units):
            got = ingestor.ingest_one(pid, unit)
            report.done.append(f"ingested {unit} again: {sum(o.new for o in got.outcomes)} files")
    return bool(todo)


def _readable_manifest(lake: object) -> pl.DataFrame:
    """Manifest rows of every manifest part that can be read."""
    import pyarrow.parquet as pq

    from store.lake import Lake

    assert isinstance(lake, Lake)
    columns = ("participant_id", "batch_id", "path", "file_id", "notes")
    frames = []
    for part in lake._list(MANIFEST):
        try:
            with lake.fs.open_input_file(part) as handle:
                frame = pl.from_arrow(pq.read_table(handle))
        except Exception:  # an unreadable manifest part is itself damage, reported by verify
            continue
        assert isinstance(frame, pl.DataFrame)
        if "batch_id" not in frame.columns:  # a compacted generation's rows carry their own
            frame = frame.with_columns(pl.lit(lake._batch_of(part)[1]).alias("batch_id"))
        frames.append(frame.select(*columns))
    return (
        pl.concat(frames, how="vertical_relaxed")
        if frames
        else pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    )


def _in_this_study(study: Study, participant_id: str, path: str) -> str:
    """A recorded inbox path as it is in this study now: a study folder moved or copied keeps its inbox.

    The manifest records absolute paths. Mapped back to this study's inbox,
    a recorded file is found in the export folder that holds it, so it is
    read again with the rest of that export (its clock, bout decision and
    ids come from the whole export, as in the nightly), not on its own.
    """
    inbox = study.paths.inbox / participant_id
    marker = f"/inbox/{participant_id}/"
    if path.startswith(f"{inbox}/") or marker not in path:
        return path
    return str(inbox / path.rsplit(marker, 1)[1])


def _units_holding(study: Study, participant_id: str, paths: list[str]) -> set[Path]:
    """The inbox units (files or export folders) that hold ``paths``; a path outside the inbox is its own unit."""
    units: set[Path] = set()
    items = inbox_items(
        study, [participant_id]
    )  # the units a nightly ingests, so batches come out the same
    for path in paths:
        holder = next(
            (
                i.path
                for i in items
                if str(i.path) == path or (i.folder and Path(path) in files_of(i))
            ),
            None,
        )
        if holder is None and Path(path).is_file():
            holder = Path(path)
        if holder is not None:
            units.add(holder)
    return units
