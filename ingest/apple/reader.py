"""The Apple Health reader: ``export.zip`` / ``apple_health_export/export.xml`` to canonical tables.

* ``minutes`` from step count, heart rate and exercise-time records
  (``ingest.apple.minutes`` says how samples are spread over minutes);
* ``sessions`` from ``<Workout>`` elements (type, start/end, duration and the
  heart-rate average and maximum of their ``WorkoutStatistics``);
* ``profiles`` from resting heart rate records (one row per record, so the
  latest is what heart-rate reserve uses) and the date of birth in ``<Me>``.

Active energy is not read: without body mass, active kilocalories are not
METs, and the watch's exercise minutes already carry its own judgement of
intensity. A document that is not an export (foreign root, declared entities)
is quarantined; damage part-way keeps every record before it (``partial``).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ingest.apple.fast_pool import chunk_pool
from ingest.apple.fast_scan import in_process, scan_export_fast
from ingest.apple.minutes import (
    SOURCE,
    TIME_FORMAT,
    ChunkMinutes,
    chunk_minutes,
    device_label,
    merge_partials,
    minute_table,
    offset_minutes,
)
from ingest.apple.scan import (
    NotAppleHealth,
    ScanOutcome,
    scan_export,
)
from ingest.contract import Member, ReadContext, ReadResult
from ingest.time_window import WRITTEN_KEY

KIND = "apple_health"
EXPORT_NAME = "export.xml"
_DURATION_SECONDS = {"s": 1.0, "sec": 1.0, "min": 60.0, "hr": 3600.0, "h": 3600.0}
_WORKOUT_PREFIX = "HKWorkoutActivityType"


def looks_like_apple_health_export(paths: Sequence[str]) -> bool:
    """An export holds ``export.xml`` (at its root or under ``apple_health_export/``)."""
    return any(_is_export_xml(p) for p in paths)


def _is_export_xml(path: str) -> bool:
    return path.rsplit("/", 1)[-1].lower() == EXPORT_NAME


def _is_apple_extra(path: str) -> str | None:
    """Why a member of an Apple export is not read, or None when it is not an Apple extra."""
    lower = path.lower()
    name = lower.rsplit("/", 1)[-1]
    if name == "export_cda.xml":
        return "Apple Health clinical document (CDA), not activity data"
    if "workout-routes/" in lower and name.endswith(".gpx"):
        return (
            "route of an Apple Health workout (locations only; the workout is read from export.xml)"
        )
    if "electrocardiograms/" in lower or "clinical-records/" in lower:
        return "Apple Health clinical or ECG data, not activity data"
    return None


def read_apple_health_export(members: Sequence[Member], ctx: ReadContext) -> dict[str, ReadResult]:
    """Bundle reader: every ``export.xml`` member read; routes, CDA and clinical files listed as skipped."""
    results: dict[str, ReadResult] = {}
    if not any(_is_export_xml(m.path) for m in members):
        return results
    for m in members:
        if _is_export_xml(m.path) and m.stream is not None:
            with m.stream() as stream:  # an export of several GB is never held whole
                results[m.path] = read_export_xml(stream, ctx)
        elif _is_export_xml(m.path):
            results[m.path] = read_export_xml(io.BytesIO(m.load()), ctx)
        else:
            why = _is_apple_extra(m.path)
            if why is not None:
                results[m.path] = ReadResult(kind=KIND, status="skipped", reason=why)
    return results


SPILL_ROWS = 1 << 20
"""Partial-minute rows held in memory; past this they are merged and written to a temporary Parquet file."""
SPILL_PREFIX = "irisin-apple-"
"""Spill folders are ``<tmp>/irisin-apple-<pid>-<random>``: the pid lets a later read find and
remove the folders of a reader that was killed before it could."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def sweep_dead_spills(root: Path | None = None) -> list[Path]:
    """Remove spill folders of this user whose reader process is gone (SIGKILL, power loss); returns them.

    A killed Apple read cannot run its cleanup, and its partial-minute files
    (up to the size of the export's minutes) would stay in the temporary
    folder for good. Folders of live processes and of other users are left.
    """
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for folder in root.glob(f"{SPILL_PREFIX}*"):
        pid_text = folder.name.removeprefix(SPILL_PREFIX).split("-", 1)[0]
        try:
            owned = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if owned and pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class _Minutes:
    """Minute partials, resting heart rates and drop counts gathered chunk by chunk.

    Partials stay in memory, merged like a binary counter, until they hold
    ``SPILL_ROWS`` rows; then they are merged into one Parquet file in a
    temporary folder (files in file order), so the rows held while reading do
    not grow with the export. ``close`` removes the folder.
    """

    def __init__(self, timezone: str | None) -> None:
        self.timezone = timezone
        self.folder: Path | None = None
        self.reset()

    def reset(self) -> None:
        """Forget everything (the file is about to be read again from its start)."""
        self.levels: list[tuple[int, pl.DataFrame]] = []
        self.spilled: list[Path] = []
        self.resting: list[pl.DataFrame] = []
        self.dropped: dict[str, int] = {}

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def partials(self) -> list[pl.LazyFrame]:
        """Every partial-minute frame, oldest first: the spilled files, then those in memory."""
        return [pl.scan_parquet(f) for f in self.spilled] + [f.lazy() for _, f in self.levels]

    def _push(self, frame: pl.DataFrame) -> None:
        """Add a chunk's partial minutes, merging like a binary counter.

        Two frames of the same level (each the merge of 2**level chunks) are
        merged into one of the next level, older first, so a minute's first
        offset stays the file's first. Each row takes part in about log2(chunks)
        merges (before, every eighth chunk re-merged everything read so far,
        which grew with the square of the file).
        """
        level = 0
        while self.levels and self.levels[-1][0] == level:
            _, older = self.levels.pop()
            frame = merge_partials([older, frame])
            level += 1
        self.levels.append((level, frame))
        if sum(f.height for _, f in self.levels) >= SPILL_ROWS:
            self._spill()

    def _spill(self) -> None:
        if self.folder is None:
            sweep_dead_spills()
            self.folder = Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-"))
        path = self.folder / f"partials-{len(self.spilled):05d}.parquet"
        merge_partials([f for _, f in self.levels]).write_parquet(path, compression="lz4")
        self.spilled.append(path)
        self.levels = []

    def take(self, chunk: pl.DataFrame, escaped: bool) -> None:
        self.add(chunk_minutes(chunk, escaped, self.timezone))

    def add(self, parts: ChunkMinutes) -> None:
        """Take one chunk's minutes (``chunk_minutes``, here or in a worker), in file order."""
        partial, resting, counts = parts
        for k, v in counts.items():
            self.dropped[k] = self.dropped.get(k, 0) + v
        self._push(partial)
        if resting is not None:
            self.resting.append(resting)


