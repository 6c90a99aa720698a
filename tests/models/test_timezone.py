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


def test_weeks_holding_only_the_edge_of_the_data_are_not_read() -> None:
    """Demo P12 (Brisbane, UTC+10) was flagged "activity looks like UTC": its first UTC week
    holds only 21:00-24:00 UTC of one day (07:00-10:00 on the first local Monday), and so does
    the week after its week without wear. The 21 empty hours read as the quietest six."""
    edge = [("e", datetime(2026, 2, 23), h, 800 if h >= 21 else 0, 1) for h in range(24)]
    edge += [("e", datetime(2026, 3, 16), h, 900 if h >= 21 else 0, 1) for h in range(24)]
    # Full weeks: asleep 00:00-06:00 Brisbane = 14:00-20:00 UTC.
    full = [
        ("e", datetime(2026, 3, 2) + timedelta(weeks=w), h, 0 if 14 <= h < 20 else 9000, 7)
        for w in (0, 1, 3)
        for h in range(24)
    ]
    frame = pl.DataFrame(
        edge + full,
        schema=["participant_id", "week_utc", "utc_hour", "steps", "days"],
        orient="row",
    )
    assert zone_mismatches(frame, {"e": "Australia/Brisbane"}).height == 0
    # Without the day count the two edge weeks are read, and the participant is flagged.
    flagged = zone_mismatches(frame.drop("days"), {"e": "Australia/Brisbane"})
    assert flagged["weeks_disagreeing"].to_list() == [2]
    # The same full weeks under a wrong roster zone are still flagged.
    wrong = zone_mismatches(frame, {"e": "UTC"})
    assert wrong["activity_utc_offset_hours"].to_list() == [10]
