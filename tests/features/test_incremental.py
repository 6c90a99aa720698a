"""Incremental recompute of touched participant-weeks equals a full recompute."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from weekly_builders import block, daily_totals, minutes, profiles, roster, utc

from config.study import StudyConfig
from features.incremental import replace_weeks, touched_weeks
from features.weekly import (
    Inputs,
    daily_table,
    hourly_wear,
    week_tables,
    week_tables_in_batches,
    weekly_table,
    weekly_table_in_batches,
)

CONFIG = StudyConfig.model_validate(
    {"wear": {"min_wear_minutes_per_day": 30, "min_valid_days_per_week": 1}}
)
PEOPLE = roster(
    [
        {"participant_id": "a", "timezone": "Europe/Oslo"},
        {"participant_id": "b", "timezone": "Pacific/Auckland"},
    ]
)
ORIGIN = utc(2026, 3, 1)


def full(mins: pl.DataFrame, tots: pl.DataFrame) -> pl.DataFrame:
    return weekly_table(
        mins.lazy(), tots.lazy(), profiles().lazy(), PEOPLE, CONFIG, config_hash="h"
    )


def test_touched_weeks_names_local_weeks_of_new_rows() -> None:
    new = minutes(
        block(
            "b", utc(2026, 3, 8, 10, 30), 60, heart_rate_bpm=120.0
        ),  # Auckland +13: Sunday 23:30 -> Monday 00:30
        block("a", utc(2026, 3, 4, 12, 0), 5, heart_rate_bpm=80.0),
    )
    tots = daily_totals(
        [{"participant_id": "a", "local_date": date(2026, 3, 16), "moderate_minutes": 5}]
    )
    got = touched_weeks(new.lazy(), tots.lazy(), PEOPLE, CONFIG)
    assert got.rows() == [
        ("a", date(2026, 3, 2)),
        ("a", date(2026, 3, 16)),
        ("b", date(2026, 3, 2)),
        ("b", date(2026, 3, 9)),
    ]


blocks = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["fit_monitoring", "fit_activity"]),
        st.integers(0, 40 * 1440),
        st.integers(1, 600),
        st.sampled_from(["sedentary", "moderate", "vigorous"]),
    ),
    min_size=1,
    max_size=8,
)


def build(spec: list[tuple]) -> pl.DataFrame:
    return minutes(
        *(
            block(p, ORIGIN + timedelta(minutes=s), n, src, intensity=lab, heart_rate_bpm=90.0)
            for p, src, s, n, lab in spec
        )
    )


@settings(max_examples=20, deadline=None)
@given(blocks, blocks)
def test_update_equals_full_recompute(old_spec: list[tuple], new_spec: list[tuple]) -> None:
    old, new = build(old_spec), build(new_spec)
    tots = daily_totals(
        [{"participant_id": "a", "local_date": date(2026, 3, 20), "moderate_minutes": 70}]
    )
    everything = pl.concat([old, new])
    existing = full(old, tots)
    # what derive does after a nightly: recompute the touched weeks, merge them in
    touched = touched_weeks(new.lazy(), daily_totals([]).lazy(), PEOPLE, CONFIG)
    recomputed = weekly_table(
        everything.lazy(),
        tots.lazy(),
        profiles().lazy(),
        PEOPLE,
        CONFIG,
        config_hash="h",
        only=touched,
    )
    updated = existing if touched.height == 0 else replace_weeks(existing, recomputed, touched)
    assert_frame_equal(updated, full(everything, tots))


def test_only_restricts_to_requested_weeks() -> None:
    mins = build(
        [
            ("a", "fit_monitoring", 0, 600, "moderate"),
            ("a", "fit_monitoring", 20 * 1440, 60, "vigorous"),
        ]
    )
    whole = full(mins, daily_totals([]))
    assert whole.height == 2
    only = whole.select("participant_id", "week_start").tail(1)
    part = weekly_table(
        mins.lazy(),
        daily_totals([]).lazy(),
        profiles().lazy(),
        PEOPLE,
        CONFIG,
        config_hash="h",
        only=only,
    )
    assert_frame_equal(part, whole.tail(1))


def three_participants() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Minutes of ``a`` and of ``b`` (two overlapping sources), daily totals only of ``c``."""
    mins = build(
        [
            ("a", "fit_monitoring", 0, 600, "moderate"),
            ("b", "fit_activity", 3 * 1440, 90, "vigorous"),
            ("b", "fit_monitoring", 3 * 1440 + 30, 90, "moderate"),
        ]
    )
    tots = daily_totals(
        [{"participant_id": "c", "local_date": date(2026, 3, 20), "moderate_minutes": 70}]
    )
    return mins, tots


