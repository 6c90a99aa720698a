"""The UTC offset an IANA time zone has at given instants, shared by every reader."""

from __future__ import annotations

import polars as pl


def offsets_from_zone(utc: pl.Expr, tz: str) -> pl.Expr:
    """Minutes the local wall clock of ``tz`` is ahead of UTC at each instant of ``utc`` (Int16).

    An unknown zone name fails when the expression is evaluated (``polars`` raises).
    """
    local = utc.dt.convert_time_zone(tz).dt.replace_time_zone(None)
    return ((local - utc.dt.replace_time_zone(None)).dt.total_minutes()).cast(pl.Int16)
