"""Physiologically impossible minute values: kept out of classification and wear, and counted.

The rules (after the per-rule exclusion counts kept by the All of Us Fitbit
analyses; the limits are the issue's):

``heart_rate_out_of_range``
    heart rate under 20 or over 220 bpm: the minute's heart rate is ignored
    (neither classifies nor shows wear).
``steps_over_300``
    more than 300 steps in a minute (5 a second is beyond sprinting): its steps
    are ignored. Negative steps are ignored the same way.
``cadence_over_210``
    210 to 300 steps in a minute: plausible for a runner's watch, but not as a
    cadence-only moderate minute; the cadence method does not classify it.

The values stay in the lake unchanged; ``exclusions`` counts them per
participant, local week and rule.
"""

from __future__ import annotations

import polars as pl

from config.study import StudyConfig

MIN_HEART_RATE_BPM = 20.0
MAX_HEART_RATE_BPM = 220.0
MAX_STEPS_PER_MINUTE = 300
MAX_CADENCE_STEPS_PER_MINUTE = 210

RULES: tuple[str, ...] = ("heart_rate_out_of_range", "steps_over_300", "cadence_over_210")

EXCLUSION_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "week_start": pl.Date(),
    "rule": pl.String(),
    "minutes": pl.Int32(),
}


def rule_flags() -> dict[str, pl.Expr]:
    """Per rule, a Boolean expression over a minute row: the row breaks the rule."""
    hr = pl.col("heart_rate_bpm").cast(pl.Float64)
    steps = pl.col("steps").cast(pl.Int64)
    return {
        "heart_rate_out_of_range": ((hr < MIN_HEART_RATE_BPM) & (hr > 0))
        | (hr > MAX_HEART_RATE_BPM),
        "steps_over_300": (steps > MAX_STEPS_PER_MINUTE) | (steps < 0),
        "cadence_over_210": (steps > MAX_CADENCE_STEPS_PER_MINUTE)
        & (steps <= MAX_STEPS_PER_MINUTE),
    }


def plausible(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``rows`` with impossible heart rates and step counts set to null (the raw values stay in the lake).

    A heart rate of exactly 0 is a device's "no reading" and stays 0 (not worn).
    """
    hr = pl.col("heart_rate_bpm")
    steps = pl.col("steps")
    return rows.with_columns(
        pl.when((hr > MAX_HEART_RATE_BPM) | ((hr > 0) & (hr < MIN_HEART_RATE_BPM)))
        .then(None)
        .otherwise(hr)
        .alias("heart_rate_bpm"),
        pl.when((steps > MAX_STEPS_PER_MINUTE) | (steps < 0))
        .then(None)
        .otherwise(steps)
        .alias("steps"),
    )


def exclusions_table(
    minutes: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.DataFrame:
    """``EXCLUSION_COLUMNS``: minutes breaking each rule per participant and local week (trusted sources only).

    A minute counts once per rule however many rows break it.
    """
    from features.combine import QUARTER_MINUTES, US_PER_MINUTE, source_rank
    from features.local_time import localize_quarters

    flags = rule_flags()
    broken = (
        minutes.filter(source_rank(config).is_not_null())
        .filter(pl.any_horizontal(*flags.values()))
        .select(
            "participant_id",
            (pl.col("minute_utc").cast(pl.Int64) // US_PER_MINUTE).alias("minute"),
            pl.col("utc_offset_minutes").alias("device_offset_minutes"),
            *(flag.fill_null(False).alias(name) for name, flag in flags.items()),
        )
        .group_by("participant_id", "minute")
        .agg(pl.col("device_offset_minutes").first(), *(pl.col(r).any() for r in RULES))
        .with_columns((pl.col("minute") // QUARTER_MINUTES).alias("quarter"))
    )
    placed = localize_quarters(broken, roster, config)
    return (
        placed.unpivot(
            index=["participant_id", "week_start"],
            on=list(RULES),
            variable_name="rule",
            value_name="hit",
        )
        .filter(pl.col("hit"))
        .group_by("participant_id", "week_start", "rule")
        .agg(pl.len().alias("minutes"))
        .select(pl.col(n).cast(t) for n, t in EXCLUSION_COLUMNS.items())
        .sort("participant_id", "week_start", "rule")
        .collect()
    )
