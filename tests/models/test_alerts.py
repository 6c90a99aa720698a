"""The alert rules on hand-made rows: heart rate, attention order, the per-rule list and counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from config.study import AlertsSection
from models import alerts

TODAY = datetime(2024, 3, 8, 12, 0, tzinfo=UTC)


def _evaluate(heart: dict[str, date | None], last_days: dict[str, date | None]) -> pl.DataFrame:
    ids = list(last_days)
    roster = pl.DataFrame(
        {
            "participant_id": ids,
            "timezone": ["UTC"] * len(ids),
            "start_date": [None] * len(ids),
            "end_date": [None] * len(ids),
        },
        schema={
            "participant_id": pl.String,
            "timezone": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )
    with_data = [i for i in ids if last_days[i] is not None]
    last = pl.DataFrame(
        {
            "participant_id": with_data,
            "last_local": [
                datetime.combine(last_days[i], datetime.min.time()).replace(hour=23, minute=59)
                for i in with_data
            ],
            "last_day_complete": [True] * len(with_data),
            "first_day": [date(2024, 1, 1)] * len(with_data),
        },
        schema={
            "participant_id": pl.String,
            "last_local": pl.Datetime("us"),
            "last_day_complete": pl.Boolean,
            "first_day": pl.Date,
        },
    )
    wear = pl.DataFrame(
        [(i, date(2024, 2, 20) + timedelta(days=d), 900) for i in with_data for d in range(17)],
        schema={"participant_id": pl.String, "local_date": pl.Date, "wear_minutes": pl.Int64},
        orient="row",
    )
    hr = pl.DataFrame(
        {
            "participant_id": [i for i in heart if heart[i]],
            "last_heart_rate_day": [heart[i] for i in heart if heart[i]],
        },
        schema={"participant_id": pl.String, "last_heart_rate_day": pl.Date},
    )
    weekly = pl.DataFrame(
        schema={"participant_id": pl.String, "week_start": pl.Date, "status": pl.String}
    )
    return alerts.evaluate(
        roster, last, weekly, wear, hr, AlertsSection(no_heart_rate_days=3), TODAY
    )


def test_no_heart_rate_counts_back_from_the_participants_own_last_data() -> None:
    got = _evaluate(
        heart={"A": date(2024, 3, 7), "B": date(2024, 3, 4), "C": date(2024, 3, 5), "D": None},
        last_days={
            "A": date(2024, 3, 7),
            "B": date(2024, 3, 7),
            "C": date(2024, 3, 7),
            "D": date(2024, 3, 7),
        },
    )
    flags = dict(got.select("participant_id", "alert_no_heart_rate").iter_rows())
    assert flags == {
        "A": None,
        "B": "no heart rate for 3 days",
        "C": None,
        "D": "no heart rate in the data",
    }


def test_attention_order_list_and_counts() -> None:
    got = _evaluate(
        heart={"A": date(2024, 3, 7), "B": date(2024, 2, 1), "C": date(2024, 3, 7)},
        last_days={"A": date(2024, 3, 7), "B": date(2024, 3, 1), "C": date(2024, 3, 2), "N": None},
    )
    assert alerts.attention_order(got)["participant_id"].to_list() == ["N", "B", "C", "A"]
    assert alerts.alert_list(got).rows() == [
        ("B", "no data", "no data for 7 days"),
        ("C", "no data", "no data for 6 days"),
        ("N", "no data", "no data yet"),
        ("B", "no heart rate", "no heart rate for 29 days"),
    ]
    assert alerts.counts_per_rule(got) == {
        "no data": 3,
        "low wear": 0,
        "below the hour": 0,
        "no heart rate": 1,
    }
    assert (
        got.filter(pl.col("participant_id") == "B")["flags"].item()
        == "no data for 7 days; no heart rate for 29 days"
    )


def test_rules_are_described_with_the_study_settings() -> None:
    text = alerts.describe_rules(AlertsSection(low_wear_hours_per_day=8.5, low_wear_days=5))
    assert "low wear: under 8.5 worn h/day over the last 5 days of data" in text


def test_a_row_dated_2126_never_moves_this_week_past_tomorrow() -> None:
    """A lake filled before impossible dates were dropped may hold one; "this week" stays at today."""
    last = pl.DataFrame(
        {
            "participant_id": ["P01", "P02"],
            "last_local": [datetime(2024, 3, 7, 13, 0), datetime(2126, 1, 1, 0, 0)],
        }
    )
    assert alerts.reference_day(last) == date(2126, 1, 1)  # no clock given: the data's own day
    assert alerts.reference_day(last, date(2024, 3, 8)) == date(2024, 3, 9)
    assert alerts.reference_day(last.head(1), date(2024, 3, 8)) == date(2024, 3, 7)
