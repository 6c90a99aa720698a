"""The roster-zone check flags a participant whose night falls at 08:00-14:00 in the roster zone."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from models.timezone import zone_mismatches


def weeks_of(pid: str, quiet_utc_hours: range, weeks: int) -> pl.DataFrame:
    rows = []
    for w in range(weeks):
        week = datetime(2026, 5, 4) + timedelta(weeks=w)
        for hour in range(24):
            rows.append((pid, week, hour, 0 if hour in quiet_utc_hours else 3000))
    return pl.DataFrame(
        rows, schema=["participant_id", "week_utc", "utc_hour", "steps"], orient="row"
    )


def test_night_at_eight_to_two_in_the_roster_zone_is_flagged() -> None:
    # Sleeps 00:00-06:00 at UTC-8 = 08:00-14:00 UTC; the roster says UTC.
    wrong = weeks_of("w", range(8, 14), 3)
    # Sleeps 01:00-07:00 in Oslo (UTC+2 in May) = 23:00-05:00 UTC; the roster says Europe/Oslo.
    right = weeks_of("r", range(-1, 5), 3).with_columns(pl.col("steps").fill_null(0))
    right = right.with_columns(
        pl.when(pl.col("utc_hour") == 23).then(0).otherwise(pl.col("steps")).alias("steps")
    )
    got = zone_mismatches(pl.concat([wrong, right]), {"w": "UTC", "r": "Europe/Oslo"})
    assert got["participant_id"].to_list() == ["w"]
    row = got.row(0, named=True)
    assert (row["weeks_disagreeing"], row["activity_utc_offset_hours"]) == (3, -8)
    assert "the roster says UTC (UTC); activity looks like UTC-8" in row["message"]


def test_one_odd_week_is_not_enough() -> None:
    odd = pl.concat(
        [
            weeks_of("o", range(7, 13), 1),
            weeks_of("o", range(0, 6), 3).with_columns(
                (pl.col("week_utc") + timedelta(weeks=1)).alias("week_utc")
            ),
        ]
    )
    assert zone_mismatches(odd, {"o": "UTC"}).height == 0
