"""Decide from evidence whether a source's daily active minutes are bouted.

Fitbit's help says legacy daily "active minutes" only count bouts of 10
minutes or more. Where the same export holds minute-level intensity labels,
the question can be answered instead of assumed: if the daily moderate+very
figure equals the plain sum of the minute labels (and those labels include
runs shorter than 10 minutes) no bout rule was applied; if it equals the sum
over runs of 10 minutes or more, it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

BOUT_MINUTES = 10
DECISIVE_SHARE = 0.8
"""Share of participant-days a rule must explain before it is taken as the source's rule."""

DOCUMENTED_RULE = "Fitbit's help documents a 10-minute bout rule for legacy daily active minutes"

CORPUS_FINDING = (
    "no minute-level intensities in this export to compare with; in the Fitabase corpus "
    "(Furberg et al. 2016: 903 participant-days of 33 participants with minute labels) "
    "Fitbit's daily fairly+very active minutes equal the plain sum of the minute labels on "
    "99.0% of days but the sum over runs of 10+ minutes on only 49%, and 7,446 of 32,074 "
    "active minutes sit in shorter runs, so Fitbit daily active minutes are taken as not "
    "bouted despite the help article (tests/fitbit/test_fitabase_corpus.py)"
)
"""Why Fitbit daily totals default to ``bouted=False`` when an export gives no evidence of its own."""


@dataclass(frozen=True)
class BoutDecision:
    """The ``bouted`` value for a source's daily totals and why."""

    bouted: bool
    basis: str
    evidence: dict[str, Any] = field(default_factory=dict)


def fitbit_default() -> BoutDecision:
    """``bouted`` for Fitbit daily figures of an export without minute labels: the corpus finding."""
    return BoutDecision(False, CORPUS_FINDING)


def daily_mvpa_from_minutes(minutes: pl.DataFrame) -> pl.DataFrame:
    """Per ``participant_id`` and ``local_date`` covered by minute labels: moderate+vigorous minutes,
    all of them and those in runs of 10 or more, plus the number of labelled minutes.

    ``minutes`` needs ``participant_id``, ``local_minute`` (naive local Datetime)
    and ``intensity``. A run is a stretch of consecutive moderate-or-vigorous
    clock minutes; runs are cut at gaps and at local midnight.
    """
    labelled = minutes.select("participant_id", "local_minute", "intensity").unique(
        ["participant_id", "local_minute"]
    )
    covered = labelled.group_by(
        "participant_id", pl.col("local_minute").dt.date().alias("local_date")
    ).agg(pl.len().cast(pl.Int32).alias("minutes_labelled"))
    active = (
        labelled.filter(pl.col("intensity").is_in(["moderate", "vigorous"]))
        .sort("participant_id", "local_minute")
        .with_columns(pl.col("local_minute").dt.date().alias("local_date"))
    )
    new_run = (
        (pl.col("local_minute").diff() != pl.duration(minutes=1)).fill_null(True)
        | (pl.col("local_date") != pl.col("local_date").shift(1)).fill_null(True)
    ).over("participant_id")
    runs = active.with_columns(new_run.cum_sum().over("participant_id").alias("run"))
    run_len = runs.group_by("participant_id", "local_date", "run").agg(pl.len().alias("n"))
    per_day = run_len.group_by("participant_id", "local_date").agg(
        pl.col("n").sum().cast(pl.Int32).alias("minute_mvpa"),
        pl.col("n")
        .filter(pl.col("n") >= BOUT_MINUTES)
        .sum()
        .cast(pl.Int32)
        .alias("minute_mvpa_bouted"),
        pl.col("n")
        .filter(pl.col("n") < BOUT_MINUTES)
        .sum()
        .cast(pl.Int32)
        .alias("minutes_in_short_runs"),
    )
    return covered.join(per_day, on=["participant_id", "local_date"], how="left").with_columns(
        pl.col("minute_mvpa", "minute_mvpa_bouted", "minutes_in_short_runs").fill_null(0)
    )


def compare_with_daily(minute_days: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """Minute-derived and device daily MVPA side by side, on participant-days present in both.

    ``daily`` needs ``participant_id``, ``local_date``, ``moderate_minutes`` and
    ``vigorous_minutes``.
    """
    daily_mv = daily.select(
        "participant_id",
        "local_date",
        (pl.col("moderate_minutes") + pl.col("vigorous_minutes")).alias("daily_mvpa"),
    ).unique(["participant_id", "local_date"], keep="last")
    return daily_mv.join(minute_days, on=["participant_id", "local_date"], how="inner")


def decide(comparison: pl.DataFrame) -> BoutDecision:
    """``bouted`` for a daily source from its comparison with minute labels (see module doc)."""
    days = comparison.height
    if days == 0:
        return fitbit_default()
    plain = comparison.filter(pl.col("daily_mvpa") == pl.col("minute_mvpa")).height / days
    bouted = comparison.filter(pl.col("daily_mvpa") == pl.col("minute_mvpa_bouted")).height / days
    short = int(comparison["minutes_in_short_runs"].sum())
    evidence = {
        "days_compared": days,
        "share_equal_to_minute_sum": round(plain, 4),
        "share_equal_to_bouted_sum": round(bouted, 4),
        "active_minutes_in_runs_under_10": short,
    }
    if plain >= DECISIVE_SHARE and plain >= bouted and short > 0:
        basis = (
            f"daily moderate+very equals the plain sum of minute labels on {plain:.1%} of {days} days "
            f"(bouted sum: {bouted:.1%}), and {short} active minutes sit in runs under 10 minutes: no bout rule"
        )
        return BoutDecision(False, basis, evidence)
    if bouted >= DECISIVE_SHARE and bouted > plain:
        basis = f"daily moderate+very equals the sum over runs of 10+ minutes on {bouted:.1%} of {days} days"
        return BoutDecision(True, basis, evidence)
    return BoutDecision(True, f"comparison inconclusive, so {DOCUMENTED_RULE} is assumed", evidence)
