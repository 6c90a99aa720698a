"""Per participant: how often the weekly hour was reached, streaks, and a benefit fraction.

Counting rules:

* ``weeks_met`` out of ``weeks_sufficient``: insufficient weeks are not evidence
  either way and stay out of the denominator.
* A streak is consecutive ``met`` weeks: a ``below``, ``insufficient`` or
  missing week ends it (a participant who stopped wearing the device or
  sending data is not still on a streak). ``current_streak`` is the run of met
  weeks ending at the last complete week: the latest week, on the
  participant's own week grid, that ends before the reference day (today, or
  the day after the study's latest week when its data are older). A
  participant whose data stopped three weeks ago has a current streak of 0.
  ``weeks_running`` counts the same way for any status, so the dashboard's
  "K weeks running" flags can use the same rule.
* ``benefit_fraction`` is a modelling assumption, not a measurement: the
  saturating dose-response described by HUNT (Harvey et al. 2018) and Pearce
  et al. 2022, ``1 - exp(-mvpa / tau)`` with ``tau = [scoring]
  benefit_tau_minutes`` (default 60 / ln 20, so 60 minutes a week gives 95 %),
  averaged over the participant's sufficient weeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from config.study import StudyConfig

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


def reference_day(weekly: pl.DataFrame, today: date | None = None) -> date | None:
    """The day streaks are counted back from: ``today`` (UTC by default), or the day after the study's latest week if earlier."""
    if weekly.height == 0:
        return None
    today = today or datetime.now(UTC).date()
    latest: date = weekly["week_start"].max()  # type: ignore[assignment]
    return min(today, latest + timedelta(days=7))


def last_complete_weeks(weekly: pl.DataFrame, reference: date) -> pl.DataFrame:
    """Per participant of ``weekly``: ``last_complete_week``, the latest week of their grid ending before ``reference``."""
    ref = pl.lit(reference)
    return (
        weekly.group_by("participant_id")
        .agg(pl.col("week_start").min().alias("w0"))
        .select(
            "participant_id",
            (
                pl.col("w0")
                + pl.duration(
                    days=((ref - pl.duration(days=7) - pl.col("w0")).dt.total_days() // 7) * 7
                )
            ).alias("last_complete_week"),
        )
    )


def weeks_running(weekly: pl.DataFrame, status: str, reference: date) -> pl.DataFrame:
    """``participant_id, weeks_running``: consecutive ``status`` weeks ending at each participant's last complete week.

    Any other status, or a week without a row, ends the run.
    """
    anchors = last_complete_weeks(weekly, reference)
    return (
        weekly.join(anchors, on="participant_id")
        .filter(
            (pl.col("week_start") <= pl.col("last_complete_week")) & (pl.col("status") == status)
        )
        .with_columns(
            ((pl.col("last_complete_week") - pl.col("week_start")).dt.total_days() // 7).alias(
                "back"
            )
        )
        .sort("participant_id", "back")
        .group_by("participant_id")
        .agg(
            (pl.col("back") == pl.int_range(pl.len()))
            .cum_prod()
            .sum()
            .cast(pl.Int32)
            .alias("weeks_running")
        )
        .join(anchors.select("participant_id"), on="participant_id", how="right")
        .select("participant_id", pl.col("weeks_running").fill_null(0))
    )


def _streaks(weekly: pl.DataFrame, reference: date | None) -> pl.DataFrame:
    """current_streak and longest_streak of consecutive met weeks (a missing week ends a run)."""
    met = weekly.filter(pl.col("status") == "met").sort("participant_id", "week_start")
    runs = met.with_columns(
        ((pl.col("week_start").diff().dt.total_days() != 7).fill_null(True))
        .cum_sum()
        .over("participant_id")
        .alias("run")
    )
    longest = (
        runs.group_by("participant_id", "run")
        .agg(pl.len().cast(pl.Int32).alias("length"))
        .group_by("participant_id")
        .agg(pl.col("length").max().alias("longest_streak"))
    )
    if reference is None:
        current = (
            weekly.select("participant_id")
            .unique()
            .with_columns(pl.lit(0, pl.Int32).alias("current_streak"))
        )
    else:
        current = weeks_running(weekly, "met", reference).rename(
            {"weeks_running": "current_streak"}
        )
    return current.join(longest, on="participant_id", how="full", coalesce=True)


def participant_scores(
    weekly: pl.DataFrame, config: StudyConfig, today: date | None = None
) -> pl.DataFrame:
    """One row per participant of ``weekly`` (``SCORE_COLUMNS``), sorted by participant.

    ``weekly`` is a scored weekly table (``participant_id, week_start,
    mvpa_minutes, status``): the status is the one derive gave it
    (``models.weekly_status.with_status``), never recomputed here; for a
    what-if threshold, score the table under that configuration first. ``today`` (default: today in UTC) sets the
    reference day of the current streak (``reference_day``).
    """
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
        counts.join(_streaks(weekly, reference_day(weekly, today)), on="participant_id", how="left")
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
