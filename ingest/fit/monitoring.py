"""Monitoring (wellness) FIT files to canonical ``minutes`` and ``daily_totals``.

What the files hold (FORMATS.md section 4): ``monitoring`` messages with an
activity type, a 3-bit intensity level, ``cycles`` (steps for walking and
running: a counter of the day so far, one per activity type), heart rate, and,
stamped at the next local midnight with ``duration_min = 1440``, one totals
message per activity type for the day that just ended.

Mapping, all on whole numpy columns (a file costs a few array passes, no
per-file query planning; ``tests/fit/monitoring_reference.py`` keeps the
earlier polars formulation the tests compare against):

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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from config.schema import INTENSITY_LEVELS, PLAUSIBLE_HEART_RATE_BPM
from ingest.fit.decode import MessageTable
from ingest.fit.local_offset import utc_offsets
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S, FIT_MIN_ABSOLUTE_S, fit_time_text
from ingest.salvage import EXAMPLES_KEPT

SOURCE = "fit_monitoring"
DAY_TOTAL_MINUTES = 1440
SEDENTARY = 8
"""``activity_type`` value of sedentary states."""

LEVEL_LABEL_INDEX = np.array([0, 1, 1, 2, 2, 3, 3, 3])
"""irisin's reading of the 3-bit monitoring intensity level (0-7) as an index into
``INTENSITY_LEVELS``: 0 sedentary, 1-2 light, 3-4 moderate, 5-7 vigorous. Garmin
does not publish the scale; a row whose activity type is sedentary is sedentary
whatever its level (vivofit writes levels up to 5 on sedentary rows)."""

_LABELS = pa.array(list(INTENSITY_LEVELS), pa.string())
_UTC_US = pa.timestamp("us", tz="UTC")


def intensity_label(
    activity_type: np.ndarray, type_ok: np.ndarray, level: np.ndarray, level_ok: np.ndarray
) -> np.ndarray:
    """Label index per row (-1 where not derivable)."""
    idx = np.where(level_ok, LEVEL_LABEL_INDEX[np.clip(np.rint(level).astype(np.int64), 0, 7)], -1)
    return np.where(type_ok & (activity_type == SEDENTARY), 0, idx)


def _col(table: MessageTable, name: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    c = table.column(name)
    if c.values.ndim != 1 or c.valid.ndim != 1 or c.values.dtype.kind not in "iuf":
        n = len(table)
        return np.zeros(n, dtype=dtype), np.zeros(n, dtype=bool)
    return c.values.astype(dtype), c.valid


@dataclass
class _Rows:
    """The monitoring messages with an absolute time, as numpy columns (``*_ok``: not null)."""

    t: np.ndarray
    atype: np.ndarray
    atype_ok: np.ndarray
    label: np.ndarray
    counter: np.ndarray
    counter_ok: np.ndarray
    hr: np.ndarray
    hr_ok: np.ndarray
    is_total: np.ndarray
    active_s: np.ndarray
    active_ok: np.ndarray
    moderate: np.ndarray
    moderate_ok: np.ndarray
    vigorous: np.ndarray
    vigorous_ok: np.ndarray

    def take(self, keep: np.ndarray) -> _Rows:
        return _Rows(**{k: v[keep] for k, v in self.__dict__.items()})


def _rows(table: MessageTable) -> _Rows:
    atype, atype_ok = _col(table, "activity_type", np.int64)
    level, level_ok = _col(table, "intensity", np.float64)
    steps, steps_ok = _col(table, "steps", np.int64)
    hr, hr_ok = _col(table, "heart_rate", np.float64)
    duration, duration_ok = _col(table, "duration_min", np.float64)
    active, active_ok = _col(table, "active_time", np.float64)
    mod, mod_ok = _col(table, "moderate_activity_minutes", np.int64)
    vig, vig_ok = _col(table, "vigorous_activity_minutes", np.int64)
    rows = _Rows(
        t=table.time.astype(np.int64),
        atype=atype,
        atype_ok=atype_ok,
        label=intensity_label(atype, atype_ok, level, level_ok),
        counter=steps,
        counter_ok=steps_ok,
        hr=hr,
        hr_ok=hr_ok,
        is_total=duration_ok & (duration == DAY_TOTAL_MINUTES),
        active_s=active,
        active_ok=active_ok,
        moderate=mod,
        moderate_ok=mod_ok,
        vigorous=vig,
        vigorous_ok=vig_ok,
    )
    return rows.take(table.time_valid & (table.time >= FIT_MIN_ABSOLUTE_S))


def _per_minute_steps(
    rows: _Rows, local_day: np.ndarray, file_start_local_s: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps per row (values, not-null) from the per-type day counters, and which first counts were left null.

    A row's previous row is the one before it, in time, among the rows of the
    same activity type (a missing type is a type of its own) and local day.
    """
    n = rows.t.size
    mid_day = (
        file_start_local_s // 86400
        if file_start_local_s is not None and file_start_local_s % 86400
        else None
    )
    type_key = np.where(rows.atype_ok, rows.atype, np.iinfo(np.int64).min)
    order = np.lexsort((rows.t, local_day, type_key))
    same_group = np.zeros(n, dtype=bool)
    if n > 1:
        same_group[1:] = (type_key[order][1:] == type_key[order][:-1]) & (
            local_day[order][1:] == local_day[order][:-1]
        )
    prev_value = np.zeros(n, dtype=np.int64)
    prev_ok = np.zeros(n, dtype=bool)
    sorted_counter, sorted_ok = rows.counter[order], rows.counter_ok[order]
    prev_value[order[1:]] = sorted_counter[:-1]
    prev_ok[order[1:]] = sorted_ok[:-1] & same_group[1:]
    counter, ok = rows.counter, rows.counter_ok
    first = ~prev_ok & ok
    carried = first & (local_day == mid_day) if mid_day is not None else np.zeros(n, dtype=bool)
    restart = ~prev_ok | (counter < prev_value)
    steps = np.where(restart, counter, counter - prev_value)
    steps_ok = ok & ~carried
    sedentary_no_counter = ~ok & rows.atype_ok & (rows.atype == SEDENTARY)
    steps = np.where(sedentary_no_counter, 0, steps)
    return steps, steps_ok | sedentary_no_counter, carried


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in sorted ``keys``."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def _sum_where(
    values: np.ndarray, ok: np.ndarray, group: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sum of the not-null values, and whether the group had any (null otherwise)."""
    counts = np.bincount(group, weights=ok, minlength=groups)
    sums = np.bincount(
        group, weights=np.where(ok, values, 0), minlength=groups
    )  # exact below 2**53
    return sums.astype(values.dtype), counts > 0


def _timestamps(fit_s: np.ndarray) -> pa.Array:
    return pa.array((fit_s + FIT_EPOCH_UNIX_S) * 1_000_000, pa.int64()).cast(_UTC_US)


def _offset_array(
    unix_s: np.ndarray, offset_s: int | None, timezone: str | None
) -> tuple[pa.Array, str]:
    offsets, source = utc_offsets(unix_s, offset_s, timezone)
    if offsets is None:
        return pa.nulls(unix_s.size, pa.int16()), source
    return pa.array(offsets, pa.int16()), source


def _constant(value: str | None, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


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
    rows = _rows(table)
    notes["monitoring_messages"] = len(table)
    dropped = len(table) - rows.t.size
    if dropped:
        notes["rows_dropped_no_absolute_time"] = dropped
    minute_rows = rows.take(~rows.is_total)
    low, high = PLAUSIBLE_HEART_RATE_BPM
    impossible_hr = minute_rows.hr_ok & ~((minute_rows.hr >= low) & (minute_rows.hr <= high))
    if impossible_hr.any():
        # an impossible sample is left out of its minute's mean, and counted
        bad = np.flatnonzero(impossible_hr)
        notes["samples_implausible_dropped"] = int(bad.size)
        notes["samples_implausible_dropped_examples"] = [
            f"monitoring at {fit_time_text(int(minute_rows.t[i]))}: heart_rate={minute_rows.hr[i]:g}"
            for i in bad[:EXAMPLES_KEPT]
        ]
        minute_rows.hr_ok = minute_rows.hr_ok & ~impossible_hr
    local_day = (minute_rows.t + (offset_s or 0)) // 86400
    steps, steps_ok, carried = _per_minute_steps(minute_rows, local_day, file_start_local_s)
    if minute_rows.t.size > 1:
        # devices that write a message per state change (vivofit) leave minutes between messages
        # unreported; their steps land on the message's minute
        notes["median_seconds_between_messages"] = float(np.median(np.diff(np.sort(minute_rows.t))))
    if carried.any():
        notes["first_counts_left_null_file_starts_mid_day"] = int(carried.sum())
    minutes = _minutes_table(minute_rows, steps, steps_ok, offset_s, timezone, device, notes)
    totals = _daily_totals(rows.take(rows.is_total), offset_s, timezone, device)
    notes["day_total_messages"] = int(rows.is_total.sum())
    return {"minutes": minutes, "daily_totals": totals}, notes


def _minutes_table(
    rows: _Rows,
    steps: np.ndarray,
    steps_ok: np.ndarray,
    offset_s: int | None,
    timezone: str | None,
    device: str | None,
    notes: dict[str, Any],
) -> pa.Table:
    """One row per UTC minute with a message: steps summed, heart rate averaged, highest label."""
    minute_t = rows.t // 60 * 60
    order = np.argsort(minute_t, kind="stable")
    keys = minute_t[order]
    starts = _group_starts(keys)
    groups = starts.size
    group = np.zeros(keys.size, dtype=np.int64)
    if groups:
        group[starts[1:]] = 1
        group = np.cumsum(group)
    step_sum, step_any = _sum_where(steps[order], steps_ok[order], group, groups)
    hr_ok = rows.hr_ok[order]
    hr_n = np.bincount(group, weights=hr_ok, minlength=groups)
    hr_sum = np.bincount(group, weights=np.where(hr_ok, rows.hr[order], 0.0), minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        hr_mean = hr_sum / hr_n
    label = np.maximum.reduceat(rows.label[order], starts) if groups else np.zeros(0, np.int64)
    minute_s = keys[starts] if groups else np.zeros(0, np.int64)
    offsets, notes["utc_offset_from"] = _offset_array(
        minute_s + FIT_EPOCH_UNIX_S, offset_s, timezone
    )
    intensity = _LABELS.take(pa.array(label, pa.int64(), mask=label < 0))
    return pa.table(
        {
            "source": _constant(SOURCE, groups),
            "device": _constant(device, groups),
            "minute_utc": _timestamps(minute_s),
            "utc_offset_minutes": offsets,
            "steps": pa.array(step_sum.astype(np.int32), pa.int32(), mask=~step_any),
            "heart_rate_bpm": pa.array(hr_mean.astype(np.float32), pa.float32(), mask=hr_n == 0),
            "intensity": intensity,
        }
    )


def _daily_totals(
    rows: _Rows, offset_s: int | None, timezone: str | None, device: str | None
) -> pa.Table:
    """Sum the per-activity-type totals stamped at each local midnight; date them to the day before.

    The local stamp is rounded to the nearest midnight before stepping back a
    day, so an offset that is off by an hour (a DST change during the day)
    still dates the totals right.
    """
    order = np.argsort(rows.t, kind="stable")
    rows = rows.take(order)
    starts = _group_starts(rows.t)
    groups = starts.size
    group = np.zeros(rows.t.size, dtype=np.int64)
    if groups:
        group[starts[1:]] = 1
        group = np.cumsum(group)
    steps, steps_ok = _sum_where(rows.counter, rows.counter_ok, group, groups)
    moderate, moderate_ok = _sum_where(rows.moderate, rows.moderate_ok, group, groups)
    vigorous, vigorous_ok = _sum_where(rows.vigorous, rows.vigorous_ok, group, groups)
    sedentary = rows.atype_ok & (rows.atype == SEDENTARY)
    sed_any = np.bincount(group, weights=sedentary, minlength=groups) > 0
    sed_s = np.bincount(
        group, weights=np.where(sedentary & rows.active_ok, rows.active_s, 0.0), minlength=groups
    )
    sed_min = np.round(sed_s / 60)
    stamp = rows.t[starts] if groups else np.zeros(0, np.int64)
    unix_s = stamp + FIT_EPOCH_UNIX_S
    offsets, _ = utc_offsets(unix_s, offset_s, timezone)
    local_s = unix_s + (0 if offsets is None else offsets.astype(np.int64) * 60)
    day_before = ((local_s + 43200) // 86400 - 1).astype(np.int32)
    return pa.table(
        {
            "source": _constant(SOURCE, groups),
            "device": _constant(device, groups),
            "local_date": pa.array(day_before, pa.int32()).cast(pa.date32()),
            "utc_offset_minutes": pa.nulls(groups, pa.int16())
            if offsets is None
            else pa.array(offsets, pa.int16()),
            "moderate_minutes": pa.array(moderate.astype(np.int32), pa.int32(), mask=~moderate_ok),
            "vigorous_minutes": pa.array(vigorous.astype(np.int32), pa.int32(), mask=~vigorous_ok),
            "sedentary_minutes": pa.array(sed_min.astype(np.int32), pa.int32(), mask=~sed_any),
            "steps": pa.array(steps.astype(np.int32), pa.int32(), mask=~steps_ok),
            "bouted": pa.array(np.zeros(groups, dtype=bool), pa.bool_()),
        }
    )


__all__ = ["intensity_label", "monitoring_tables"]