def test_batches_of_participants_give_the_same_table() -> None:
    mins, tots = three_participants()
    args = (mins.lazy(), tots.lazy(), profiles().lazy(), PEOPLE, CONFIG)
    whole = weekly_table(*args, config_hash="h")
    assert whole["participant_id"].unique().sort().to_list() == ["a", "b", "c"]
    assert_frame_equal(weekly_table_in_batches(*args, config_hash="h", batch_participants=1), whole)
    empty = weekly_table_in_batches(
        mins.lazy().head(0),
        tots.lazy().head(0),
        profiles().lazy(),
        roster([]),
        CONFIG,
        config_hash="h",
        batch_participants=2,
    )
    assert empty.height == 0 and empty.columns == whole.columns


@settings(max_examples=15, deadline=None)
@given(blocks, st.integers(0, 3))
def test_week_tables_equal_the_three_tables_computed_apart(spec: list[tuple], pick: int) -> None:
    mins = build(spec)
    tots = daily_totals(
        [{"participant_id": "b", "local_date": date(2026, 3, 20), "moderate_minutes": 70}]
    )
    args = (mins.lazy(), tots.lazy(), profiles().lazy(), PEOPLE, CONFIG)
    whole = weekly_table(*args, config_hash="h")
    together = week_tables(*args, config_hash="h")
    assert_frame_equal(together.weekly, whole)
    assert_frame_equal(together.daily, daily_table(*args))
    assert_frame_equal(
        together.hourly_wear, hourly_wear(mins.lazy(), profiles().lazy(), PEOPLE, CONFIG)
    )
    # one requested week: its weekly row, and the daily and hourly rows of its days only
    only = whole.select("participant_id", "week_start").slice(pick % whole.height, 1)
    part = week_tables(*args, config_hash="h", only=only)
    assert_frame_equal(part.weekly, weekly_table(*args, config_hash="h", only=only))
    assert_frame_equal(part.daily, daily_table(*args, only=only))
    days = together.daily.join(only, on=["participant_id", "week_start"], how="semi")
    expected_hours = together.hourly_wear.join(
        days.select("participant_id", "local_date"), on=["participant_id", "local_date"], how="semi"
    )
    assert_frame_equal(part.hourly_wear, expected_hours)
    assert part.daily["week_start"].unique().to_list() == only["week_start"].to_list()


def test_week_tables_in_batches_read_each_batch_from_its_own_inputs() -> None:
    mins, tots = three_participants()
    asked: list[list[str]] = []

    def inputs_of(ids: list[str]) -> Inputs:
        asked.append(ids)
        chosen = pl.col("participant_id").is_in(ids)
        return Inputs(mins.lazy().filter(chosen), tots.lazy().filter(chosen), profiles().lazy())

    args = (mins.lazy(), tots.lazy(), profiles().lazy(), PEOPLE, CONFIG)
    whole = week_tables(*args, config_hash="h")
    batched = week_tables_in_batches(
        inputs_of, ["c", "b", "a", "b"], PEOPLE, CONFIG, config_hash="h", batch_participants=2
    )
    assert asked == [["a", "b"], ["c"]]
    for got, expected in zip(batched, whole, strict=True):
        assert_frame_equal(got, expected)
    assert whole.weekly["participant_id"].unique().sort().to_list() == ["a", "b", "c"]
    none = week_tables_in_batches(
        inputs_of, [], PEOPLE, CONFIG, config_hash="h", batch_participants=2
    )
    assert [t.height for t in none] == [0, 0, 0]
    assert [t.columns for t in none] == [t.columns for t in whole]
