"""Local dates, hours and weeks of UTC quarter-hours.

Each participant's minutes are placed in the roster's IANA zone (participants
missing from the roster, or with an empty zone, get ``[study] timezone``). With
``[study] use_device_offsets`` a quarter-hour the device reported a UTC offset
for uses that offset instead, so a traveller's days follow the watch; otherwise
a traveller keeps the roster zone.

Weeks start Monday 00:00 local, or, with ``week_start = "study_relative"``, on
the participant's roster ``start_date`` and every 7 days from it (participants
without a start date fall back to Monday weeks). Because a week is a set of
local dates, the week of a DST change has 167 or 169 hours.
"""

from __future__ import annotations

import polars as pl

from config.study import StudyConfig
from features.combine import QUARTER_MINUTES, US_PER_MINUTE

ZONE_COLUMNS = ("participant_id", "timezone", "start_date")


def participant_zones(
    participants: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.LazyFrame:
    """``participant_id, timezone, start_date`` for every participant in ``participants``."""
    people = roster.lazy().select("participant_id", "timezone", "start_date")
    return (
        participants.select("participant_id")
        .unique()
        .join(people, on="participant_id", how="left")
        .with_columns(
            pl.when(pl.col("timezone").is_null() | (pl.col("timezone") == ""))
            .then(pl.lit(config.study.timezone))
            .otherwise(pl.col("timezone"))
            .alias("timezone")
        )
    )


def zones_in_use(roster: pl.DataFrame, config: StudyConfig) -> list[str]:
    """The distinct zones a participant can be placed in (the roster's and the study default)."""
    listed = roster.get_column("timezone").drop_nulls().unique().to_list()
    return sorted({z for z in listed if z} | {config.study.timezone})


def zone_offsets(instants: pl.LazyFrame, zones: list[str]) -> pl.LazyFrame:
    """UTC offset in minutes of each (``timezone``, ``instant``) pair in ``instants``.

    Polars keeps the time zone in the column type, so each zone is converted in
    its own branch; the loop is over zones, not rows.
    """
    branches = []
    utc = pl.col("instant")
    for zone in zones:
        local = utc.dt.convert_time_zone(zone).dt.replace_time_zone(None)
        offset = (local - utc.dt.replace_time_zone(None)).dt.total_minutes().cast(pl.Int16)
        branches.append(
            instants.filter(pl.col("timezone") == zone).with_columns(
                offset.alias("zone_offset_minutes")
            )
        )
    return pl.concat(branches, how="vertical")


def localize_quarters(
    quarters: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.LazyFrame:
    """Add ``local_start`` (naive local time of the quarter), ``local_date`` and ``week_start``.

    Offsets are computed once per distinct (zone, quarter) and joined back, so
    the cost does not grow with the number of participants sharing a zone.
    ``quarters`` is evaluated once, first: the placement reads it in a join and
    in a branch per zone, and polars would otherwise re-run a lake scan behind
    it for each.
    """
    quarters = quarters.collect().lazy()
    zones = participant_zones(quarters, roster, config)
    with_zone = quarters.join(zones, on="participant_id", how="left")
    instants = (
        with_zone.select("timezone", "quarter")
        .unique()
        .with_columns(
            (pl.col("quarter") * (QUARTER_MINUTES * US_PER_MINUTE))
            .cast(pl.Datetime("us", "UTC"))
            .alias("instant")
        )
    )
    offsets = zone_offsets(instants, zones_in_use(roster, config)).select(
        "timezone", "quarter", "zone_offset_minutes"
    )
    offset = pl.col("zone_offset_minutes")
    if config.study.use_device_offsets:
        device = pl.col("device_offset_minutes").cast(pl.Int32)
        rounded = ((device + QUARTER_MINUTES // 2) // QUARTER_MINUTES) * QUARTER_MINUTES
        offset = pl.coalesce(rounded, offset.cast(pl.Int32))
    local_minute = pl.col("quarter") * QUARTER_MINUTES + offset.cast(pl.Int64)
    return (
        with_zone.join(offsets, on=["timezone", "quarter"], how="left")
        .with_columns((local_minute * US_PER_MINUTE).cast(pl.Datetime("us")).alias("local_start"))
        .with_columns(pl.col("local_start").dt.date().alias("local_date"))
        .with_columns(
            week_start(pl.col("local_date"), pl.col("start_date"), config).alias("week_start")
        )
        .drop("zone_offset_minutes")
    )


def week_start(local_date: pl.Expr, start_date: pl.Expr, config: StudyConfig) -> pl.Expr:
    """First local day of the week containing ``local_date``."""
    monday = local_date.dt.truncate("1w")
    if config.study.week_start == "monday":
        return monday
    days = (local_date - start_date).dt.total_days()
    relative = start_date + pl.duration(days=(days // 7) * 7)
    return pl.coalesce(relative.cast(pl.Date), monday)


def week_start_for_dates(
    frame: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig, date_column: str = "local_date"
) -> pl.LazyFrame:
    """Add ``week_start`` to a frame of participant local dates (e.g. device daily totals)."""
    starts = roster.lazy().select("participant_id", "start_date")
    return (
        frame.join(starts, on="participant_id", how="left")
        .with_columns(
            week_start(pl.col(date_column), pl.col("start_date"), config).alias("week_start")
        )
        .drop("start_date")
    )
