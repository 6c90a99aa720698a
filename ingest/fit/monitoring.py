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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from config.schema import INTENSITY_LEVELS, PLAUSIBLE_HEART_RATE_BPM
from ingest.fit.decode import MessageTable
from ingest.fit.local_offset import decide_offsets, zone_offsets_minutes
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


@dataclass(frozen=True)
class MonitoringFile:
    """One monitoring file's ``monitoring`` messages and what its conversion needs to know."""

    table: MessageTable
    offset_s: int | None
    timezone: str | None
    file_start_local_s: int | None
    device: str | None


def _rows_of(files: Sequence[MonitoringFile]) -> tuple[_Rows, np.ndarray, np.ndarray]:
    """The rows of every file with an absolute time, concatenated in file order, and each row's file index.

    Also returns each file's count of messages without an absolute time.
    """
    parts = [_rows(f.table) for f in files]
    counts = np.array([p.t.size for p in parts], dtype=np.int64)
    dropped = np.array([len(f.table) for f in files], dtype=np.int64) - counts
    if len(parts) == 1:
        rows = parts[0]
    else:
        rows = _Rows(
            **{k: np.concatenate([p.__dict__[k] for p in parts]) for k in parts[0].__dict__}
        )
    return rows, np.repeat(np.arange(len(files), dtype=np.int64), counts), dropped


