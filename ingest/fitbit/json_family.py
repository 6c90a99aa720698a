"""Readers for the Takeout / legacy-archive JSON family (``steps-*.json``, ``heart_rate-*.json``, ...).

One export holds one participant. Intraday files are scanned first so the
participant's clock (UTC or local stamps, see ``clock``) is decided from all of
them before any minute is placed in time. Heart rate arrives about every 5 s
and is averaged per clock minute; steps are one row per minute. Daily series
(``moderately_active_minutes`` etc.) become ``daily_totals`` rows keyed by the
local date Fitbit gives them; a day of 1440 sedentary minutes is marked not
worn; ``resting_heart_rate`` fills the day's resting rate. ``exercise-*.json``
logs become ``sessions``. ``time_in_heart_rate_zones`` daily totals become
``daily_totals`` rows of their own source (``fitbit_hr_zones``; see
``HR_ZONE_COLUMNS``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from config.schema import MINUTES, PLAUSIBLE_HEART_RATE_BPM
from ingest.contract import Member, ReadContext, ReadResult, Status, must_propagate
from ingest.fitbit.bouting import BoutDecision
from ingest.fitbit.clock import (
    ClockDecision,
    FileSpan,
    attach_day_offsets,
    attach_offsets,
    detect_clock,
)
from ingest.fitbit.discovery import FitbitFile
from ingest.fitbit.json_scan import JsonDamage, StampedSeries, scan_stamped_integers
from ingest.fitbit.results import guarded, quarantined
from ingest.fitbit.tables import (
    SOURCE_HR_ZONES,
    SOURCE_TAKEOUT,
    daily_table,
    local_to_utc,
    sessions_table,
    to_canonical,
)
from ingest.salvage import (
    EXAMPLES_KEPT,
    Dropped,
    checked_number,
    duplicates,
    examples_of,
    implausible,
    without_bom,
)

DAILY_COLUMNS: dict[str, str] = {
    "moderately_active_minutes": "moderate_minutes",
    "very_active_minutes": "vigorous_minutes",
    "lightly_active_minutes": "light_minutes",
    "sedentary_minutes": "sedentary_minutes",
}
"""JSON daily series to the daily_totals column they fill."""

MINUTES_PER_DAY = 1440

HR_ZONE_COLUMNS: dict[str, str] = {
    "BELOW_DEFAULT_ZONE_1": "sedentary_minutes",
    "IN_DEFAULT_ZONE_1": "moderate_minutes",
    "IN_DEFAULT_ZONE_2": "vigorous_minutes",
    "IN_DEFAULT_ZONE_3": "vigorous_minutes",
}
"""``time_in_heart_rate_zones-*.json`` (``value.valuesInZones``, minutes per local date) to
daily_totals columns. Fitbit's default zones are the device's own heart-rate-reserve
classification: fat burn (zone 1) 40-59 % HRR is ACSM's moderate band (40-59 %); cardio
(zone 2, 60-84 %) and peak (zone 3, 85 % and above) are vigorous (60 % and above). Below
zone 1 holds sedentary and light minutes together (the zones cannot tell them apart); it is
kept under ``sedentary_minutes`` so that the day's wear, the sum of all four, is the minutes
the device measured heart rate. Each minute is in one zone, so these are clock minutes (not
Active Zone Minutes credits). Caveat: before Fitbit's 2020 change to heart-rate reserve
the zones were % of max HR (fat burn 50-69 %, cardio 70-84 %, peak 85 % and above), and
50 % of max HR is below 40 % HRR for most people: older files count some light minutes as
moderate. The rows get a source of their own (``fitbit_hr_zones``), ranked last in the
default ``source_precedence``, so they fill only days that no minute row and no other
source's daily totals cover, and never mix with ``moderately_active_minutes`` of the
same day."""

_VALUE_KEY = {"heart_rate": (b"bpm", False), "steps": (b"value", True)}


@dataclass
class _Scanned:
    """One intraday file reduced to minutes: naive epoch minutes and the minute's value."""

    file: FitbitFile
    member: Member
    minutes: np.ndarray
    values: np.ndarray
    span: FileSpan | None
    samples: int
    fast_path: bool
    dropped: Dropped
    cut: str | None
    repeated: Dropped
    """exact duplicate records, counted once"""
    impossible: Dropped
    """samples left out as impossible before the minute was aggregated"""


