"""Weekly status, per-participant adherence and cohort shares with Wilson intervals."""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl
import pytest
from scipy.stats import binomtest

from config.study import StudyConfig
from models.adherence import participant_scores, weeks_running
from models.cohort import cohort_weekly
from models.weekly_status import week_status, with_status

CONFIG = StudyConfig()
MONDAY = date(2026, 1, 5)


def weeks(pid: str, rows: list[tuple[int, int]], first: date = MONDAY) -> pl.DataFrame:
    """Weekly rows of (mvpa_minutes, valid_days), one per consecutive week."""
    return pl.DataFrame(
        {
            "participant_id": [pid] * len(rows),
            "week_start": [first + timedelta(weeks=i) for i in range(len(rows))],
            "mvpa_minutes": [m for m, _ in rows],
            "valid_days": [v for _, v in rows],
        },
        schema={
            "participant_id": pl.String,
            "week_start": pl.Date,
            "mvpa_minutes": pl.Int32,
            "valid_days": pl.Int8,
        },
    ).with_columns(week_status(CONFIG))


def test_week_status_edges() -> None:
    got = weeks("p", [(59, 4), (60, 4), (61, 7), (500, 3), (0, 0)])["status"].to_list()
    assert got == ["below", "met", "met", "insufficient", "insufficient"]


def test_participant_scores_streaks_and_benefit() -> None:
    # met met met below met [insufficient] met -> longest 3, current 1 (an insufficient week ends a streak)
    p = weeks("p", [(60, 5), (90, 5), (61, 5), (10, 5), (70, 4), (200, 1), (65, 6)])
    q = weeks("q", [(0, 7), (30, 7), (100, 2)])
    r = weeks("r", [(100, 1)])
    got = participant_scores(pl.concat([p, q, r]), CONFIG)
    tau = CONFIG.scoring.benefit_tau_minutes
    row = got.row(0, named=True)
    assert row["participant_id"] == "p"
    assert (
        row["weeks_met"],
        row["weeks_below"],
        row["weeks_insufficient"],
        row["weeks_sufficient"],
    ) == (5, 1, 1, 6)
    assert row["share_met"] == pytest.approx(5 / 6)
    assert (row["current_streak"], row["longest_streak"]) == (1, 3)
    assert row["last_sufficient_week"] == MONDAY + timedelta(weeks=6)
    mvpas = [60, 90, 61, 10, 70, 65]
    assert row["mean_mvpa_minutes"] == pytest.approx(sum(mvpas) / 6)
    assert row["benefit_fraction"] == pytest.approx(sum(1 - math.exp(-m / tau) for m in mvpas) / 6)
    q_row = got.row(1, named=True)
    assert (q_row["weeks_met"], q_row["current_streak"], q_row["longest_streak"]) == (0, 0, 0)
    assert q_row["last_sufficient_week"] == MONDAY + timedelta(weeks=1)
    r_row = got.row(2, named=True)
    assert (
        r_row["weeks_sufficient"] == 0
        and r_row["share_met"] is None
        and r_row["last_sufficient_week"] is None
    )


def test_default_tau_gives_95_percent_at_one_hour() -> None:
    got = participant_scores(weeks("p", [(60, 7)]), CONFIG)
    assert got["benefit_fraction"].item() == pytest.approx(0.95)


def test_cohort_share_and_wilson_interval_match_scipy() -> None:
    frames = [weeks(f"p{i}", [(90 if i < 3 else 10, 5), (0, 1)]) for i in range(7)]
    frames.append(weeks("all", [(100, 7), (100, 7)]))
    got = cohort_weekly(pl.concat(frames))
    first, second = got.row(0, named=True), got.row(1, named=True)
    assert (first["participants"], first["sufficient"], first["met"]) == (8, 8, 4)
    ci = binomtest(4, 8).proportion_ci(confidence_level=0.95, method="wilson")
    assert (first["ci_low"], first["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert first["share_met"] == pytest.approx(0.5)
    assert (second["participants"], second["sufficient"], second["met"], second["share_met"]) == (
        8,
        1,
        1,
        1.0,
    )
    ci = binomtest(1, 1).proportion_ci(confidence_level=0.95, method="wilson")
    assert (second["ci_low"], second["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_cohort_week_without_sufficient_participants_has_no_share() -> None:
    got = cohort_weekly(weeks("p", [(100, 2)]))
    assert got.select("sufficient", "share_met", "ci_low", "ci_high").row(0) == (
        0,
        None,
        None,
        None,
    )


def test_cohort_follows_a_what_if_threshold() -> None:
    config = StudyConfig.model_validate({"scoring": {"threshold_minutes_per_week": 150}})
    data = pl.concat([weeks("a", [(100, 7)]), weeks("b", [(200, 7)])])
    assert cohort_weekly(data)["met"].item() == 2
    assert cohort_weekly(with_status(data, config))["met"].item() == 1


def test_a_dropout_ends_the_streak() -> None:
    # "a" meets the hour for 6 weeks and stops sending data; "b" goes on for 3 more weeks.
    a = weeks("a", [(90, 7)] * 6)
    b = weeks("b", [(90, 7)] * 9)
    both = pl.concat([a, b])
    got = {
        r["participant_id"]: r
        for r in participant_scores(both, CONFIG, today=date(2027, 1, 1)).iter_rows(named=True)
    }
    assert (got["a"]["current_streak"], got["a"]["longest_streak"]) == (0, 6)
    assert (got["b"]["current_streak"], got["b"]["longest_streak"]) == (9, 9)
    # A live study: on Wednesday of b's 9th week, that week is not complete yet.
    wednesday = MONDAY + timedelta(weeks=8, days=2)
    live = participant_scores(both, CONFIG, today=wednesday)
    assert live.filter(pl.col("participant_id") == "b")["current_streak"].item() == 8
    assert live.filter(pl.col("participant_id") == "a")["current_streak"].item() == 0
    # A missing week ends a run too: met, (no row), met, met.
    gap = weeks("c", [(90, 7)] * 4).filter(pl.col("week_start") != MONDAY + timedelta(weeks=1))
    row = participant_scores(gap, CONFIG, today=date(2027, 1, 1)).row(0, named=True)
    assert (row["current_streak"], row["longest_streak"]) == (2, 2)


def test_weeks_running_counts_any_status_back_from_the_last_complete_week() -> None:
    rows = weeks("d", [(90, 7), (10, 7), (10, 7), (10, 7)])
    reference = MONDAY + timedelta(weeks=4)
    assert weeks_running(rows, "below", reference).row(0) == ("d", 3)
    assert weeks_running(rows, "met", reference).row(0) == ("d", 0)
    # The same rows one week later: the last complete week has no row, so nothing is running.
    assert weeks_running(rows, "below", reference + timedelta(weeks=1)).row(0) == ("d", 0)
