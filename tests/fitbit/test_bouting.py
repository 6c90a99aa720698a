"""Deciding ``bouted`` from minute labels versus daily figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from ingest.fitbit.bouting import compare_with_daily, daily_mvpa_from_minutes, decide


def _labels(runs_per_day: list[list[int]]) -> pl.DataFrame:
    """Minute labels: on day i, moderate runs of the given lengths separated by sedentary minutes."""
    rows = []
    for day, runs in enumerate(runs_per_day):
        t = datetime(2026, 3, 2 + day, 8, 0)
        for length in runs:
            rows += [(t + timedelta(minutes=k), "moderate") for k in range(length)]
            t += timedelta(minutes=length)
            rows.append((t, "sedentary"))
            t += timedelta(minutes=1)
    return pl.DataFrame(rows, schema=["local_minute", "intensity"], orient="row").with_columns(
        pl.lit("P").alias("participant_id")
    )


def _daily(values: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "participant_id": ["P"] * len(values),
            "local_date": [date(2026, 3, 2 + i) for i in range(len(values))],
            "moderate_minutes": values,
            "vigorous_minutes": [0] * len(values),
        }
    )


RUNS = [[3, 12], [15, 4, 2], [10], [5, 5]]


def test_runs_are_measured_per_local_day() -> None:
    days = daily_mvpa_from_minutes(_labels(RUNS)).sort("local_date")
    assert days["minute_mvpa"].to_list() == [15, 21, 10, 10]
    assert days["minute_mvpa_bouted"].to_list() == [12, 15, 10, 0]
    assert days["minutes_in_short_runs"].to_list() == [3, 6, 0, 10]


def test_daily_equal_to_plain_sums_is_not_bouted() -> None:
    decision = decide(
        compare_with_daily(daily_mvpa_from_minutes(_labels(RUNS)), _daily([15, 21, 10, 10]))
    )
    assert decision.bouted is False
    assert decision.evidence["share_equal_to_minute_sum"] == 1.0


def test_daily_equal_to_bouted_sums_is_bouted() -> None:
    decision = decide(
        compare_with_daily(daily_mvpa_from_minutes(_labels(RUNS)), _daily([12, 15, 10, 0]))
    )
    assert decision.bouted is True
    assert decision.evidence["share_equal_to_bouted_sum"] == 1.0


def test_inconclusive_evidence_falls_back_to_the_documented_rule() -> None:
    decision = decide(
        compare_with_daily(daily_mvpa_from_minutes(_labels(RUNS)), _daily([30, 1, 2, 40]))
    )
    assert decision.bouted is True
    assert "inconclusive" in decision.basis
