"""Monitoring (wellness) FIT files to canonical ``minutes`` and ``daily_totals``.

What the files hold (FORMATS.md section 4): ``monitoring`` messages with an
activity type, a 3-bit intensity level, ``cycles`` (steps for walking and
running: a counter of the day so far, one per activity type), heart rate, and,
stamped at the next local midnight with ``duration_min = 1440``, one totals
message per activity type for the day that just ended.

Mapping, all on whole columns:

* per-minute steps are the increase of the day counter of the row's activity
  type since that type's previous row (the first row of a local day counts
  from midnight; a counter that goes down has restarted and counts from zero).
  When a file starts in the middle of a local day the first count of each type
  includes steps from before the file, so it is left null (noted).
  Sedentary rows without a counter have zero steps.
* several messages in one UTC minute are combined: steps summed, heart rate
  averaged, intensity the highest label. A row exists only for minutes with a
  message: devices that write a message per state change (the vivofit SDK
  sample, minutes apart) put all steps since the previous message of that type
  on the message's minute, as Garmin's own decode does; the manifest notes the
  median spacing of messages so such files can be recognised downstream.
* the intensity label follows ``intensity_label`` below.
* totals messages are summed per timestamp and dated to the local day before
  their timestamp.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from config.schema import INTENSITY_LEVELS
from ingest.fit.decode import MessageTable
from ingest.fit.local_offset import with_utc_offset
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S, FIT_MIN_ABSOLUTE_S

SOURCE = "fit_monitoring"
DAY_TOTAL_MINUTES = 1440
SEDENTARY = 8
"""``activity_type`` value of sedentary states."""

LEVEL_LABEL_INDEX = np.array([0, 1, 1, 2, 2, 3, 3, 3])
"""irisin's reading of the 3-bit monitoring intensity level (0-7) as an index into
``INTENSITY_LEVELS``: 0 sedentary, 1-2 light, 3-4 moderate, 5-7 vigorous. Garmin
does not publish the scale; a row whose activity type is sedentary is sedentary
whatever its level (vivofit writes levels up to 5 on sedentary rows)."""


def intensity_label(
    activity_type: np.ndarray, type_ok: np.ndarray, level: np.ndarray, level_ok: np.ndarray
) -> np.ndarray:
    """Label index per row (-1 where not derivable)."""
    idx = np.where(level_ok, LEVEL_LABEL_INDEX[np.clip(np.rint(level).astype(np.int64), 0, 7)], -1)
    return np.where(type_ok & (activity_type == SEDENTARY), 0, idx)


def _col(table: MessageTable, name: str) -> tuple[np.ndarray, np.ndarray]:
    c = table.column(name)
    if c.values.ndim != 1 or c.valid.ndim != 1 or c.values.dtype.kind not in "iuf":
        n = len(table)
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    return c.values, c.valid


def _frame(table: MessageTable, offset_s: int | None) -> pl.DataFrame:
    """One row per monitoring message with an absolute time."""
    atype, atype_ok = _col(table, "activity_type")
    level, level_ok = _col(table, "intensity")
    steps, steps_ok = _col(table, "steps")
    hr, hr_ok = _col(table, "heart_rate")
    duration, duration_ok = _col(table, "duration_min")
    active, active_ok = _col(table, "active_time")
    mod, mod_ok = _col(table, "moderate_activity_minutes")
    vig, vig_ok = _col(table, "vigorous_activity_minutes")
    time_ok = table.time_valid & (table.time >= FIT_MIN_ABSOLUTE_S)
    frame = pl.DataFrame(
        {
            "t": table.time,
            "time_ok": time_ok,
            "activity_type": pl.Series(atype.astype(np.int64)).set(pl.Series(~atype_ok), None),
            "label": intensity_label(atype, atype_ok, level, level_ok),
            "steps_counter": pl.Series(steps.astype(np.int64)).set(pl.Series(~steps_ok), None),
            "heart_rate": pl.Series(hr.astype(np.float64)).set(pl.Series(~hr_ok), None),
            "is_total": duration_ok & (duration == DAY_TOTAL_MINUTES),
            "active_s": pl.Series(active.astype(np.float64)).set(pl.Series(~active_ok), None),
            "moderate": pl.Series(mod.astype(np.int64)).set(pl.Series(~mod_ok), None),
            "vigorous": pl.Series(vig.astype(np.int64)).set(pl.Series(~vig_ok), None),
        }
    )
    return frame.filter(pl.col("time_ok")).with_columns(
        (pl.col("t") + (offset_s or 0)).floordiv(86400).alias("local_day")
    )


def _per_minute_steps(rows: pl.DataFrame, file_start_local_s: int | None) -> pl.DataFrame:
    """Steps per row from the per-type day counters (see module docstring)."""
    mid_day_start_day = (
        file_start_local_s // 86400
        if file_start_local_s is not None and file_start_local_s % 86400
        else None
    )
    counter = pl.col("steps_counter")
    previous = counter.shift(1).over(["activity_type", "local_day"], order_by="t")
    first_of_group = previous.is_null() & counter.is_not_null()
    carried_over = first_of_group & (
        pl.col("local_day") == pl.lit(mid_day_start_day, dtype=pl.Int64)
    )
    delta = (
        pl.when(counter.is_null())
        .then(pl.when(pl.col("activity_type") == SEDENTARY).then(0).otherwise(None))
        .when(carried_over)
        .then(None)
        .when(previous.is_null() | (counter < previous))
        .then(counter)
        .otherwise(counter - previous)
    )
    return rows.with_columns(delta.alias("steps"), carried_over.alias("carried_over"))


def monitoring_tables(
    table: MessageTable,
    *,
    offset_s: int | None,
    timezone: str | None,
    file_start_local_s: int | None,
    device: str | None,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """``minutes`` and ``daily_totals`` from a monitoring file's ``monitoring`` messages, plus notes."""
    notes: dict[str, Any] = {}
    frame = _frame(table, offset_s)
    notes["monitoring_messages"] = len(table)
    dropped = len(table) - frame.height
    if dropped:
        notes["rows_dropped_no_absolute_time"] = dropped
    minutes_rows = _per_minute_steps(frame.filter(~pl.col("is_total")), file_start_local_s)
    if minutes_rows.height > 1:
        # devices that write a message per state change (vivofit) leave minutes between messages
        # unreported; their steps land on the message's minute
        times = np.sort(minutes_rows["t"].to_numpy())
        notes["median_seconds_between_messages"] = float(np.median(np.diff(times)))
    carried = int(minutes_rows["carried_over"].sum()) if minutes_rows.height else 0
    if carried:
        notes["first_counts_left_null_file_starts_mid_day"] = carried
    minutes = (
        minutes_rows.with_columns((pl.col("t") // 60 * 60).alias("minute_t"))
        .group_by("minute_t")
        .agg(
            pl.when(pl.col("steps").is_not_null().any()).then(pl.col("steps").sum()).alias("steps"),
            pl.col("heart_rate").mean().alias("heart_rate_bpm"),
            pl.col("label").max().alias("label"),
        )
        .sort("minute_t")
        .with_columns(
            pl.from_epoch(pl.col("minute_t") + FIT_EPOCH_UNIX_S, time_unit="s")
            .dt.cast_time_unit("us")
            .dt.replace_time_zone("UTC")
            .alias("minute_utc"),
            pl.col("label")
            .replace_strict(dict(enumerate(INTENSITY_LEVELS)), default=None, return_dtype=pl.String)
            .alias("intensity"),
        )
    )
    minutes, notes["utc_offset_from"] = with_utc_offset(minutes, "minute_utc", offset_s, timezone)
    minutes_out = minutes.select(
        pl.lit(SOURCE).alias("source"),
        pl.lit(device, dtype=pl.String).alias("device"),
        "minute_utc",
        "utc_offset_minutes",
        pl.col("steps").cast(pl.Int32),
        pl.col("heart_rate_bpm").cast(pl.Float32),
        "intensity",
    )
    totals = _daily_totals(frame.filter(pl.col("is_total")), offset_s, timezone, device)
    notes["day_total_messages"] = int(frame["is_total"].sum())
    return {"minutes": minutes_out.to_arrow(), "daily_totals": totals.to_arrow()}, notes


def _daily_totals(
    rows: pl.DataFrame, offset_s: int | None, timezone: str | None, device: str | None
) -> pl.DataFrame:
    """Sum the per-activity-type totals stamped at each local midnight; date them to the day before.

    The local stamp is rounded to the nearest midnight before stepping back a
    day, so an offset that is off by an hour (a DST change during the day)
    still dates the totals right.
    """
    summed = (
        rows.group_by("t")
        .agg(
            pl.when(pl.col("steps_counter").is_not_null().any())
            .then(pl.col("steps_counter").sum())
            .alias("steps"),
            pl.when(pl.col("moderate").is_not_null().any())
            .then(pl.col("moderate").sum())
            .alias("moderate_minutes"),
            pl.when(pl.col("vigorous").is_not_null().any())
            .then(pl.col("vigorous").sum())
            .alias("vigorous_minutes"),
            pl.when((pl.col("activity_type") == SEDENTARY).any())
            .then(
                (pl.col("active_s").filter(pl.col("activity_type") == SEDENTARY).sum() / 60).round()
            )
            .alias("sedentary_minutes"),
        )
        .with_columns(
            pl.from_epoch(pl.col("t") + FIT_EPOCH_UNIX_S, time_unit="s")
            .dt.cast_time_unit("us")
            .dt.replace_time_zone("UTC")
            .alias("stamp_utc")
        )
    )
    summed, _ = with_utc_offset(summed, "stamp_utc", offset_s, timezone)
    local_s = (
        pl.col("t")
        + FIT_EPOCH_UNIX_S
        + pl.col("utc_offset_minutes").cast(pl.Int64).fill_null(0) * 60
    )
    day_before = ((local_s + 43200) // 86400 - 1).cast(pl.Int32).cast(pl.Date)
    return (
        summed.with_columns(day_before.alias("local_date"))
        .sort("t")
        .select(
            pl.lit(SOURCE).alias("source"),
            pl.lit(device, dtype=pl.String).alias("device"),
            "local_date",
            "utc_offset_minutes",
            pl.col("moderate_minutes").cast(pl.Int32),
            pl.col("vigorous_minutes").cast(pl.Int32),
            pl.col("sedentary_minutes").cast(pl.Int32),
            pl.col("steps").cast(pl.Int32),
            pl.lit(False).alias("bouted"),
        )
    )


__all__ = ["intensity_label", "monitoring_tables"]
