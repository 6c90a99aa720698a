"""Steps and heart-rate rows per participant and UTC hour: what the data-quality notes read.

The roster-zone check (``models.timezone``) and the heart-rate gaps
(``models.heart_rate``) look at a participant's whole history. Kept as one
small row per hour with data, a nightly replaces only the days its touched
weeks reach, instead of scanning every minute in the lake again. The totals
depend on the lake's rows alone (not on the roster or the config).
"""

from __future__ import annotations

import polars as pl

from features.combine import US_PER_MINUTE
from features.scope import REACH_AFTER, REACH_BEFORE

US_PER_HOUR = 60 * US_PER_MINUTE
HOURS_PER_DAY = 24

UTC_HOUR_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "hour": pl.Int64(),
    "steps": pl.Int64(),
    "step_rows": pl.Int64(),
    "heart_rate_rows": pl.Int64(),
    "last_heart_rate_utc": pl.Datetime("us", "UTC"),
}
"""``hour``: whole hours since 1970-01-01 00:00 UTC; ``steps``: the sum over minute rows with
plausible steps (0-300), ``step_rows`` their count; ``heart_rate_rows``: minute rows with a
plausible heart rate (20-220 bpm); ``last_heart_rate_utc``: the hour's last minute with any heart
rate (what the no-heart-rate alert asks, ``store.queries.last_heart_rate``), null without one.
An hour with a heart rate but no plausible value is kept with zero counts. Rows of every
device are counted, as the notes always did."""

_STEPS_OK = pl.col("steps").is_between(0, 300)
_HEART_RATE_OK = pl.col("heart_rate_bpm").is_between(20, 220)


def utc_hour_totals(minutes: pl.LazyFrame) -> pl.DataFrame:
    """``UTC_HOUR_COLUMNS`` for every hour of ``minutes`` with plausible steps or any heart rate, in one pass."""
    return (
        minutes.filter(_STEPS_OK | pl.col("heart_rate_bpm").is_not_null())
        .group_by(
            "participant_id", (pl.col("minute_utc").cast(pl.Int64) // US_PER_HOUR).alias("hour")
        )
        .agg(
            pl.col("steps").filter(_STEPS_OK).sum().cast(pl.Int64),
            _STEPS_OK.sum().cast(pl.Int64).alias("step_rows"),
            _HEART_RATE_OK.sum().cast(pl.Int64).alias("heart_rate_rows"),
            pl.col("minute_utc")
            .filter(pl.col("heart_rate_bpm").is_not_null())
            .max()
            .alias("last_heart_rate_utc"),
        )
        .select(pl.col(n).cast(t) for n, t in UTC_HOUR_COLUMNS.items())
        .collect()
        .sort("participant_id", "hour")
    )


def days_of_weeks(weeks: pl.DataFrame) -> pl.DataFrame:
    """The UTC days (``participant_id, day``: days since 1970-01-01) minute rows of local ``weeks`` can fall on.

    A local week reaches from one UTC day before its start to eight after
    (``features.scope``); those whole days are what a derive of the weeks reads.
    """
    before, after = REACH_BEFORE.days, REACH_AFTER.days
    return (
        weeks.select(
            pl.col("participant_id").cast(pl.String),
            pl.int_ranges(
                pl.col("week_start").cast(pl.Int64) - before,
                pl.col("week_start").cast(pl.Int64) + after,
            ).alias("day"),
        )
        .explode("day", empty_as_null=True)
        .unique()
    )


def replace_days(old: pl.DataFrame, fresh: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """``old`` hour totals with every hour on ``days`` (``days_of_weeks``) taken from ``fresh`` instead.

    ``fresh`` must hold the totals of all minute rows on those days (and may hold
    more, which is dropped): hours that lost their rows disappear, as in a full pass.
    """
    day = (pl.col("hour") // HOURS_PER_DAY).alias("day")
    on = ["participant_id", "day"]
    kept = old.with_columns(day).join(days, on=on, how="anti")
    new = fresh.with_columns(day).join(days, on=on, how="semi")
    return pl.concat([kept, new]).drop("day").sort("participant_id", "hour")


def week_hour_steps(hours: pl.DataFrame) -> pl.DataFrame:
    """Steps per participant, UTC week and hour of the day, with the week's UTC days with steps.

    The input of ``models.timezone.zone_mismatches``: ``participant_id,
    week_utc, utc_hour, steps, days``.
    """
    stepped = hours.filter(pl.col("step_rows") > 0)
    utc = (pl.col("hour") * US_PER_HOUR).cast(pl.Datetime("us"))
    by_day_hour = stepped.select(
        "participant_id",
        utc.dt.date().alias("utc_date"),
        utc.dt.hour().alias("utc_hour"),
        "steps",
        utc.dt.truncate("1w").alias("week_utc"),
    )
    return (
        by_day_hour.group_by("participant_id", "week_utc", "utc_hour")
        .agg(pl.col("steps").sum())
        .join(
            by_day_hour.group_by("participant_id", "week_utc").agg(
                pl.col("utc_date").n_unique().alias("days")
            ),
            on=["participant_id", "week_utc"],
        )
    )


def heart_rate_minutes(hours: pl.DataFrame) -> pl.DataFrame:
    """Per participant with any: ``heart_rate_minutes``, the minute rows with a plausible heart rate."""
    return (
        hours.group_by("participant_id")
        .agg(pl.col("heart_rate_rows").sum().alias("heart_rate_minutes"))
        .filter(pl.col("heart_rate_minutes") > 0)
    )


def last_heart_rate_minutes(hours: pl.DataFrame) -> pl.DataFrame:
    """Per participant with any: ``last_heart_rate_utc``, their last minute with a heart rate."""
    return (
        hours.group_by("participant_id")
        .agg(pl.col("last_heart_rate_utc").max())
        .drop_nulls("last_heart_rate_utc")
        .sort("participant_id")
    )
