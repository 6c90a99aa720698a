"""Per participant: how often the weekly hour was reached, streaks, and a benefit fraction.

Counting rules:

* ``weeks_met`` out of ``weeks_sufficient``: insufficient weeks are not evidence
  either way and stay out of the denominator.
* Streaks run over the participant's sufficient weeks in order: a ``below`` week
  ends a streak, an insufficient or missing week neither ends nor extends it
  (a week without enough wear says nothing about activity). ``current_streak``
  is the run of met weeks up to the last sufficient week.
* ``benefit_fraction`` is a modelling assumption, not a measurement: the
  saturating dose-response described by HUNT (Harvey et al. 2018) and Pearce
  et al. 2022, ``1 - exp(-mvpa / tau)`` with ``tau = [scoring]
  benefit_tau_minutes`` (default 60 / ln 20, so 60 minutes a week gives 95 %),
  averaged over the participant's sufficient weeks.
"""

from __future__ import annotations

import polars as pl

from config.study import StudyConfig
from models.weekly_status import with_status

SCORE_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "weeks_met": pl.Int32(),
    "weeks_below": pl.Int32(),
    "weeks_insufficient": pl.Int32(),
    "weeks_sufficient": pl.Int32(),
    "share_met": pl.Float64(),
    "current_streak": pl.Int32(),
    "longest_streak": pl.Int32(),
    "last_sufficient_week": pl.Date(),
    "mean_mvpa_minutes": pl.Float64(),
    "benefit_fraction": pl.Float64(),
}


def benefit(mvpa: pl.Expr, config: StudyConfig) -> pl.Expr:
    """Fraction of the protective benefit reached by ``mvpa`` minutes in a week (modelling assumption)."""
    return 1.0 - (-mvpa.cast(pl.Float64) / config.scoring.benefit_tau_minutes).exp()


def _streaks(weekly: pl.DataFrame) -> pl.DataFrame:
    """current_streak and longest_streak of met weeks over each participant's sufficient weeks."""
    sufficient = weekly.filter(pl.col("status") != "insufficient").sort(
        "participant_id", "week_start"
    )
    runs = sufficient.with_columns(
        (pl.col("status") != pl.col("status").shift(1))
        .fill_null(True)
        .cum_sum()
        .over("participant_id")
        .alias("run")
    )
    lengths = runs.group_by("participant_id", "run").agg(
        pl.col("status").first(), pl.len().cast(pl.Int32).alias("length")
    )
    longest = lengths.group_by("participant_id").agg(
        pl.col("length")
        .filter(pl.col("status") == "met")
        .max()
        .fill_null(0)
        .alias("longest_streak")
    )
    last = (
        lengths.sort("run")
        .group_by("participant_id")
        .agg(
            pl.when(pl.col("status").last() == "met")
            .then(pl.col("length").last())
            .otherwise(0)
            .alias("current_streak")
        )
    )
    return longest.join(last, on="participant_id", how="full", coalesce=True)


def participant_scores(weekly: pl.DataFrame, config: StudyConfig) -> pl.DataFrame:
    """One row per participant of ``weekly`` (``SCORE_COLUMNS``), sorted by participant.

    ``weekly`` needs ``participant_id, week_start, mvpa_minutes, valid_days``;
    statuses are re-derived under ``config`` (the same as stored when the
    configuration is unchanged).
    """
    weekly = with_status(weekly, config)
    status = pl.col("status")
    sufficient = status != "insufficient"
    counts = weekly.group_by("participant_id").agg(
        (status == "met").sum().alias("weeks_met"),
        (status == "below").sum().alias("weeks_below"),
        (status == "insufficient").sum().alias("weeks_insufficient"),
        sufficient.sum().alias("weeks_sufficient"),
        pl.col("week_start").filter(sufficient).max().alias("last_sufficient_week"),
        pl.col("mvpa_minutes").filter(sufficient).mean().alias("mean_mvpa_minutes"),
        benefit(pl.col("mvpa_minutes"), config).filter(sufficient).mean().alias("benefit_fraction"),
    )
    return (
        counts.join(_streaks(weekly), on="participant_id", how="left")
        .with_columns(
            pl.when(pl.col("weeks_sufficient") > 0)
            .then(pl.col("weeks_met") / pl.col("weeks_sufficient"))
            .alias("share_met"),
            pl.col("current_streak").fill_null(0),
            pl.col("longest_streak").fill_null(0),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in SCORE_COLUMNS.items())
        .sort("participant_id")
    )