def _per_minute_steps(
    rows: _Rows, seg: np.ndarray, local_day: np.ndarray, mid_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps per row (values, not-null) from the per-type day counters, and which first counts were left null.

    A row's previous row is the one before it, in time, among the rows of the
    same file, activity type (a missing type is a type of its own) and local
    day. ``mid_day`` is, per row, the local day its file starts in when the
    file starts after that day's midnight (else a day no row has).
    """
    n = rows.t.size
    type_key = np.where(rows.atype_ok, rows.atype, np.iinfo(np.int64).min)
    order = np.lexsort((rows.t, local_day, type_key, seg))
    same_group = np.zeros(n, dtype=bool)
    if n > 1:
        same_group[1:] = (
            (type_key[order][1:] == type_key[order][:-1])
            & (local_day[order][1:] == local_day[order][:-1])
            & (seg[order][1:] == seg[order][:-1])
        )
    prev_value = np.zeros(n, dtype=np.int64)
    prev_ok = np.zeros(n, dtype=bool)
    sorted_counter, sorted_ok = rows.counter[order], rows.counter_ok[order]
    prev_value[order[1:]] = sorted_counter[:-1]
    prev_ok[order[1:]] = sorted_ok[:-1] & same_group[1:]
    counter, ok = rows.counter, rows.counter_ok
    first = ~prev_ok & ok
    carried = first & (local_day == mid_day)
    restart = ~prev_ok | (counter < prev_value)
    steps = np.where(restart, counter, counter - prev_value)
    steps_ok = ok & ~carried
    sedentary_no_counter = ~ok & rows.atype_ok & (rows.atype == SEDENTARY)
    steps = np.where(sedentary_no_counter, 0, steps)
    return steps, steps_ok | sedentary_no_counter, carried


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal key tuples in rows sorted by them."""
    if keys[0].size == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(keys[0].size, dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def _group_index(starts: np.ndarray, n: int) -> np.ndarray:
    """Group number of each of ``n`` sorted rows, from the groups' start indexes."""
    group = np.zeros(n, dtype=np.int64)
    if starts.size:
        group[starts[1:]] = 1
        group = np.cumsum(group)
    return group


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


def _file_bounds(seg: np.ndarray, files: int) -> np.ndarray:
    """Row index where each file's rows start in rows sorted by file (``files + 1`` bounds)."""
    return np.searchsorted(seg, np.arange(files + 1), side="left")


def _offsets_by_file(
    unix_s: np.ndarray, bounds: np.ndarray, files: Sequence[MonitoringFile]
) -> tuple[pa.Array, list[str]]:
    """``utc_offset_minutes`` (int16, null where unknown) of rows sorted by file, and each file's source.

    Each file's offset is decided by ``utc_offsets`` on its own rows; the zone
    lookups of all files of one zone are done together.
    """
    values = np.zeros(unix_s.size, dtype=np.int16)
    valid = np.zeros(unix_s.size, dtype=bool)
    sources: list[str] = []
    zones = {f.timezone for f in files if f.timezone}
    zoned_by: dict[str, np.ndarray | None] = {}
    for zone in zones:
        rows = np.concatenate(
            [np.arange(bounds[k], bounds[k + 1]) for k, f in enumerate(files) if f.timezone == zone]
        )
        found = zone_offsets_minutes(unix_s[rows], zone) if rows.size else None
        if found is not None:
            full = np.zeros(unix_s.size, dtype=np.int16)
            full[rows] = found
            zoned_by[zone] = full
        else:
            zoned_by[zone] = None
    for k, f in enumerate(files):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        zoned = zoned_by.get(f.timezone) if f.timezone else None
        offsets, source = decide_offsets(
            unix_s[lo:hi], f.offset_s, f.timezone, None if zoned is None else zoned[lo:hi]
        )
        sources.append(source)
        if offsets is not None:
            values[lo:hi] = offsets
            valid[lo:hi] = True
    return pa.array(values, pa.int16(), mask=~valid), sources


def _by_file(device: list[str | None], seg: np.ndarray) -> pa.Array:
    """Each row's file's value (a string column) for rows with file index ``seg``."""
    return pa.array(device, pa.string()).take(pa.array(seg, pa.int64()))


def monitoring_tables(
    table: MessageTable,
    *,
    offset_s: int | None,
    timezone: str | None,
    file_start_local_s: int | None,
    device: str | None,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """``minutes`` and ``daily_totals`` from a monitoring file's ``monitoring`` messages, plus notes."""
    file = MonitoringFile(table, offset_s, timezone, file_start_local_s, device)
    return monitoring_tables_many([file])[0]


def monitoring_tables_many(
    files: Sequence[MonitoringFile],
) -> list[tuple[dict[str, pa.Table], dict[str, Any]]]:
    """``monitoring_tables`` of many files in one pass over their concatenated rows; one result per file.

    Every grouping is keyed by the file first, so each file's tables and notes
    are those it would have alone (``tests/fit/test_fit_batch.py``); each
    file's tables are zero-copy slices of the batch's.
    """
    if not files:
        return []
    n_files = len(files)
    notes: list[dict[str, Any]] = [{} for _ in files]
    rows, seg, dropped = _rows_of(files)
    for k, f in enumerate(files):
        notes[k]["monitoring_messages"] = len(f.table)
        if dropped[k]:
            notes[k]["rows_dropped_no_absolute_time"] = int(dropped[k])
    minute_keep = ~rows.is_total
    minute_rows, minute_seg = rows.take(minute_keep), seg[minute_keep]
    low, high = PLAUSIBLE_HEART_RATE_BPM
    impossible_hr = minute_rows.hr_ok & ~((minute_rows.hr >= low) & (minute_rows.hr <= high))
    if impossible_hr.any():
        # an impossible sample is left out of its minute's mean, and counted
        for j in np.unique(minute_seg[impossible_hr]):
            bad = np.flatnonzero(impossible_hr & (minute_seg == j))
            notes[int(j)]["samples_implausible_dropped"] = int(bad.size)
            notes[int(j)]["samples_implausible_dropped_examples"] = [
                f"monitoring at {fit_time_text(int(minute_rows.t[i]))}: heart_rate={minute_rows.hr[i]:g}"
                for i in bad[:EXAMPLES_KEPT]
            ]
        minute_rows.hr_ok = minute_rows.hr_ok & ~impossible_hr
    offsets = np.array([f.offset_s or 0 for f in files], dtype=np.int64)
    no_day = np.iinfo(np.int64).min
    mid_days = np.array(
        [
            f.file_start_local_s // 86400
            if f.file_start_local_s is not None and f.file_start_local_s % 86400
            else no_day
            for f in files
        ],
        dtype=np.int64,
    )
    local_day = (minute_rows.t + offsets[minute_seg]) // 86400
    steps, steps_ok, carried = _per_minute_steps(
        minute_rows, minute_seg, local_day, mid_days[minute_seg]
    )
    _spacing_notes(minute_rows.t, minute_seg, n_files, notes)
    carried_n = np.bincount(minute_seg[carried], minlength=n_files)
    for j in np.flatnonzero(carried_n):
        notes[int(j)]["first_counts_left_null_file_starts_mid_day"] = int(carried_n[j])
    minutes, minute_bounds = _minutes_table(minute_rows, minute_seg, steps, steps_ok, files, notes)
    total_keep = rows.is_total
    totals, total_bounds = _daily_totals(rows.take(total_keep), seg[total_keep], files)
    total_n = np.bincount(seg[total_keep], minlength=n_files)
    out = []
    for k in range(n_files):
        notes[k]["day_total_messages"] = int(total_n[k])
        m_lo, m_hi = int(minute_bounds[k]), int(minute_bounds[k + 1])
        t_lo, t_hi = int(total_bounds[k]), int(total_bounds[k + 1])
        tables = {
            "minutes": minutes.slice(m_lo, m_hi - m_lo),
            "daily_totals": totals.slice(t_lo, t_hi - t_lo),
        }
        out.append((tables, notes[k]))
    return out


def _spacing_notes(t: np.ndarray, seg: np.ndarray, files: int, notes: list[dict[str, Any]]) -> None:
    """Each file's median seconds between messages (files of more than one minute row).

    Devices that write a message per state change (vivofit) leave minutes
    between messages unreported; their steps land on the message's minute.
    """
    order = np.lexsort((t, seg))
    t_sorted, seg_sorted = t[order], seg[order]
    if t_sorted.size < 2:
        return
    same = seg_sorted[1:] == seg_sorted[:-1]
    gaps, gap_seg = np.diff(t_sorted)[same], seg_sorted[1:][same]
    gap_order = np.lexsort((gaps, gap_seg))
    gaps, gap_seg = gaps[gap_order], gap_seg[gap_order]
    bounds = _file_bounds(gap_seg, files)
    for k in range(files):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if hi > lo:
            notes[k]["median_seconds_between_messages"] = float(np.median(gaps[lo:hi]))


def _minutes_table(
    rows: _Rows,
    seg: np.ndarray,
    steps: np.ndarray,
    steps_ok: np.ndarray,
    files: Sequence[MonitoringFile],
    notes: list[dict[str, Any]],
) -> tuple[pa.Table, np.ndarray]:
    """One row per file and UTC minute with a message: steps summed, heart rate averaged, highest label.

    Rows come out sorted by file, then minute; also returns each file's row bounds.
    """
    minute_t = rows.t // 60 * 60
    order = np.lexsort((minute_t, seg))
    keys, key_seg = minute_t[order], seg[order]
    starts = _group_starts(key_seg, keys)
    groups = starts.size
    group = _group_index(starts, keys.size)
    step_sum, step_any = _sum_where(steps[order], steps_ok[order], group, groups)
    hr_ok = rows.hr_ok[order]
    hr_n = np.bincount(group, weights=hr_ok, minlength=groups)
    hr_sum = np.bincount(group, weights=np.where(hr_ok, rows.hr[order], 0.0), minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        hr_mean = hr_sum / hr_n
    label = np.maximum.reduceat(rows.label[order], starts) if groups else np.zeros(0, np.int64)
    minute_s = keys[starts] if groups else np.zeros(0, np.int64)
    group_seg = key_seg[starts] if groups else np.zeros(0, np.int64)
    bounds = _file_bounds(group_seg, len(files))
    offsets, sources = _offsets_by_file(minute_s + FIT_EPOCH_UNIX_S, bounds, files)
    for k, source in enumerate(sources):
        notes[k]["utc_offset_from"] = source
    intensity = _LABELS.take(pa.array(label, pa.int64(), mask=label < 0))
    table = pa.table(
        {
            "source": _constant(SOURCE, groups),
            "device": _by_file([f.device for f in files], group_seg),
            "minute_utc": _timestamps(minute_s),
            "utc_offset_minutes": offsets,
            "steps": pa.array(step_sum.astype(np.int32), pa.int32(), mask=~step_any),
            "heart_rate_bpm": pa.array(hr_mean.astype(np.float32), pa.float32(), mask=hr_n == 0),
            "intensity": intensity,
        }
    )
    return table, bounds


def _daily_totals(
    rows: _Rows, seg: np.ndarray, files: Sequence[MonitoringFile]
) -> tuple[pa.Table, np.ndarray]:
    """Sum the per-activity-type totals stamped at each local midnight; date them to the day before.

    The local stamp is rounded to the nearest midnight before stepping back a
    day, so an offset that is off by an hour (a DST change during the day)
    still dates the totals right. Rows come out sorted by file, then stamp;
    also returns each file's row bounds.
    """
    order = np.lexsort((rows.t, seg))
    rows, seg = rows.take(order), seg[order]
    starts = _group_starts(seg, rows.t)
    groups = starts.size
    group = _group_index(starts, rows.t.size)
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
    group_seg = seg[starts] if groups else np.zeros(0, np.int64)
    bounds = _file_bounds(group_seg, len(files))
    unix_s = stamp + FIT_EPOCH_UNIX_S
    offsets, _ = _offsets_by_file(unix_s, bounds, files)
    offset_min = offsets.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    local_s = unix_s + offset_min * 60
    day_before = ((local_s + 43200) // 86400 - 1).astype(np.int32)
    table = pa.table(
        {
            "source": _constant(SOURCE, groups),
            "device": _by_file([f.device for f in files], group_seg),
            "local_date": pa.array(day_before, pa.int32()).cast(pa.date32()),
            "utc_offset_minutes": offsets,
            "moderate_minutes": pa.array(moderate.astype(np.int32), pa.int32(), mask=~moderate_ok),
            "vigorous_minutes": pa.array(vigorous.astype(np.int32), pa.int32(), mask=~vigorous_ok),
            "sedentary_minutes": pa.array(sed_min.astype(np.int32), pa.int32(), mask=~sed_any),
            "steps": pa.array(steps.astype(np.int32), pa.int32(), mask=~steps_ok),
            "bouted": pa.array(np.zeros(groups, dtype=bool), pa.bool_()),
        }
    )
    return table, bounds


def _constant(value: str | None, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


__all__ = ["MonitoringFile", "intensity_label", "monitoring_tables", "monitoring_tables_many"]