def read_export_xml(source: IO[bytes], ctx: ReadContext, *, fast: bool = True) -> ReadResult:
    """Read one ``export.xml`` stream (never holding its tree) into canonical tables.

    ``fast`` takes the checked fast path (``ingest.apple.fast_scan``) where the
    file allows it; ``fast=False`` reads every byte with ``lxml`` (the reference).
    """
    gathered = _Minutes(ctx.timezone)
    try:
        try:
            if fast:
                with chunk_pool(source, ctx.timezone) as chunk_map:
                    outcome = scan_export_fast(
                        source,
                        gathered.take,
                        gathered.reset,
                        chunk_map=chunk_map or in_process,
                        on_prepared=gathered.add if chunk_map else None,
                    )
            else:
                outcome = scan_export(source, lambda frame: gathered.take(frame, False))
        except NotAppleHealth as e:
            return ReadResult(
                kind=KIND, status="quarantined", reason=f"not an Apple Health export.xml: {e}"
            )
        minutes = minute_table(gathered.partials())
    finally:
        gathered.close()
    resting, dropped = gathered.resting, gathered.dropped
    tables: dict[str, pa.Table] = {}
    if minutes is not None and minutes.num_rows:
        tables["minutes"] = minutes
    sessions = session_table(outcome)
    if sessions.height:
        tables["sessions"] = sessions.to_arrow()
    profiles = profile_table(pl.concat(resting) if resting else pl.DataFrame(), outcome)
    if profiles is not None:
        tables["profiles"] = profiles
    notes: dict[str, Any] = {
        "records": dict(outcome.records_by_type),
        "workouts": len(outcome.workouts),
        "devices": sorted(d for d in pc.unique(minutes["device"]).to_pylist() if d)
        if minutes is not None
        else [],
        "utc_offset_from": "each record's own offset",
        **dropped,
    }
    written = _export_instant(outcome.export_date)
    if written is not None:
        notes[WRITTEN_KEY] = written  # every record is before it (ingest.time_window)
    if outcome.fast_path:
        notes["fast_path"] = outcome.fast_path
    if outcome.nested_records_skipped:
        notes["records_in_correlations_skipped"] = outcome.nested_records_skipped
    if outcome.damage:
        return ReadResult(
            kind=KIND, status="partial", reason=outcome.damage, tables=tables, notes=notes
        )
    if not tables:
        return ReadResult(
            kind=KIND,
            status="skipped",
            reason="Apple Health export without steps, heart rate, exercise time or workouts",
            notes=notes,
        )
    return ReadResult(kind=KIND, status="ok", tables=tables, notes=notes)


