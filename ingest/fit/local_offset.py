"""The UTC offset of each row: the device's, following the roster time zone across DST when they agree."""

from __future__ import annotations

import polars as pl


def _zone_offset_minutes(utc_column: str, timezone: str) -> pl.Expr:
    local = pl.col(utc_column).dt.convert_time_zone(timezone).dt.replace_time_zone(None)
    return (local - pl.col(utc_column).dt.replace_time_zone(None)).dt.total_minutes()


def with_utc_offset(
    frame: pl.DataFrame, utc_column: str, file_offset_s: int | None, timezone: str | None
) -> tuple[pl.DataFrame, str]:
    """``frame`` with ``utc_offset_minutes`` (Int16) and a note saying where it came from.

    * The device's own offset (``monitoring_info``/``activity`` local time or
      ``device_settings``) is what the participant saw, so it wins.
    * A file carries one offset, written at its start; when the roster's IANA
      zone gives that same offset at the file's first row, the zone's offset is
      used row by row, so minutes after a DST change inside the file move with it.
    * Without a device offset the roster zone is used; without either the
      offset is unknown (null).
    """
    if frame.height == 0 or (file_offset_s is None and not timezone):
        return frame.with_columns(
            pl.lit(None, dtype=pl.Int16).alias("utc_offset_minutes")
        ), "unknown"
    file_minutes = None if file_offset_s is None else round(file_offset_s / 60)
    if timezone:
        try:
            zoned = frame.with_columns(
                _zone_offset_minutes(utc_column, timezone)
                .cast(pl.Int16)
                .alias("utc_offset_minutes")
            )
        except pl.exceptions.PolarsError:  # unknown zone name in the roster
            zoned = None
        if zoned is not None:
            first = zoned.sort(utc_column)["utc_offset_minutes"][0]
            if file_minutes is None:
                return zoned, "roster timezone"
            if first == file_minutes:
                return zoned, "file, following the roster timezone across DST"
    return frame.with_columns(
        pl.lit(file_minutes, dtype=pl.Int16).alias("utc_offset_minutes")
    ), "file"
