"""Per participant and local day: minutes counted once, wear, and the daily-totals fill.

Device daily totals (Garmin UDS, Fitbit daily JSON, Fitabase daily files) fill
only local days on which no minute of any trusted source could be classified
by the configured methods (including days with no minute rows at all). Such a
day takes its moderate and vigorous minutes from the most trusted source's
totals and is flagged ``filled_from_daily_totals``. Its wear is the device's
own count of classified minutes (sedentary + light + moderate + vigorous), or
zero where the device says it was not worn, and never less than the wear the
minute rows show or the day's own moderate and vigorous minutes (MVPA is worn).
"""

from __future__ import annotations

import polars as pl

from config.study import StudyConfig
from features.classify import METHODS
from features.combine import count_bits, moderate_only, source_rank
from features.local_time import week_start_for_dates

DAILY_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "local_date": pl.Date(),
    "week_start": pl.Date(),
    "moderate_minutes": pl.Int32(),
    "vigorous_minutes": pl.Int32(),
    "mvpa_minutes": pl.Int32(),
    "wear_minutes": pl.Int32(),
    "valid": pl.Boolean(),
    "filled_from_daily_totals": pl.Boolean(),
    "classified_minutes": pl.Int32(),
    **{f"{m}_minutes": pl.Int32() for m in METHODS},
    "source_bits": pl.UInt16(),
    "method_bits": pl.UInt8(),
}
"""The internal daily frame. ``source_bits``/``method_bits`` are provenance bit sets (see
``features.combine``) so that weeks can OR them; ``features.weekly.daily_table`` decodes them
into ``sources``/``methods`` strings. ``<method>_minutes`` count the minutes each
method classified in some trusted source (a minute two sources saw can count
under two methods); ``classified_minutes`` the minutes any method classified."""


def days_from_quarters(localized: pl.LazyFrame) -> pl.LazyFrame:
    """Sum localized quarter-hours into minute counts per participant and local day."""
    return localized.group_by("participant_id", "local_date", "week_start").agg(
        moderate_only().sum().alias("moderate_minutes"),
        count_bits("vigorous_bits").sum().alias("vigorous_minutes"),
        count_bits("worn_bits").sum().alias("wear_minutes"),
        count_bits("classified_bits").sum().alias("classified_minutes"),
        *(count_bits(f"{m}_bits").sum().alias(f"{m}_minutes") for m in METHODS),
        pl.col("source_bits").bitwise_or(),
        pl.col("method_bits").bitwise_or(),
    )


def best_daily_totals(daily_totals: pl.LazyFrame, config: StudyConfig) -> pl.LazyFrame:
    """One totals row per participant and local day: the most trusted source's.

    Repeated rows of one source and day (the same file read twice) collapse to
    their largest values, so duplicating input changes nothing.
    """
    minutes = ["sedentary_minutes", "light_minutes", "moderate_minutes", "vigorous_minutes"]
    # A source may split one day over several rows (Fitbit Takeout JSON keeps one
    # file per series): take each column's largest value first, then add them up.
    device_wear = pl.when(pl.col("worn")).then(
        pl.sum_horizontal(pl.col(c).fill_null(0) for c in minutes)
    )
    return (
        daily_totals.with_columns(source_rank(config).alias("source_rank"))
        .filter(pl.col("source_rank").is_not_null())
        .group_by("participant_id", "local_date", "source_rank")
        .agg(
            *(pl.col(c).fill_null(0).max() for c in minutes),
            pl.col("worn").fill_null(True).all(),
        )
        .select(
            "participant_id",
            "local_date",
            "source_rank",
            pl.col("moderate_minutes").cast(pl.Int32).alias("dt_moderate"),
            pl.col("vigorous_minutes").cast(pl.Int32).alias("dt_vigorous"),
            device_wear.fill_null(0).cast(pl.Int32).alias("dt_wear"),
        )
        .sort("participant_id", "local_date", "source_rank")
        .group_by("participant_id", "local_date")
        .agg(pl.all().first())
    )


def fill_from_daily_totals(
    days: pl.LazyFrame, daily_totals: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.LazyFrame:
    """Join device totals onto minute days; fill days without a classified minute."""
    totals = week_start_for_dates(best_daily_totals(daily_totals, config), roster, config)
    joined = days.join(
        totals, on=["participant_id", "local_date"], how="full", coalesce=True
    ).with_columns(pl.coalesce("week_start", "week_start_right").alias("week_start"))
    filled = (pl.col("classified_minutes").fill_null(0) == 0) & pl.col("dt_moderate").is_not_null()
    minute_wear = pl.col("wear_minutes").fill_null(0)
    totals_bit = pl.lit(2, pl.UInt16).pow(pl.col("source_rank"))
    return joined.with_columns(
        pl.when(filled)
        .then("dt_moderate")
        .otherwise(pl.col("moderate_minutes").fill_null(0))
        .alias("moderate_minutes"),
        pl.when(filled)
        .then("dt_vigorous")
        .otherwise(pl.col("vigorous_minutes").fill_null(0))
        .alias("vigorous_minutes"),
        pl.when(filled)
        .then(
            pl.max_horizontal(minute_wear, "dt_wear", pl.col("dt_moderate") + pl.col("dt_vigorous"))
        )
        .otherwise(minute_wear)
        .alias("wear_minutes"),
        pl.when(filled)
        .then(pl.col("source_bits").fill_null(0) | totals_bit)
        .otherwise(pl.col("source_bits").fill_null(0))
        .alias("source_bits"),
        pl.col("method_bits").fill_null(0),
        pl.col("classified_minutes").fill_null(0),
        *(pl.col(f"{m}_minutes").fill_null(0) for m in METHODS),
        filled.alias("filled_from_daily_totals"),
    )


def finish_days(days: pl.LazyFrame, config: StudyConfig) -> pl.LazyFrame:
    """Add mvpa and validity, and select the daily table's columns."""
    return days.with_columns(
        (pl.col("moderate_minutes") + pl.col("vigorous_minutes")).alias("mvpa_minutes"),
        (pl.col("wear_minutes") >= config.wear.min_wear_minutes_per_day).alias("valid"),
    ).select(pl.col(name).cast(dtype) for name, dtype in DAILY_COLUMNS.items())