def _stamp_text(seconds: int) -> str:
    """A naive JSON stamp back as Fitbit writes it, for the examples in a file's notes."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%m/%d/%y %H:%M:%S")


def _without_repeats(series: StampedSeries) -> tuple[StampedSeries, Dropped]:
    """``series`` without records that repeat an earlier record's stamp and value exactly.

    A record written twice is one observation: two copies of a minute's steps
    must not sum to twice its steps. The first copy is kept.
    """
    repeated = duplicates()
    seconds, values = series.seconds, series.values
    if seconds.size < 2 or bool(np.all(seconds[1:] > seconds[:-1])):
        return series, repeated
    pairs = np.stack([seconds.astype(np.int64), values.astype(np.int64)], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    keep = np.zeros(seconds.size, dtype=bool)
    keep[first] = True
    if keep.all():
        return series, repeated
    dup = np.flatnonzero(~keep)
    repeated.add(
        int(dup.size),
        [
            f"record {i + 1}: dateTime={_stamp_text(seconds[i])!r}, value={int(values[i])}"
            for i in dup[:EXAMPLES_KEPT]
        ],
    )
    return replace(series, seconds=seconds[keep], values=values[keep]), repeated


def _per_minute(
    series: StampedSeries, kind: str, impossible: Dropped | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Heart-rate samples averaged per minute, or steps per minute (summed if a minute repeats).

    Impossible samples are dropped first, one by one, and counted in
    ``impossible``: heart rate outside ``PLAUSIBLE_HEART_RATE_BPM``, negative
    steps.
    """
    values, seconds = series.values, series.seconds
    if kind == "heart_rate":
        low, high = PLAUSIBLE_HEART_RATE_BPM
        keep = (values >= low) & (values <= high)
    else:
        keep = values >= 0
    if not keep.all():
        if impossible is not None:
            bad = np.flatnonzero(~keep)
            label = "bpm" if kind == "heart_rate" else "steps"
            impossible.add(
                int(bad.size),
                [
                    f"dateTime={_stamp_text(seconds[i])!r}, {label}={int(values[i])}"
                    for i in bad[:EXAMPLES_KEPT]
                ],
            )
        series = replace(series, values=values[keep], seconds=seconds[keep])
    minute = series.seconds // 60
    if minute.size and np.all(minute[1:] >= minute[:-1]):
        starts = np.flatnonzero(np.r_[True, minute[1:] != minute[:-1]])
        unique = minute[starts]
        sums = np.add.reduceat(series.values, starts) if starts.size else series.values[:0]
        counts = np.diff(np.r_[starts, minute.size])
    else:
        unique, inverse = np.unique(minute, return_inverse=True)
        sums = np.bincount(inverse, weights=series.values).astype(np.int64)
        counts = np.bincount(inverse)
    if kind == "heart_rate":
        return unique, (sums / np.maximum(counts, 1)).astype(np.float32)
    fits = sums <= np.iinfo(np.int32).max
    return unique[fits], sums[fits].astype(np.int32)


