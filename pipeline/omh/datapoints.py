"""irisin tables to Open mHealth data points (pure: frames in, dicts out).

* ``step-count`` 2.0 and ``heart-rate`` 1.0, one data point per participant
  and clock minute, each minute counted once across devices and sources: the
  minute's steps are the largest any trusted row reports (an iPhone and a
  Watch counting one walk are not added), its heart rate the mean of the rows
  that report one. The time interval is the minute in the device's local time
  (its UTC offset), or UTC where no offset is known.
* ``physical-activity`` 1.0 for each recorded session (``activity_name`` is
  the sport as the device names it) and for each scored week
  (``activity_name`` "moderate-to-vigorous physical activity"; the interval is
  the local week). The week's minutes are ``duration`` (moderate plus
  vigorous), ``duration_moderate_activity`` and ``duration_vigorous_activity``,
  the names IEEE 1752.1 ``physical-activity`` gives them (each a
  ``duration-unit-value``), with ``wear_duration``, ``valid_days``,
  ``weekly_status`` and ``threshold`` beside them; both the Open mHealth 1.0
  and the IEEE 1752.1 body schemas allow added properties.

Headers carry the Open mHealth 1.0 fields (``id``, ``creation_date_time``,
``acquisition_provenance``) and the IEEE 1752.1 ones (``uuid``, the same id;
``source_creation_date_time``, the same time; ``modality``), so every point
validates against both envelopes.

Every header has a stable ``id`` (UUID 5 of participant, schema and interval,
so a second export names the same points the same way), the schema id, the
creation time and ``acquisition_provenance`` with the source(s), modality
``sensed``, irisin's version, the study's config hash and the raw files the
point came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from pipeline import __version__

STEP_COUNT = ("omh", "step-count", "2.0")
HEART_RATE = ("omh", "heart-rate", "1.0")
PHYSICAL_ACTIVITY = ("omh", "physical-activity", "1.0")
WEEKLY_ACTIVITY_NAME = "moderate-to-vigorous physical activity"
_NAMESPACE = uuid.UUID("1d1b8b2e-3a5e-4c55-9d43-7f1b8a9b19a4")


def _header(
    schema_id: tuple[str, str, str],
    key: str,
    created: str,
    sources: str,
    files: list[str],
    config_hash: str | None,
) -> dict[str, Any]:
    namespace, name, version = schema_id
    point_id = str(uuid.uuid5(_NAMESPACE, f"{name}:{key}"))
    return {
        "id": point_id,
        "uuid": point_id,  # IEEE 1752.1 header name of the same id
        "creation_date_time": created,
        "source_creation_date_time": created,  # IEEE 1752.1: when this (derived) point was made
        "modality": "sensed",  # IEEE 1752.1 header; Open mHealth has it in the provenance
        "schema_id": {"namespace": namespace, "name": name, "version": version},
        "acquisition_provenance": {
            "source_name": sources,
            "modality": "sensed",
            "irisin_version": __version__,
            "config_hash": config_hash,
            "source_files": files,
        },
    }


def _local_iso(utc: pl.Expr, offset: pl.Expr) -> pl.Expr:
    """RFC 3339 text of a UTC instant in a local offset (``2026-03-10T08:00:00+01:00``), ``Z`` when unknown."""
    local = utc.dt.replace_time_zone(None) + pl.duration(minutes=offset.fill_null(0).cast(pl.Int64))
    sign = pl.when(offset < 0).then(pl.lit("-")).otherwise(pl.lit("+"))
    magnitude = offset.abs().cast(pl.Int32)
    hh = (magnitude // 60).cast(pl.String).str.zfill(2)
    mm = (magnitude % 60).cast(pl.String).str.zfill(2)
    suffix = (
        pl.when(offset.is_null())
        .then(pl.lit("Z"))
        .otherwise(pl.concat_str([sign, hh, pl.lit(":"), mm]))
    )
    return pl.concat_str([local.dt.strftime("%Y-%m-%dT%H:%M:%S"), suffix])


def minutes_once(minutes: pl.DataFrame) -> pl.DataFrame:
    """One row per participant and minute: steps counted once, mean heart rate, offset, sources, files."""
    return (
        minutes.group_by("participant_id", "minute_utc")
        .agg(
            pl.col("steps").max(),
            pl.col("heart_rate_bpm").filter(pl.col("heart_rate_bpm") > 0).mean(),
            pl.col("utc_offset_minutes").drop_nulls().first(),
            pl.col("source").unique().sort().str.join(", ").alias("sources"),
            pl.col("file_id").unique().sort().alias("file_ids"),
        )
        .sort("participant_id", "minute_utc")
        .with_columns(
            _local_iso(pl.col("minute_utc"), pl.col("utc_offset_minutes")).alias("start"),
        )
    )


def minute_points(
    once: pl.DataFrame, paths: Mapping[str, str], created: str, config_hash: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(schema name, data point) for every minute's steps and heart rate."""
    for pid, minute, steps, hr, _, sources, file_ids, start in once.iter_rows():
        files = [paths.get(f, f) for f in file_ids]
        interval = {
            "time_interval": {"start_date_time": start, "duration": {"value": 1, "unit": "min"}}
        }
        key = f"{pid}:{minute.isoformat()}"
        if steps is not None:
            yield (
                "step-count",
                {
                    "header": _header(STEP_COUNT, key, created, sources, files, config_hash),
                    "body": {"step_count": int(steps), "effective_time_frame": interval},
                },
            )
        if hr is not None:
            yield (
                "heart-rate",
                {
                    "header": _header(HEART_RATE, key, created, sources, files, config_hash),
                    "body": {
                        "heart_rate": {"value": round(float(hr), 1), "unit": "beats/min"},
                        "effective_time_frame": interval,
                    },
                },
            )


