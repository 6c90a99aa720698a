"""UTC-hour totals kept for the data-quality notes: one pass, and a nightly's replacement equals a full pass."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from weekly_builders import block, daily_totals, minutes, roster, utc

from config.study import StudyConfig
from features.incremental import touched_weeks
from features.scope import restrict_minutes
from features.utc_hours import (
    days_of_weeks,
    heart_rate_minutes,
    last_heart_rate_minutes,
    replace_days,
    utc_hour_totals,
    week_hour_steps,
)

CONFIG = StudyConfig.model_validate({})
PEOPLE = roster(
    [
        {"participant_id": "a", "timezone": "Europe/Oslo"},
        {"participant_id": "b", "timezone": "Pacific/Auckland"},
    ]
)
HOUR_2026_03_02 = 492_336
"""2026-03-02 00:00 UTC in whole hours since the epoch (20,514 days x 24)."""


def test_totals_count_plausible_steps_and_heart_rate_apart() -> None:
    mins = minutes(
        block("a", utc(2026, 3, 2, 0, 0), 30, steps=100, heart_rate_bpm=90.0),
        # neither plausible, then heart rate only, then steps of zero (still rows)
        block("a", utc(2026, 3, 2, 0, 30), 10, steps=400, heart_rate_bpm=250.0),
        block("a", utc(2026, 3, 2, 0, 40), 5, steps=500, heart_rate_bpm=70.0),
        block("a", utc(2026, 3, 2, 1, 0), 2, steps=0),
    )
    got = utc_hour_totals(mins.lazy())
    assert got.drop("last_heart_rate_utc").rows() == [
        ("a", HOUR_2026_03_02, 3000, 30, 35),
        ("a", HOUR_2026_03_02 + 1, 0, 2, 0),
    ]
    assert got["last_heart_rate_utc"].to_list() == [utc(2026, 3, 2, 0, 44), None]
    assert heart_rate_minutes(got).rows() == [("a", 35)]
    weekly = week_hour_steps(got).sort("utc_hour")
    assert weekly.select("utc_hour", "steps", "days").rows() == [(0, 3000, 1), (1, 0, 1)]


def test_an_hour_with_only_implausible_heart_rate_keeps_its_last_heart_rate_minute() -> None:
    """The no-heart-rate alert counts any heart rate; the notes count plausible ones only."""
    mins = minutes(
        block("a", utc(2026, 3, 2, 5, 0), 3, steps=50, heart_rate_bpm=80.0),
        block("a", utc(2026, 3, 2, 9, 20), 4, steps=None, heart_rate_bpm=250.0),
        block("b", utc(2026, 3, 2, 7, 0), 10, steps=20),
    )
    got = utc_hour_totals(mins.lazy())
    assert got.rows() == [
        ("a", HOUR_2026_03_02 + 5, 150, 3, 3, utc(2026, 3, 2, 5, 2)),
        ("a", HOUR_2026_03_02 + 9, 0, 0, 0, utc(2026, 3, 2, 9, 23)),
        ("b", HOUR_2026_03_02 + 7, 200, 10, 0, None),
    ]
    assert heart_rate_minutes(got).rows() == [("a", 3)]  # the notes see what they saw before
    assert last_heart_rate_minutes(got).rows() == [("a", utc(2026, 3, 2, 9, 23))]


def test_a_local_week_reaches_one_utc_day_before_and_eight_after() -> None:
    got = days_of_weeks(pl.DataFrame({"participant_id": ["a"], "week_start": [date(2026, 3, 2)]}))
    first = (date(2026, 3, 1) - date(1970, 1, 1)).days
    assert sorted(got["day"].to_list()) == list(range(first, first + 9))


def test_hours_on_touched_days_come_from_fresh_and_hours_that_lost_their_rows_go() -> None:
    old = utc_hour_totals(
        minutes(
            block("a", utc(2026, 2, 20, 8), 10, steps=50),  # far before: kept as it was
            block("a", utc(2026, 3, 3, 8), 10, steps=50),  # in reach: its rows were retired
            block("b", utc(2026, 3, 3, 8), 10, steps=50),  # another participant: kept
        ).lazy()
    )
    fresh = utc_hour_totals(minutes(block("a", utc(2026, 3, 4, 9), 5, steps=20)).lazy())
    touched = pl.DataFrame({"participant_id": ["a"], "week_start": [date(2026, 3, 2)]})
    got = replace_days(old, fresh, days_of_weeks(touched))
    feb_20_8h = HOUR_2026_03_02 - 10 * 24 + 8
    assert got.select("participant_id", "hour", "steps").rows() == [
        ("a", feb_20_8h, 500),
        ("a", HOUR_2026_03_02 + 2 * 24 + 9, 100),
        ("b", HOUR_2026_03_02 + 24 + 8, 500),
    ]


spans = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(0, 40 * 1440),
        st.integers(1, 900),
        st.integers(0, 320),
    ),
    min_size=1,
    max_size=6,
)


def _rows(spec: list[tuple[str, int, int, int]]) -> pl.DataFrame:
    origin = utc(2026, 3, 1)
    return minutes(
        *(
            block(p, origin + timedelta(minutes=s), n, steps=k, heart_rate_bpm=60.0 + k % 170)
            for p, s, n, k in spec
        )
    )


@settings(max_examples=25, deadline=None)
@given(spans, spans, spans)
def test_a_nightly_replacement_equals_a_full_pass(
    kept: list[tuple[str, int, int, int]],
    retired: list[tuple[str, int, int, int]],
    new: list[tuple[str, int, int, int]],
) -> None:
    before = pl.concat([_rows(kept), _rows(retired)])
    after = pl.concat([_rows(kept), _rows(new)])
    # the weeks derive recomputes: those of new rows and of retired rows
    touched = pl.concat(
        [
            touched_weeks(rows.lazy(), daily_totals([]).lazy(), PEOPLE, CONFIG)
            for rows in (_rows(new), _rows(retired))
        ]
    ).unique()
    reach = restrict_minutes(after.lazy(), touched)  # only the rows in reach of those weeks
    got = replace_days(
        utc_hour_totals(before.lazy()), utc_hour_totals(reach), days_of_weeks(touched)
    )
    assert_frame_equal(got, utc_hour_totals(after.lazy()))
