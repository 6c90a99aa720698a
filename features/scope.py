"""Restrict input rows to the ones that can affect given participant-weeks.

Used for incremental recomputation: a local week starting ``week_start`` covers
UTC instants from ``week_start - 14 h`` to ``week_start + 7 d + 14 h`` (UTC
offsets span -12 h to +14 h), so minute rows from one day before the earliest
to eight days after the latest requested week of a participant are enough.
Weeks between a participant's earliest and latest requested week come along
whole; callers keep only the requested rows.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

ONLY_COLUMNS = ("participant_id", "week_start")

REACH_BEFORE = timedelta(days=1)
"""Minute rows from this long before a requested week's start (UTC midnight) can fall in it."""
REACH_AFTER = timedelta(days=8)
"""... and up to this long after the start (a week plus the widest UTC offset, rounded up to days)."""
DAILY_REACH_AFTER = timedelta(days=6)
"""Daily totals carry a local date: the week's own seven days, start to start + 6."""


def participant_bounds(only: pl.DataFrame) -> pl.LazyFrame:
    """Per participant: the earliest and the latest requested week start."""
    return (
        only.lazy()
        .select(pl.col("participant_id").cast(pl.String), pl.col("week_start").cast(pl.Date))
        .group_by("participant_id")
        .agg(
            pl.col("week_start").min().alias("_first_week"),
            pl.col("week_start").max().alias("_last_week"),
        )
    )


def restrict_minutes(minutes: pl.LazyFrame, only: pl.DataFrame) -> pl.LazyFrame:
    """Minute rows of the requested participants within reach of their requested weeks."""
    utc = pl.Datetime("us", "UTC")
    low = (pl.col("_first_week") - REACH_BEFORE).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    high = (pl.col("_last_week") + REACH_AFTER).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return (
        minutes.join(participant_bounds(only), on="participant_id", how="inner")
        .filter((pl.col("minute_utc").cast(utc) >= low) & (pl.col("minute_utc").cast(utc) < high))
        .drop("_first_week", "_last_week")
    )


def restrict_daily_totals(daily_totals: pl.LazyFrame, only: pl.DataFrame) -> pl.LazyFrame:
    """Daily totals rows of the requested participants whose local date falls in a requested span."""
    return (
        daily_totals.join(participant_bounds(only), on="participant_id", how="inner")
        .filter(
            (pl.col("local_date") >= pl.col("_first_week"))
            & (pl.col("local_date") <= pl.col("_last_week") + DAILY_REACH_AFTER)
        )
        .drop("_first_week", "_last_week")
    )


def keep_requested(frame: pl.DataFrame, only: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``frame`` whose (participant_id, week_start) is in ``only``."""
    keys = only.select(
        pl.col("participant_id").cast(pl.String), pl.col("week_start").cast(pl.Date)
    ).unique()
    return frame.join(keys, on=list(ONLY_COLUMNS), how="semi")