def session_points(
    sessions: pl.DataFrame, paths: Mapping[str, str], created: str, config_hash: str | None
) -> Iterator[dict[str, Any]]:
    """A ``physical-activity`` data point per session."""
    frame = sessions.with_columns(
        _local_iso(pl.col("start_utc"), pl.col("utc_offset_minutes")).alias("start"),
        _local_iso(pl.col("end_utc"), pl.col("utc_offset_minutes")).alias("end"),
    ).sort("participant_id", "start_utc")
    for row in frame.iter_rows(named=True):
        interval: dict[str, Any] = {"start_date_time": row["start"]}
        if row["end_utc"] is not None and row["end_utc"] > row["start_utc"]:
            interval["end_date_time"] = row["end"]
        else:
            seconds = row["timer_seconds"] or 0.0
            interval["duration"] = {"value": float(seconds), "unit": "sec"}
        body: dict[str, Any] = {
            "activity_name": row["sport"] or "unspecified activity",
            "effective_time_frame": {"time_interval": interval},
        }
        if row["timer_seconds"] is not None:
            body["duration"] = {"value": float(row["timer_seconds"]), "unit": "sec"}
        source = row["source"] + (f" ({row['device']})" if row["device"] else "")
        yield {
            "header": _header(
                PHYSICAL_ACTIVITY,
                f"{row['participant_id']}:session:{row['source']}:{row['start_utc'].isoformat()}",
                created,
                source,
                [paths.get(row["file_id"], row["file_id"])],
                config_hash,
            ),
            "body": body,
        }


def _week_bounds(week_start: date, zone: str) -> tuple[str, str]:
    tz = ZoneInfo(zone)
    start = datetime.combine(week_start, datetime.min.time(), tz)
    end = datetime.combine(week_start + timedelta(days=7), datetime.min.time(), tz)
    return start.isoformat(), end.isoformat()


def weekly_points(
    weekly: pl.DataFrame, zones: Mapping[str, str], created: str, threshold_minutes: int
) -> Iterator[dict[str, Any]]:
    """A ``physical-activity`` data point per participant and scored week."""
    for row in weekly.sort("participant_id", "week_start").iter_rows(named=True):
        start, end = _week_bounds(row["week_start"], zones.get(row["participant_id"], "UTC"))
        yield {
            "header": _header(
                PHYSICAL_ACTIVITY,
                f"{row['participant_id']}:week:{row['week_start'].isoformat()}",
                created,
                f"irisin weekly score ({row.get('sources') or 'no source'})",
                [],
                row.get("config_hash"),
            ),
            "body": {
                "activity_name": WEEKLY_ACTIVITY_NAME,
                "effective_time_frame": {
                    "time_interval": {"start_date_time": start, "end_date_time": end}
                },
                "duration": {"value": int(row["mvpa_minutes"]), "unit": "min"},
                "duration_moderate_activity": {
                    "value": int(row["moderate_minutes"]),
                    "unit": "min",
                },
                "duration_vigorous_activity": {
                    "value": int(row["vigorous_minutes"]),
                    "unit": "min",
                },
                "wear_duration": {"value": int(row["wear_minutes"]), "unit": "min"},
                "valid_days": int(row["valid_days"]),
                "weekly_status": row["status"],
                "threshold": {"value": threshold_minutes, "unit": "min"},
            },
        }
