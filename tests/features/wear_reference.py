"""The minute-level wear rules as first written (before they moved onto quarter-hour bit sets).

Kept as a differential reference for ``features.wear``/``features.combine``:
``with_wear`` decides every minute row by joining it on its source and day,
which is exact and slow. The tests check that the core's quarter-level rule
gives the same worn minutes on random inputs.
"""

from __future__ import annotations

import polars as pl

from config.study import WearSection
from features.wear import FRAME_RULES, heart_rate_present, worn

US_PER_MINUTE = 60_000_000
MINUTES_PER_DAY = 1440


def _key(source: str) -> list[str]:
    return ["participant_id", source]


def step_wear(rows: pl.LazyFrame, wear: WearSection, source: str = "source") -> pl.LazyFrame:
    """``participant_id, <source>, minute, step_worn`` for the distinct minutes of ``rows`` (Choi 2011 on steps).

    ``minute`` is minutes since the Unix epoch. Runs are found on the distinct
    minutes of each participant and source (a minute reported twice is one
    minute, its largest step count), so duplicated rows change nothing.
    """
    key = _key(source)
    minute = (pl.col("minute_utc").cast(pl.Int64) // US_PER_MINUTE).alias("minute")
    # Rows without a step count (e.g. a separate intensity file) say nothing about steps.
    ordered = (
        rows.filter(pl.col("steps").is_not_null())
        .select(*key, minute, "steps")
        .sort(*key, "minute", "steps")
    )
    # Sorted by steps within a minute, the last row of a minute holds its largest count.
    last_of_minute = ~pl.all_horizontal(
        (pl.col(c) == pl.col(c).shift(-1)) for c in (*key, "minute")
    ).fill_null(False)
    distinct = ordered.filter(last_of_minute)
    same_key = pl.all_horizontal(pl.col(k) == pl.col(k).shift(1) for k in key).fill_null(False)
    zero = pl.col("steps") <= 0
    runs_marked = distinct.with_columns(zero.alias("zero")).with_columns(
        ((pl.col("zero") != pl.col("zero").shift(1)).fill_null(True) | ~same_key)
        .cum_sum()
        .alias("run")
    )
    runs = (
        runs_marked.group_by("run")
        .agg(
            *(pl.col(k).first() for k in key),
            pl.col("zero").first(),
            pl.col("minute").first().alias("first"),
            pl.col("minute").last().alias("last"),
        )
        .sort("run")
        .with_columns((pl.col("last") - pl.col("first") + 1).alias("span"))
    )

    def neighbour(shift: int) -> pl.Expr:
        same = pl.all_horizontal(pl.col(k) == pl.col(k).shift(shift) for k in key).fill_null(False)
        return (
            same
            & pl.col("zero").shift(shift).fill_null(False)
            & (pl.col("span").shift(shift).fill_null(0) >= wear.step_interruption_window_minutes)
        )

    bridged = runs.with_columns(
        (
            pl.col("zero")
            | ((pl.col("span") <= wear.step_interruption_minutes) & neighbour(1) & neighbour(-1))
        ).alias("quiet")
    )
    same_prev = pl.all_horizontal(pl.col(k) == pl.col(k).shift(1) for k in key).fill_null(False)
    segments = bridged.with_columns(
        (~(pl.col("quiet") & pl.col("quiet").shift(1).fill_null(False) & same_prev))
        .cum_sum()
        .alias("segment")
    )
    nonwear = segments.with_columns(
        (pl.col("last").max().over("segment") - pl.col("first").min().over("segment") + 1).alias(
            "segment_span"
        )
    ).select(
        "run",
        (~(pl.col("quiet") & (pl.col("segment_span") >= wear.step_nonwear_minutes))).alias(
            "step_worn"
        ),
    )
    return runs_marked.join(nonwear, on="run", how="left").select(*key, "minute", "step_worn")


def with_wear(rows: pl.LazyFrame, wear: WearSection, source: str = "source") -> pl.LazyFrame:
    """``rows`` with ``worn_by_rule`` (Boolean, never null) under ``wear.rule``.

    ``rows`` needs ``participant_id``, ``source`` (or the column named by
    ``source``: any per-source key), ``minute_utc``, ``steps``,
    ``heart_rate_bpm`` and ``worn``.
    """
    if wear.rule not in FRAME_RULES:
        return rows.with_columns(worn(wear.rule))
    key = _key(source)
    minute = pl.col("minute_utc").cast(pl.Int64) // US_PER_MINUTE
    day = (minute // MINUTES_PER_DAY).alias("_day")
    rows = rows.with_columns(day, minute.alias("_minute"))
    if wear.rule == "auto":
        heart_days = (
            rows.filter(heart_rate_present())
            .select(*key, "_day")
            .unique()
            .with_columns(pl.lit(True).alias("_hr_day"))
        )
        rows = rows.join(heart_days, on=[*key, "_day"], how="left").with_columns(
            pl.col("_hr_day").fill_null(False)
        )
        step_rows = rows.filter(~pl.col("_hr_day"))
    else:
        rows = rows.with_columns(pl.lit(False).alias("_hr_day"))
        step_rows = rows
    steps = step_wear(step_rows, wear, source).rename({"minute": "_minute"})
    # A row without a step count on a step-rule day takes its minute's step verdict;
    # a minute with no step count at all is not worn.
    return (
        rows.join(steps, on=[*key, "_minute"], how="left")
        .with_columns(
            pl.when(pl.col("_hr_day"))
            .then(heart_rate_present())
            .otherwise(pl.col("step_worn").fill_null(False))
            .alias("worn_by_rule")
        )
        .drop("_day", "_minute", "_hr_day", "step_worn")
    )
