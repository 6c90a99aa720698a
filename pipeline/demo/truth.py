"""The demo cohort's expected weekly table, computed straight from its truth.

Deliberately independent of ``features/``: a plain group-by over the truth
minutes in each participant's roster zone, so the end-to-end tests compare
the pipeline against arithmetic it does not share.
"""

from __future__ import annotations

import polars as pl

from config.schema import WEEKLY_EXPORT_COLUMNS
from pipeline.demo.cohort import DemoParticipant, device_minutes

STEP_NONWEAR_MINUTES = 90
"""Choi et al. (2011): a run of this many minutes of zero steps, in clock time, is non-wear."""


def worn_by_step_rule(reported: pl.DataFrame) -> pl.DataFrame:
    """The minutes of a step-only device that the step rule counts as worn.

    A plain reading of the rule, written apart from ``features.wear``: reported minutes in
    time order; a run of zero-step minutes not broken by a minute with steps, spanning at
    least ``STEP_NONWEAR_MINUTES`` from its first to its last minute, is non-wear. (The
    rule's two-minute interruption allowance never applies in the demo: no minute with
    steps there has 30 zero minutes on both sides.)
    """
    ordered = reported.sort("minute_utc").with_columns(
        (pl.col("steps") > 0).cum_sum().alias("_run"), (pl.col("steps") == 0).alias("_zero")
    )
    span = (pl.col("minute_utc").max() - pl.col("minute_utc").min()).dt.total_minutes().over(
        "_run", "_zero"
    ) + 1
    return ordered.filter(~(pl.col("_zero") & (span >= STEP_NONWEAR_MINUTES))).drop("_run", "_zero")


def expected_weekly(
    truths: dict[str, pl.DataFrame],
    cohort: tuple[DemoParticipant, ...],
    *,
    threshold_minutes_per_week: int = 60,
    min_wear_minutes_per_day: int = 600,
    min_valid_days_per_week: int = 4,
) -> pl.DataFrame:
    """The weekly export's columns (``WEEKLY_EXPORT_COLUMNS``) as the truth implies them."""
    frames = []
    for p in cohort:
        t = truths[p.participant_id]
        if not p.heart_rate:
            t = worn_by_step_rule(device_minutes(p, t))
        if t.height == 0:
            continue
        local = t.with_columns(
            pl.col("minute_utc")
            .dt.convert_time_zone(p.roster_zone)
            .dt.replace_time_zone(None)
            .alias("local")
        ).with_columns(pl.col("local").dt.date().alias("day"))
        daily = local.group_by("day").agg(
            pl.len().alias("wear"),
            (pl.col("intensity") == "moderate").sum().alias("moderate"),
            (pl.col("intensity") == "vigorous").sum().alias("vigorous"),
        )
        weekly = (
            daily.with_columns(
                (pl.col("day") - pl.duration(days=pl.col("day").dt.weekday() - 1)).alias(
                    "week_start"
                )
            )
            .group_by("week_start")
            .agg(
                pl.col("moderate").sum().cast(pl.Int32).alias("moderate_minutes"),
                pl.col("vigorous").sum().cast(pl.Int32).alias("vigorous_minutes"),
                pl.col("wear").sum().cast(pl.Int32).alias("wear_minutes"),
                (pl.col("wear") >= min_wear_minutes_per_day)
                .sum()
                .cast(pl.Int8)
                .alias("valid_days"),
            )
            .with_columns(
                (pl.col("moderate_minutes") + pl.col("vigorous_minutes")).alias("mvpa_minutes"),
                pl.lit(p.participant_id).alias("participant_id"),
            )
        )
        frames.append(weekly)
    out = pl.concat(frames).with_columns(
        pl.when(pl.col("valid_days") < min_valid_days_per_week)
        .then(pl.lit("insufficient"))
        .when(pl.col("mvpa_minutes") >= threshold_minutes_per_week)
        .then(pl.lit("met"))
        .otherwise(pl.lit("below"))
        .alias("status")
    )
    return out.select(WEEKLY_EXPORT_COLUMNS).sort("participant_id", "week_start")