def _scan_intraday(file: FitbitFile, member: Member) -> _Scanned | ReadResult:
    key, quoted = _VALUE_KEY[file.series]
    try:
        series = scan_stamped_integers(member.load(), key, quoted)
    except JsonDamage as exc:
        return quarantined(file.kind, member.path, str(exc))
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    series, repeated = _without_repeats(series)
    span = None
    if file.named_day is not None and series.seconds.size:
        span = FileSpan(
            file.named_day,
            int(series.seconds.min()),
            int(series.seconds.max()),
            file.series == "heart_rate",
        )
    impossible = implausible()
    minutes, values = _per_minute(series, file.series, impossible)
    if series.cut and file.series == "heart_rate" and minutes.size:
        # the cut may fall among the samples of the last minute: its mean would be of some of them only
        minutes, values = minutes[minutes != minutes.max()], values[minutes != minutes.max()]
    dropped = Dropped()
    dropped.extend(series.dropped)
    if (
        file.series == "steps"
        and minutes.size < np.unique(series.seconds[series.values >= 0] // 60).size
    ):
        dropped.add(
            int(np.unique(series.seconds[series.values >= 0] // 60).size - minutes.size),
            ["minutes whose steps sum past 2,147,483,647"],
        )
    return _Scanned(
        file,
        member,
        minutes,
        values,
        span,
        int(series.seconds.size),
        series.fast_path,
        dropped,
        series.cut,
        repeated,
        impossible,
    )


def _place_in_time(per_minute: pl.DataFrame, decision: ClockDecision) -> pl.DataFrame:
    """Naive minute stamps to ``minute_utc`` with ``utc_offset_minutes`` under the detected clock."""
    if decision.clock == "utc":
        placed = per_minute.with_columns(
            pl.col("stamp").dt.replace_time_zone("UTC").alias("minute_utc")
        )
    else:
        placed = per_minute.with_columns(
            local_to_utc(pl.col("stamp"), decision.timezone).alias("minute_utc")
        )
    placed = placed.drop("stamp").filter(pl.col("minute_utc").is_not_null())
    return attach_offsets(placed, decision)


def _intraday_results(scanned: list[_Scanned], decision: ClockDecision) -> dict[str, ReadResult]:
    """Minutes tables of many files of one series, placed in time together and sliced per file.

    Doing the time-zone work and the canonical cast once for all files keeps
    the per-file cost to the byte scan.
    """
    if not scanned:
        return {}
    column = "heart_rate_bpm" if scanned[0].file.series == "heart_rate" else "steps"
    lengths = np.array([s.minutes.size for s in scanned])
    frame = pl.DataFrame(
        {
            "file": np.repeat(np.arange(len(scanned), dtype=np.int32), lengths),
            "stamp": (np.concatenate([s.minutes for s in scanned]) * 60_000_000).astype(
                "datetime64[us]"
            ),
            column: np.concatenate([s.values for s in scanned]),
        }
    )
    placed = (
        _place_in_time(frame, decision)
        .with_columns(pl.lit(SOURCE_TAKEOUT).alias("source"))
        .sort("file", "minute_utc")
    )
    files = placed["file"].to_numpy()
    bounds = np.searchsorted(files, np.arange(len(scanned) + 1))
    canonical = to_canonical(placed, MINUTES)
    notes_common = decision.notes()
    status: Status = "ok"
    reason_text = None
    if decision.clock == "local" and decision.timezone is None:
        status = "partial"
        reason_text = (
            "stamps are local wall time and the roster has no timezone; minute_utc holds local time"
        )
    out: dict[str, ReadResult] = {}
    for i, s in enumerate(scanned):
        rows = int(bounds[i + 1] - bounds[i])
        notes: dict[str, Any] = {
            **notes_common,
            "samples": s.samples,
            "minutes": rows,
            "parser": "byte-scan" if s.fast_path else "full-json",
        }
        if rows != s.minutes.size:
            notes["minutes_in_dst_gap_dropped"] = int(s.minutes.size - rows)
        notes.update(s.dropped.notes())
        notes.update(s.repeated.notes())
        notes.update(s.impossible.notes())
        problems = [p for p in (s.cut, reason_text) if p]
        if s.cut:
            notes["cut"] = s.cut
        out[s.member.path] = ReadResult(
            kind=s.file.kind,
            status="partial" if s.cut else status,
            reason=f"{s.member.path}: {'; '.join(problems)}" if problems else None,
            tables={"minutes": canonical.slice(int(bounds[i]), rows)},
            notes=notes,
        )
    return out


@dataclass
class _Daily:
    """One daily file's days, with what was dropped on the way and whether the file is cut."""

    frame: pl.DataFrame
    dropped: Dropped
    cut: str | None = None


def _intraday_guarded(scanned: list[_Scanned], decision: ClockDecision) -> dict[str, ReadResult]:
    """``_intraday_results`` of all files at once, or file by file when that fails, so a bad file costs only itself."""
    try:
        return _intraday_results(scanned, decision)
    except BaseException as exc:
        if must_propagate(exc):
            raise
    out: dict[str, ReadResult] = {}
    for s in scanned:
        got = guarded(s.file.kind, s.member.path, _intraday_results, [s], decision)
        out.update(got if isinstance(got, dict) else {s.member.path: got})
    return out


def read_daily_series(file: FitbitFile, member: Member) -> _Daily | ReadResult:
    """A daily JSON series as ``local_date`` and its canonical column, or a quarantine result."""
    try:
        series = scan_stamped_integers(member.load(), b"value", True)
    except JsonDamage as exc:
        return quarantined(file.kind, member.path, str(exc))
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    frame = series.frame().select(
        pl.col("stamp").dt.date().alias("local_date"),
        pl.col("value").cast(pl.Int32, strict=False).alias(DAILY_COLUMNS[file.series]),
    )
    return _Daily(frame.unique("local_date", keep="last"), series.dropped, series.cut)


def read_resting_heart_rate(file: FitbitFile, member: Member) -> _Daily | ReadResult:
    """``resting_heart_rate-*.json`` (``value: {date, value, error}``) as ``local_date`` and bpm.

    Fitbit writes 0 (or nothing) on days it could not compute a resting rate;
    those days are left out rather than recorded as 0 bpm.
    """
    try:
        raw = without_bom(member.load())
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    empty = pl.DataFrame(schema={"local_date": pl.Date, "resting_heart_rate_bpm": pl.Float32})
    if not raw.strip():
        return _Daily(empty, Dropped())
    try:
        frame = pl.read_json(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars raises several error types for bad JSON
        return quarantined(file.kind, member.path, f"not valid JSON: {exc}")
    if frame.height == 0:
        return _Daily(empty, Dropped())
    value = frame.schema.get("value")
    if (
        "dateTime" not in frame.columns
        or not isinstance(value, pl.Struct)
        or "value" not in [f.name for f in value.fields]
    ):
        return quarantined(
            file.kind,
            member.path,
            f"records are not {{dateTime, value: {{value}}}}; columns {frame.columns}",
        )
    days = frame.select(
        pl.col("dateTime")
        .cast(pl.String, strict=False)
        .str.strptime(pl.Datetime("us"), "%m/%d/%y %H:%M:%S", strict=False)
        .dt.date()
        .alias("local_date"),
        checked_number(pl.col("value").struct.field("value"), pl.Float32(), text=False).alias(
            "resting_heart_rate_bpm"
        ),
    )
    dropped = Dropped()
    dropped.add(*examples_of(days, pl.col("local_date").is_null(), ["local_date"], "record"))
    kept = days.filter(pl.col("local_date").is_not_null() & (pl.col("resting_heart_rate_bpm") > 0))
    return _Daily(kept.unique("local_date", keep="last"), dropped)


def read_heart_rate_zones(file: FitbitFile, member: Member) -> _Daily | ReadResult:
    """``time_in_heart_rate_zones-*.json`` as ``local_date``, zone minutes and ``worn``.

    Records are ``{"dateTime": "MM/DD/YY 00:00:00", "value": {"valuesInZones":
    {"BELOW_DEFAULT_ZONE_1": 1187.0, "IN_DEFAULT_ZONE_1": 12.0, ...}}}``; a zone the record
    leaves out counts 0, and a day with no minute in any zone is not worn.
    """
    try:
        raw = without_bom(member.load())
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    columns = sorted(set(HR_ZONE_COLUMNS.values()))
    empty = pl.DataFrame(
        schema={"local_date": pl.Date, **dict.fromkeys(columns, pl.Int32), "worn": pl.Boolean}
    )
    if not raw.strip():
        return _Daily(empty, Dropped())
    try:
        frame = pl.read_json(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars raises several error types for bad JSON
        return quarantined(file.kind, member.path, f"not valid JSON: {exc}")
    if frame.height == 0:
        return _Daily(empty, Dropped())
    value = frame.schema.get("value")
    zones = (
        next((f.dtype for f in value.fields if f.name == "valuesInZones"), None)
        if isinstance(value, pl.Struct)
        else None
    )
    if "dateTime" not in frame.columns or not isinstance(zones, pl.Struct):
        return quarantined(
            file.kind,
            member.path,
            f"records are not {{dateTime, value: {{valuesInZones}}}}; columns {frame.columns}",
        )
    present = {f.name for f in zones.fields}
    in_zones = pl.col("value").struct.field("valuesInZones")

    def zone(name: str) -> pl.Expr:
        if name not in present:
            return pl.lit(0.0)
        return checked_number(in_zones.struct.field(name), pl.Float64(), text=False).fill_null(0)

    sums = {
        column: pl.sum_horizontal(zone(z) for z, c in HR_ZONE_COLUMNS.items() if c == column)
        .round()
        .cast(pl.Int32)
        .alias(column)
        for column in columns
    }
    days = frame.select(
        pl.col("dateTime")
        .cast(pl.String, strict=False)
        .str.strptime(pl.Datetime("us"), "%m/%d/%y %H:%M:%S", strict=False)
        .dt.date()
        .alias("local_date"),
        *sums.values(),
    ).with_columns((pl.sum_horizontal(columns) > 0).alias("worn"))
    dropped = Dropped()
    dropped.add(*examples_of(days, pl.col("local_date").is_null(), ["local_date"], "record"))
    kept = days.filter(pl.col("local_date").is_not_null())
    return _Daily(kept.unique("local_date", keep="last"), dropped)


def _daily_results(
    dailies: dict[str, tuple[FitbitFile, Member, _Daily]],
    decision: ClockDecision,
    bouts: BoutDecision,
) -> dict[str, ReadResult]:
    """One daily_totals table per daily file; wear comes from the sedentary series of the same export."""
    sedentary = [d.frame for f, _, d in dailies.values() if f.series == "sedentary_minutes"]
    wear = (
        pl.concat(sedentary)
        .group_by("local_date")
        .agg((pl.col("sedentary_minutes").max() < MINUTES_PER_DAY).alias("worn"))
        if sedentary
        else pl.DataFrame(schema={"local_date": pl.Date, "worn": pl.Boolean})
    )
    out: dict[str, ReadResult] = {}
    for path, (file, _member, daily) in dailies.items():
        zones = file.series == "time_in_heart_rate_zones"
        own = daily.frame if zones else daily.frame.join(wear, on="local_date", how="left")
        rows = attach_day_offsets(own, decision).with_columns(
            pl.lit(SOURCE_HR_ZONES if zones else SOURCE_TAKEOUT).alias("source"),
            pl.lit(bouts.bouted).alias("bouted"),
        )
        out[path] = ReadResult(
            kind=file.kind,
            status="partial" if daily.cut else "ok",
            reason=f"{path}: {daily.cut}" if daily.cut else None,
            tables={"daily_totals": daily_table(rows)},
            notes={
                **decision.notes(),
                "days": rows.height,
                "days_not_worn": int(rows.filter(pl.col("worn").not_()).height),
                "bouted": bouts.bouted,
                "bouted_basis": bouts.basis,
                **daily.dropped.notes(),
                **({"cut": daily.cut} if daily.cut else {}),
            },
        )
    return out


def _exercise_result(file: FitbitFile, member: Member, decision: ClockDecision) -> ReadResult:
    raw = without_bom(member.load())
    if not raw.strip():
        return ReadResult(kind=file.kind, notes={"sessions": 0})
    try:
        logs = pl.read_json(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars raises several error types for bad JSON
        return quarantined(file.kind, member.path, f"not valid JSON: {exc}")
    if logs.height == 0:
        return ReadResult(kind=file.kind, notes={"sessions": 0})
    needed = {"startTime", "duration"}
    if not needed <= set(logs.columns):
        return quarantined(
            file.kind, member.path, f"exercise logs lack {sorted(needed - set(logs.columns))}"
        )
    return ReadResult(
        kind=file.kind,
        tables={"sessions": sessions_table(_sessions(logs, decision))},
        notes={"sessions": logs.height, **decision.notes()},
    )


def _level_minutes(name: str) -> pl.Expr:
    return (
        pl.col("activityLevel")
        .list.eval(
            pl.element().filter(pl.element().struct.field("name") == name).struct.field("minutes")
        )
        .list.sum()
        .cast(pl.Int32, strict=False)
    )


def _sessions(logs: pl.DataFrame, decision: ClockDecision) -> pl.DataFrame:
    """Exercise logs to sessions. ``originalStartTime`` carries its own offset when present;
    otherwise ``startTime`` is read on the participant's detected clock."""
    cols = set(logs.columns)
    naive = (
        pl.col("startTime")
        .cast(pl.String, strict=False)
        .str.strptime(pl.Datetime("us"), "%m/%d/%y %H:%M:%S", strict=False)
    )
    start = (
        naive.dt.replace_time_zone("UTC")
        if decision.clock == "utc"
        else local_to_utc(naive, decision.timezone)
    )
    offset: pl.Expr = pl.lit(None, dtype=pl.Int16)
    if "originalStartTime" in cols:
        stamped = pl.col("originalStartTime").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC"
        )
        local_wall = (
            pl.col("originalStartTime")
            .str.slice(0, 19)
            .str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False)
        )
        start = pl.coalesce(stamped, start)
        offset = (local_wall - stamped.dt.replace_time_zone(None)).dt.total_minutes().cast(pl.Int16)
    frame = logs.with_columns(start.alias("start_utc"), offset.alias("utc_offset_minutes"))
    has_levels = "activityLevel" in cols and isinstance(logs.schema["activityLevel"], pl.List)
    frame = frame.select(
        pl.lit(SOURCE_TAKEOUT).alias("source"),
        (pl.col("logId").cast(pl.String) if "logId" in cols else pl.col("startTime")).alias(
            "session_key"
        ),
        "start_utc",
        (
            pl.col("start_utc")
            + pl.duration(milliseconds=checked_number(pl.col("duration"), pl.Int64(), text=False))
        ).alias("end_utc"),
        "utc_offset_minutes",
        (pl.col("activityName") if "activityName" in cols else pl.lit(None, dtype=pl.String)).alias(
            "sport"
        ),
        (
            checked_number(
                pl.coalesce("activeDuration", "duration")
                if "activeDuration" in cols
                else pl.col("duration"),
                pl.Float64(),
                text=False,
            )
            / 1000.0
        ).alias("timer_seconds"),
        (
            checked_number(pl.col("averageHeartRate"), pl.Float32(), text=False)
            if "averageHeartRate" in cols
            else pl.lit(None, dtype=pl.Float32)
        ).alias("avg_heart_rate_bpm"),
        (_level_minutes("fairly") if has_levels else pl.lit(None, dtype=pl.Int32)).alias(
            "moderate_minutes"
        ),
        (_level_minutes("very") if has_levels else pl.lit(None, dtype=pl.Int32)).alias(
            "vigorous_minutes"
        ),
        (
            checked_number(pl.col("steps"), pl.Int32(), text=False)
            if "steps" in cols
            else pl.lit(None, dtype=pl.Int32)
        ).alias("steps"),
    )
    frame = frame.filter(pl.col("start_utc").is_not_null())
    if frame.height == 0 or frame["utc_offset_minutes"].null_count() == 0:
        return frame
    # logs without their own offset take the participant's offset at their start
    inferred = attach_offsets(frame.drop("utc_offset_minutes"), decision, "start_utc")
    return (
        inferred.join(
            frame.select("session_key", "start_utc", pl.col("utc_offset_minutes").alias("own")),
            on=["session_key", "start_utc"],
            how="left",
        )
        .with_columns(pl.coalesce("own", "utc_offset_minutes").alias("utc_offset_minutes"))
        .drop("own")
    )


def read_json_family(
    files: Sequence[tuple[FitbitFile, Member]], ctx: ReadContext, bouts: BoutDecision
) -> tuple[dict[str, ReadResult], ClockDecision]:
    """Read every JSON-family member of one participant's export."""
    results: dict[str, ReadResult] = {}
    scanned: list[_Scanned] = []
    for file, member in files:
        if file.series in _VALUE_KEY:
            got = guarded(file.kind, member.path, _scan_intraday, file, member)
            if isinstance(got, ReadResult):
                results[member.path] = got
            else:
                scanned.append(got)
    spans = [s.span for s in scanned if s.span is not None]
    decision = detect_clock(spans, ctx.timezone)
    for series in _VALUE_KEY:
        results.update(_intraday_guarded([s for s in scanned if s.file.series == series], decision))
    dailies: dict[str, tuple[FitbitFile, Member, _Daily]] = {}
    for file, member in files:
        if file.series in (*DAILY_COLUMNS, "resting_heart_rate", "time_in_heart_rate_zones"):
            reader = {
                "resting_heart_rate": read_resting_heart_rate,
                "time_in_heart_rate_zones": read_heart_rate_zones,
            }.get(file.series, read_daily_series)
            daily = guarded(file.kind, member.path, reader, file, member)
            if isinstance(daily, ReadResult):
                results[member.path] = daily
            else:
                dailies[member.path] = (file, member, daily)
        elif file.series == "exercise":
            results[member.path] = guarded(
                file.kind, member.path, _exercise_result, file, member, decision
            )
    results.update(_daily_results(dailies, decision, bouts))
    return results, decision