def _utc(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.to_datetime(TIME_FORMAT, strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
    )


def session_table(outcome: ScanOutcome) -> pl.DataFrame:
    """Canonical sessions from the workouts (without participant and file ids)."""
    if not outcome.workouts:
        return pl.DataFrame()
    w = pl.DataFrame([vars(x) for x in outcome.workouts], infer_schema_length=None).cast(pl.String)
    labels = [device_label(d, s) for d, s in zip(w["device"], w["source_name"], strict=True)]
    seconds = pl.col("duration").cast(pl.Float64, strict=False) * pl.col(
        "duration_unit"
    ).replace_strict(_DURATION_SECONDS, default=None, return_dtype=pl.Float64)
    frame = w.with_columns(pl.Series("device", labels, dtype=pl.String)).select(
        pl.lit(SOURCE).alias("source"),
        "device",
        _utc("start").alias("start_utc"),
        _utc("end").alias("end_utc"),
        offset_minutes("start").alias("utc_offset_minutes"),
        pl.col("activity_type").str.strip_prefix(_WORKOUT_PREFIX).alias("sport"),
        seconds.alias("timer_seconds"),
        pl.col("avg_heart_rate").cast(pl.Float32, strict=False).alias("avg_heart_rate_bpm"),
        pl.col("max_heart_rate").cast(pl.Float32, strict=False).alias("max_heart_rate_bpm"),
    )
    frame = frame.filter(pl.col("start_utc").is_not_null())
    return frame.with_columns(
        pl.col("start_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("session_key")
    )


def _age_on(birth: str | None, on: date | None) -> int | None:
    if not birth or on is None:
        return None
    try:
        born = date.fromisoformat(birth[:10])
    except ValueError:
        return None
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return age if 0 <= age <= 130 else None


def profile_table(resting: pl.DataFrame, outcome: ScanOutcome) -> pa.Table | None:
    """Profiles: one row per resting heart rate record, and the age at export from ``<Me>``."""
    rows = (
        resting.select(
            pl.lit(SOURCE).alias("source"),
            "device",
            pl.from_epoch("start_s", time_unit="s")
            .dt.cast_time_unit("us")
            .dt.replace_time_zone("UTC")
            .alias("observed_utc"),
            pl.lit(None, pl.Int16).alias("age_years"),
            pl.col("value").cast(pl.Float32).alias("resting_heart_rate_bpm"),
            pl.lit(None, pl.Float32).alias("max_heart_rate_bpm"),
        )
        if resting.height
        else None
    )
    exported = None
    if outcome.export_date:
        exported = pl.Series([outcome.export_date]).str.to_datetime(
            TIME_FORMAT, strict=False, time_unit="us"
        )[0]
    age = _age_on(outcome.birth_date, exported.date() if exported is not None else None)
    frames = [rows] if rows is not None else []
    if age is not None:
        frames.append(
            pl.DataFrame(
                {
                    "source": [SOURCE],
                    "device": [None],
                    "observed_utc": [exported],
                    "age_years": [age],
                    "resting_heart_rate_bpm": [None],
                    "max_heart_rate_bpm": [None],
                },
                schema={
                    "source": pl.String,
                    "device": pl.String,
                    "observed_utc": pl.Datetime("us", "UTC"),
                    "age_years": pl.Int16,
                    "resting_heart_rate_bpm": pl.Float32,
                    "max_heart_rate_bpm": pl.Float32,
                },
            )
        )
    if not frames:
        return None
    return pl.concat(frames).to_arrow()


def _export_instant(text: str | None) -> str | None:
    """``ExportDate`` (``2026-05-01 12:00:00 +0200``) as ISO 8601 UTC, or None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.strptime(text, TIME_FORMAT).astimezone(UTC).isoformat()
    except ValueError:
        return None
