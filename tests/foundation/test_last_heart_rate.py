"""The last heart-rate day: from every minute, or from the last heart-rate minute per UTC hour that derive keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from features.utc_hours import last_heart_rate_minutes, utc_hour_totals
from store import queries


def _minute(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


MINUTES = pl.DataFrame(
    {
        "participant_id": ["in", "in", "in", "os", "os", "nz"],
        # Kolkata is UTC+5:30: 18:40 UTC is ten past midnight the next local day,
        # inside a UTC hour that starts the day before there
        "minute_utc": [
            _minute(2, 10, 0),
            _minute(4, 18, 40),
            _minute(4, 19, 0),
            _minute(3, 22, 59),
            _minute(3, 23, 30),
            _minute(1, 8, 0),
        ],
        "steps": [10, 5, 7, 3, 4, 9],
        "heart_rate_bpm": [
            70.0,
            240.0,
            None,
            60.0,
            None,
            None,
        ],  # 240: implausible, still a heart rate
    },
    schema_overrides={"minute_utc": pl.Datetime("us", "UTC"), "steps": pl.Int32},
)
DAILY = pl.DataFrame(
    {
        "participant_id": ["os", "nz"],
        "local_date": [date(2026, 3, 5), date(2026, 2, 27)],
        "resting_heart_rate_bpm": [55.0, None],
        "min_heart_rate_bpm": [None, None],
        "max_heart_rate_bpm": [None, None],
    }
)
ROSTER = pl.DataFrame(
    {
        "participant_id": ["in", "os", "nz"],
        "timezone": ["Asia/Kolkata", "Europe/Oslo", "Pacific/Auckland"],
    }
)


def test_the_kept_hours_give_the_same_last_heart_rate_day_as_every_minute() -> None:
    con = duckdb.connect()
    con.register("minutes", MINUTES)
    con.register("daily_totals", DAILY)
    every = queries.last_heart_rate(con, ROSTER).sort("participant_id")
    kept = last_heart_rate_minutes(utc_hour_totals(MINUTES.lazy()))
    assert kept.rows() == [("in", _minute(4, 18, 40)), ("os", _minute(3, 22, 59))]
    assert every.rows() == [
        ("in", date(2026, 3, 5)),  # the local day of 18:40 UTC, not of its UTC hour's start
        ("os", date(2026, 3, 5)),  # a resting heart rate two local days after the last minute's
    ]
    assert_frame_equal(queries.last_heart_rate(con, ROSTER, kept).sort("participant_id"), every)
