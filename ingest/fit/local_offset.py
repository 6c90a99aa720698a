"""The UTC offset of each row: the file's own offset, else the roster time zone, else unknown."""

from __future__ import annotations

import polars as pl


def offset_minutes_expr(
    utc_column: str, file_offset_s: int | None, timezone: str | None
) -> tuple[pl.Expr, str]:
    """Polars expression for ``utc_offset_minutes`` and a note saying where it came from.

    A file's own offset (``monitoring_info``/``activity`` local time, or device
    settings) wins because it is what the device showed; the participant's IANA
    zone from the roster is the fallback and follows DST per row.
    """
    if file_offset_s is not None:
        return pl.lit(round(file_offset_s / 60), dtype=pl.Int16), "file"
    if timezone:
        local = pl.col(utc_column).dt.convert_time_zone(timezone).dt.replace_time_zone(None)
        naive_utc = pl.col(utc_column).dt.replace_time_zone(None)
        return ((local - naive_utc).dt.total_minutes()).cast(pl.Int16), "roster timezone"
    return pl.lit(None, dtype=pl.Int16), "unknown"
