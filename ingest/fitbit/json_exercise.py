"""``exercise-*.json`` of the Takeout / legacy-archive JSON family, as ``sessions`` rows.

A log's ``originalStartTime`` carries its own UTC offset; without it,
``startTime`` is read on the participant's detected clock and the offset at the
start is the participant's. Fitbit's ``activityLevel`` minutes "fairly" and
"very" are the session's moderate and vigorous minutes.
"""

from __future__ import annotations

import io

import polars as pl

from ingest.contract import Member, ReadResult
from ingest.fitbit.clock import ClockDecision, attach_offsets
from ingest.fitbit.discovery import FitbitFile
from ingest.fitbit.results import quarantined
from ingest.fitbit.tables import SOURCE_TAKEOUT, local_to_utc, sessions_table
from ingest.salvage import checked_number, without_bom


def exercise_result(file: FitbitFile, member: Member, decision: ClockDecision) -> ReadResult:
    """``exercise-*.json`` logs as ``sessions`` rows (an empty file or list: none)."""
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
