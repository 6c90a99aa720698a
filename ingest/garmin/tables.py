"""Shared helpers that shape Garmin frames into canonical tables."""

from __future__ import annotations

import polars as pl

SOURCE = "garmin_export"
"""``source`` value of every row this package writes."""

DEVICE = "Garmin"
"""Device name for rows whose file does not say which Garmin device recorded them."""

MIN_UTC_OFFSET_MINUTES = -12 * 60
MAX_UTC_OFFSET_MINUTES = 14 * 60


def offset_minutes(local: pl.Expr, utc: pl.Expr) -> pl.Expr:
    """Local time minus UTC, in whole minutes, null outside the range of real zones (UTC-12 to UTC+14)."""
    minutes = (local - utc).dt.total_seconds().truediv(60).round(0).cast(pl.Int32)
    in_range = minutes.is_between(MIN_UTC_OFFSET_MINUTES, MAX_UTC_OFFSET_MINUTES)
    return pl.when(in_range).then(minutes).otherwise(None)


def in_range_or_null(expr: pl.Expr, low: float, high: float) -> pl.Expr:
    """``expr`` where it lies in [low, high], null elsewhere (impossible values are not data)."""
    return pl.when(expr.is_between(low, high)).then(expr).otherwise(None)
