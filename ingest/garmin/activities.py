"""Garmin ``*_summarizedActivities.json`` into ``sessions``.

The file is a JSON array holding one object ``{"summarizedActivitiesExport":
[...]}``; each activity gives ``beginTimestamp`` (epoch milliseconds, UTC),
``startTimeLocal`` (the same instant shifted to local time, so the
difference is the UTC offset), ``duration`` (timer time), ``elapsedDuration``
and ``movingDuration`` in milliseconds, ``activityType`` / ``sportType``,
``avgHr``, ``maxHr``, ``steps`` and the device's own
``moderateIntensityMinutes`` and ``vigorousIntensityMinutes`` (clock
minutes, kept as given, never doubled).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from config.conform import PIPELINE_FILLED, conform
from config.schema import SESSIONS
from ingest.contract import ReadContext, ReadResult
from ingest.garmin.json_records import GarminFormatError, load_array, records_to_columns
from ingest.garmin.layout import GarminKind
from ingest.garmin.tables import DEVICE, SOURCE, in_range_or_null, offset_minutes

EXPORT_KEY = "summarizedActivitiesExport"

ACTIVITY_FIELDS: dict[str, pa.DataType] = {
    "activityId": pa.int64(),
    "activityType": pa.string(),
    "sportType": pa.string(),
    "beginTimestamp": pa.float64(),
    "startTimeLocal": pa.float64(),
    "duration": pa.float64(),
    "elapsedDuration": pa.float64(),
    "movingDuration": pa.float64(),
    "avgHr": pa.float64(),
    "maxHr": pa.float64(),
    "moderateIntensityMinutes": pa.float64(),
    "vigorousIntensityMinutes": pa.float64(),
    "steps": pa.float64(),
    "deviceId": pa.int64(),
}
"""The activity keys irisin reads, with the Arrow type each is read as."""

MAX_PLAUSIBLE_HEART_RATE_BPM = 250.0
MAX_SESSION_MINUTES = 7 * 24 * 60


def _activities(document: Any, name: str) -> list[Any]:
    """The activity objects of a summarizedActivities document.

    The documented shape is a root array of ``{"summarizedActivitiesExport":
    [...]}`` objects (their lists are concatenated); a bare array of
    activities is accepted too.
    """
    parts = document if isinstance(document, list) else [document]
    found = [p for p in parts if isinstance(p, dict) and EXPORT_KEY in p]
    if not found and parts and all(isinstance(p, dict) and "beginTimestamp" in p for p in parts):
        return parts  # some exports (and tools that re-save them) drop the wrapper object
    if not found:
        raise GarminFormatError(
            f'{name}: expected a JSON array holding {{"{EXPORT_KEY}": [...]}}, '
            f"found a JSON {type(document).__name__} without that key"
        )
    bad = next((p for p in found if not isinstance(p[EXPORT_KEY], list)), None)
    if bad is not None:
        raise GarminFormatError(
            f"{name}: '{EXPORT_KEY}' is a JSON {type(bad[EXPORT_KEY]).__name__}, expected an array"
        )
    return [activity for part in found for activity in part[EXPORT_KEY]]


PLAUSIBLE_EPOCH_MS = (631_152_000_000, 4_102_444_800_000)
"""1990-01-01 to 2100-01-01 UTC, in epoch milliseconds."""


def _epoch_ms(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column).round(0).cast(pl.Int64), time_unit="ms")


def read_summarized_activities(data: bytes, name: str, ctx: ReadContext) -> ReadResult:
    """Read one summarizedActivities file into ``sessions``; raise ``GarminFormatError`` if unreadable.

    Activities without ``beginTimestamp`` are dropped (status stays ``ok``,
    counted in the notes); a file where none has one is refused.
    """
    loaded = load_array(data, name, EXPORT_KEY)
    activities = _activities(loaded.document, name)
    columns = records_to_columns(activities, ACTIVITY_FIELDS, name)
    # epoch milliseconds outside 1990..2100 are not times a device wrote: treat them as missing
    raw = columns.frame.with_columns(
        pl.when(pl.col(c).is_between(PLAUSIBLE_EPOCH_MS[0], PLAUSIBLE_EPOCH_MS[1]))
        .then(pl.col(c))
        .alias(c)
        for c in ("beginTimestamp", "startTimeLocal")
    )
    undated = int(raw.get_column("beginTimestamp").null_count())
    if raw.height and undated == raw.height:
        raise GarminFormatError(
            f"{name}: required field 'beginTimestamp' is missing from all {raw.height} activities"
        )
    raw = raw.filter(pl.col("beginTimestamp").is_not_null())

    start = _epoch_ms("beginTimestamp").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
    elapsed_ms = pl.coalesce("elapsedDuration", "duration")
    heart = {
        out: in_range_or_null(pl.col(key), 1.0, MAX_PLAUSIBLE_HEART_RATE_BPM)
        for out, key in (("avg_heart_rate_bpm", "avgHr"), ("max_heart_rate_bpm", "maxHr"))
    }
    frame = raw.select(
        participant_id=pl.lit(ctx.participant_id),
        source=pl.lit(SOURCE),
        device=pl.when(pl.col("deviceId").is_not_null())
        .then(pl.format("{} device {}", pl.lit(DEVICE), pl.col("deviceId")))
        .otherwise(pl.lit(DEVICE)),
        session_key=pl.coalesce(
            pl.col("activityId").cast(pl.String), start.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        start_utc=start,
        end_utc=start + pl.duration(milliseconds=elapsed_ms.round(0).cast(pl.Int64)),
        utc_offset_minutes=offset_minutes(_epoch_ms("startTimeLocal"), _epoch_ms("beginTimestamp")),
        sport=pl.coalesce("activityType", "sportType"),
        timer_seconds=in_range_or_null(pl.col("duration"), 0, MAX_SESSION_MINUTES * 60_000) / 1000,
        **heart,
        moderate_minutes=in_range_or_null(
            pl.col("moderateIntensityMinutes"), 0, MAX_SESSION_MINUTES
        ).round(0),
        vigorous_minutes=in_range_or_null(
            pl.col("vigorousIntensityMinutes"), 0, MAX_SESSION_MINUTES
        ).round(0),
        steps=in_range_or_null(pl.col("steps"), 0, 2**31 - 1).round(0),
    ).sort("start_utc")

    notes: dict[str, Any] = {"activities": frame.height}
    if frame.height:
        notes["first_start_utc"] = frame.get_column("start_utc").min().isoformat()  # type: ignore[union-attr]
        notes["last_start_utc"] = frame.get_column("start_utc").max().isoformat()  # type: ignore[union-attr]
        notes["sports"] = frame.get_column("sport").drop_nulls().unique().sort().to_list()
    if undated:
        notes["activities_dropped_without_begin_timestamp"] = undated
    if columns.unreadable:
        notes["unreadable_values"] = columns.unreadable
    losses = (
        [f"{undated} activit{'y' if undated == 1 else 'ies'} without 'beginTimestamp' dropped"]
        if undated
        else []
    )
    losses += [
        f"{n} unreadable value(s) of '{k}' read as null" for k, n in columns.unreadable.items()
    ]
    if losses:  # dropped records and null values cost only themselves: the file stays ok
        notes["losses"] = losses
    notes.update(loaded.notes())
    return ReadResult(
        kind=GarminKind.ACTIVITIES.value,
        status="partial" if loaded.cut else "ok",
        reason=f"{name}: {loaded.cut}" if loaded.cut else None,
        tables={"sessions": conform(frame, SESSIONS, filled_later=PIPELINE_FILLED)},
        notes=notes,
    )
