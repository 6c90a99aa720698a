"""The UTC offset of each row: the device's, following the roster time zone across DST when they agree."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

from ingest.zones import offsets_from_zone

HOUR_S = 3600


def _offsets_at(unix_s: np.ndarray, timezone: str) -> np.ndarray:
    """The zone's UTC offset in minutes at each Unix second (raises PolarsError for an unknown zone)."""
    utc = pl.Series(unix_s * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    return pl.select(offsets_from_zone(pl.lit(utc), timezone)).to_series().to_numpy()


@functools.lru_cache(maxsize=256)
def _zone_year(timezone: str, year: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A zone's offsets over one UTC year as (Unix second each offset starts, offset minutes); None: unknown zone.

    Built once per zone and year, so converting a cohort's files costs a table
    lookup per row instead of a time-zone conversion per file. Time-zone
    transitions since 1970 fall on whole minutes and months apart: the offsets
    are looked up on an hourly grid, and only the hours in which the offset
    changes are looked up again minute by minute (about 9,000 conversions a
    year instead of 525,600, which took 72 ms per zone and year, a quarter of
    a fresh ``irisin ingest`` of the FIT corpus, whose files span 12 years).
    """
    start = int(np.datetime64(f"{year:04d}-01-01", "s").astype(np.int64))
    end = int(np.datetime64(f"{year + 1:04d}-01-01", "s").astype(np.int64))
    hours = np.arange(start, end + HOUR_S, HOUR_S, dtype=np.int64)  # and the next year's start
    try:
        hourly = _offsets_at(hours, timezone)
    except pl.exceptions.PolarsError:  # unknown zone name in the roster
        return None
    changing = hours[np.flatnonzero(hourly[1:] != hourly[:-1])]  # hours in which the offset changes
    inside = (changing[:, None] + np.arange(60, HOUR_S, 60, dtype=np.int64)[None, :]).ravel()
    grid = np.concatenate((hours[:-1], inside))
    offsets = np.concatenate((hourly[:-1], _offsets_at(inside, timezone)))
    order = np.argsort(grid, kind="stable")
    grid, offsets = grid[order], offsets[order]
    change = np.flatnonzero(np.concatenate(([True], offsets[1:] != offsets[:-1])))
    return grid[change], offsets[change]


def zone_offsets_minutes(unix_s: np.ndarray, timezone: str) -> np.ndarray | None:
    """The IANA zone's UTC offset (minutes, int16) at each Unix second; None for an unknown zone name."""
    seconds = unix_s.astype(np.int64)
    years = seconds.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros(seconds.size, dtype=np.int16)
    for year in np.unique(years):
        table = _zone_year(timezone, int(year))
        if table is None:
            return None
        starts, offsets = table
        rows = years == year
        out[rows] = offsets[np.searchsorted(starts, seconds[rows], side="right") - 1]
    return out


def utc_offsets(
    unix_s: np.ndarray, file_offset_s: int | None, timezone: str | None
) -> tuple[np.ndarray | None, str]:
    """Per-row ``utc_offset_minutes`` (int16; None: all unknown) for rows at ``unix_s``, and where it came from.

    * The device's own offset (``monitoring_info``/``activity`` local time or
      ``device_settings``) is what the participant saw, so it wins.
    * A file carries one offset, written at its start; when the roster's IANA
      zone gives that same offset at the file's first row, the zone's offset is
      used row by row, so minutes after a DST change inside the file move with it.
    * Without a device offset the roster zone is used; without either the
      offset is unknown.
    """
    if unix_s.size == 0 or (file_offset_s is None and not timezone):
        return None, "unknown"
    zoned = zone_offsets_minutes(unix_s, timezone) if timezone else None
    return decide_offsets(unix_s, file_offset_s, timezone, zoned)


def decide_offsets(
    unix_s: np.ndarray, file_offset_s: int | None, timezone: str | None, zoned: np.ndarray | None
) -> tuple[np.ndarray | None, str]:
    """``utc_offsets`` given the roster zone's offsets at ``unix_s`` already looked up (None: no or unknown zone).

    A batch of files looks its rows up once per zone, then decides file by file here.
    """
    if unix_s.size == 0 or (file_offset_s is None and not timezone):
        return None, "unknown"
    file_minutes = None if file_offset_s is None else round(file_offset_s / 60)
    if timezone and zoned is not None:
        first = int(zoned[int(np.argmin(unix_s))])
        if file_minutes is None:
            return zoned, "roster timezone"
        if first == file_minutes:
            return zoned, "file, following the roster timezone across DST"
    if file_minutes is None:
        return None, "file"
    return np.full(unix_s.size, file_minutes, dtype=np.int16), "file"


def with_utc_offset(
    frame: pl.DataFrame, utc_column: str, file_offset_s: int | None, timezone: str | None
) -> tuple[pl.DataFrame, str]:
    """``frame`` with ``utc_offset_minutes`` (Int16) and a note saying where it came from (see ``utc_offsets``)."""
    if frame.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=pl.Int16).alias("utc_offset_minutes")
        ), "unknown"
    unix_s = frame[utc_column].dt.epoch("s").to_numpy()
    offsets, source = utc_offsets(unix_s, file_offset_s, timezone)
    column = (
        pl.lit(None, dtype=pl.Int16)
        if offsets is None
        else pl.Series("utc_offset_minutes", offsets, dtype=pl.Int16)
    )
    return frame.with_columns(column.alias("utc_offset_minutes")), source
