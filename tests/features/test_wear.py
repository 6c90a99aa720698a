"""The default wear rule per source and day, the step-based non-wear rule, and MVPA <= wear."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from wear_reference import with_wear
from weekly_builders import block, daily_totals, minutes, profiles, roster, utc

from config.study import StudyConfig
from features.weekly import daily_table, weekly_table
from models.weekly_status import with_status

DEFAULT = StudyConfig()
PEOPLE = roster([{"participant_id": "s", "timezone": "UTC"}])


def day_of_steps(
    participant: str, day: int, steps: np.ndarray, source: str = "fitabase"
) -> pl.DataFrame:
    """A whole UTC day (from 2026-05-04 + ``day``) of minute rows with the given steps."""
    assert steps.size == 1440
    frame = block(participant, utc(2026, 5, 4) + timedelta(days=day), 1440, source)
    return frame.with_columns(pl.Series("steps", steps, pl.Int32))


def awake_day(rng: np.random.Generator) -> np.ndarray:
    """07:00-22:00 worn (steps in every minute but an 80-minute sit), night all zeros."""
    steps = np.zeros(1440, np.int32)
    awake = np.arange(7 * 60, 22 * 60)
    steps[awake] = rng.integers(1, 40, awake.size)
    steps[9 * 60 : 9 * 60 + 80] = 0  # a long sit: 80 minutes of zeros, still worn
    return steps


def wear_of(*frames: pl.DataFrame, config: StudyConfig = DEFAULT) -> pl.DataFrame:
    return daily_table(
        minutes(*frames).lazy(), daily_totals([]).lazy(), profiles().lazy(), PEOPLE, config
    )


def test_step_only_day_is_worn_by_the_step_rule() -> None:
    rng = np.random.default_rng(1)
    got = wear_of(day_of_steps("s", 0, awake_day(rng)))
    # 00:00-07:00 and 22:00-24:00 are zeros: non-wear. The day's 15 waking hours are worn,
    # the 80-minute sit included (shorter than 90 minutes).
    assert got["wear_minutes"].to_list() == [15 * 60]
    assert got["valid"].to_list() == [True]
    # The old default (heart rate present) called the same day not worn at all.
    old = StudyConfig.model_validate({"wear": {"rule": "heart_rate_present"}})
    assert wear_of(day_of_steps("s", 0, awake_day(rng)), config=old)["wear_minutes"].to_list() == [
        0
    ]


def test_choi_interruption_allowance() -> None:
    steps = np.full(1440, 20, np.int32)
    # 40 zeros, 2 minutes of steps, 60 zeros: one 102-minute non-wear run (30 zeros either side).
    steps[100:140] = 0
    steps[142:202] = 0
    # 20 zeros, 2 minutes of steps, 80 zeros: the left window is under 30 minutes, so the
    # interruption ends the run, and neither run reaches 90 minutes: all worn.
    steps[600:620] = 0
    steps[622:702] = 0
    # 3 minutes of steps inside zeros: more than the allowance, worn.
    steps[1000:1060] = 0
    steps[1063:1123] = 0
    got = wear_of(day_of_steps("s", 0, steps))
    assert got["wear_minutes"].to_list() == [1440 - 102]


def test_day_of_only_zeros_is_not_worn() -> None:
    got = wear_of(day_of_steps("s", 0, np.zeros(1440, np.int32)))
    assert got["wear_minutes"].to_list() == [0]


def test_heart_rate_day_with_the_strap_off_for_four_hours() -> None:
    # A watch recording heart rate all day but for 10:00-14:00, and counting steps throughout.
    day = utc(2026, 5, 4)
    on_morning = block("s", day, 600, "fit_monitoring", heart_rate_bpm=65.0, steps=10)
    off = block("s", day + timedelta(hours=10), 240, "fit_monitoring", steps=10)
    on_evening = block(
        "s", day + timedelta(hours=14), 600, "fit_monitoring", heart_rate_bpm=65.0, steps=10
    )
    got = wear_of(on_morning, off, on_evening)
    assert got["wear_minutes"].to_list() == [1200]


def test_per_source_and_day_choice() -> None:
    # The same participant: a heart-rate watch on day 0, a step-only tracker on day 1.
    rng = np.random.default_rng(2)
    watch = block("s", utc(2026, 5, 4, 8), 700, "fit_monitoring", heart_rate_bpm=70.0, steps=0)
    tracker = day_of_steps("s", 1, awake_day(rng))
    got = wear_of(watch, tracker)
    assert got["wear_minutes"].to_list() == [700, 900]


def test_week_with_mvpa_and_no_heart_rate() -> None:
    # Five step-only days with a 30-minute brisk walk each: worn by the step rule, moderate by cadence.
    rng = np.random.default_rng(3)
    frames = []
    for d in range(5):
        steps = awake_day(rng)
        steps[18 * 60 : 18 * 60 + 30] = 115
        frames.append(day_of_steps("s", d, steps))
    got = with_status(
        weekly_table(
            minutes(*frames).lazy(),
            daily_totals([]).lazy(),
            profiles().lazy(),
            PEOPLE,
            DEFAULT,
            config_hash="h",
        ),
        DEFAULT,
    )
    row = got.row(0, named=True)
    assert (row["moderate_minutes"], row["vigorous_minutes"], row["valid_days"]) == (150, 0, 5)
    assert row["status"] == "met" and row["methods"] == "cadence"
    assert row["wear_minutes"] == 5 * 900


def test_step_rule_ignores_duplicated_rows() -> None:
    rng = np.random.default_rng(4)
    day = day_of_steps("s", 0, awake_day(rng))
    rows = with_wear(pl.concat([day, day]).lazy(), DEFAULT.wear).collect()
    assert rows.height == 2880
    assert rows["worn_by_rule"].sum() == 2 * 900


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = ["auto", "heart_rate_present", "heart_rate_or_steps", "device", "steps"]
blocks = st.lists(
    st.tuples(
        st.sampled_from(["fit_monitoring", "fitbit_takeout", "fitabase"]),
        st.integers(0, 3 * 1440),
        st.integers(1, 300),
        st.one_of(st.none(), st.sampled_from(["sedentary", "light", "moderate", "vigorous"])),
        st.one_of(st.none(), st.floats(40, 200)),
        st.one_of(st.none(), st.integers(0, 200)),
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=12,
)
totals = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 300),
        st.integers(0, 200),
        st.integers(0, 1440),
        st.booleans(),
    ),
    max_size=3,
)


@pytest.mark.slow
@SETTINGS
@given(blocks, totals, st.sampled_from(RULES))
def test_mvpa_never_exceeds_wear(spec: list[tuple], tspec: list[tuple], rule: str) -> None:
    config = StudyConfig.model_validate(
        {"wear": {"rule": rule, "min_wear_minutes_per_day": 30, "min_valid_days_per_week": 1}}
    )
    people = roster([{"participant_id": "s", "timezone": "Europe/Oslo"}])
    mins = minutes(
        *(
            block(
                "s",
                utc(2026, 5, 4) + timedelta(minutes=start),
                length,
                source,
                intensity=label,
                heart_rate_bpm=hr,
                steps=steps,
                worn=flag,
            )
            for source, start, length, label, hr, steps, flag in spec
        )
    )
    tots = daily_totals(
        [
            {
                "participant_id": "s",
                "source": "garmin_export",
                "local_date": utc(2026, 5, 4).date() + timedelta(days=d),
                "moderate_minutes": mod,
                "vigorous_minutes": vig,
                "sedentary_minutes": sed,
                "worn": w,
            }
            for d, mod, vig, sed, w in tspec
        ]
    )
    weekly = weekly_table(
        mins.lazy(), tots.lazy(), profiles().lazy(), people, config, config_hash="h"
    )
    daily = daily_table(mins.lazy(), tots.lazy(), profiles().lazy(), people, config)
    assert (weekly["mvpa_minutes"] <= weekly["wear_minutes"]).all()
    assert (daily["mvpa_minutes"] <= daily["wear_minutes"]).all()


def _episodes(rng: np.random.Generator, longest_zeros: int) -> np.ndarray:
    """Three UTC days of one source's steps: zero stretches of 1 to ``longest_zeros`` minutes between
    bouts of 1-5 step minutes, and missing minutes (-1) here and there, so that runs, interruptions
    and gaps all occur."""
    steps = np.zeros(3 * 1440, np.int32)
    at = 0
    while at < steps.size:
        zeros, bout = int(rng.integers(1, longest_zeros + 1)), int(rng.integers(1, 6))
        steps[at + zeros : at + zeros + bout] = rng.integers(1, 121)
        at += zeros + bout
    for _ in range(int(rng.integers(0, 5))):
        start = int(rng.integers(0, steps.size))
        steps[start : start + int(rng.integers(1, 121))] = -1
    return steps


@st.composite
def step_sources(draw: st.DrawFn) -> list[tuple[str, np.ndarray, list[int]]]:
    """One to three sources, each with its steps and the days (0-2) on which it also records heart rate."""
    chosen = draw(
        st.lists(
            st.sampled_from(["fit_monitoring", "fitbit_takeout", "fitabase"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    longest = draw(st.sampled_from([20, 60, 200]))
    return [
        (s, _episodes(rng, longest), draw(st.lists(st.integers(0, 2), max_size=2, unique=True)))
        for s in chosen
    ]


def _rows(spec: list[tuple[str, np.ndarray, list[int]]]) -> pl.DataFrame:
    frames = []
    for source, steps, heart_days in spec:
        day = utc(2026, 5, 4)
        frame = block("s", day, steps.size, source).with_columns(
            pl.Series("steps", steps, pl.Int32)
        )
        minute_day = pl.int_range(pl.len()) // 1440
        frame = frame.with_columns(
            pl.when(minute_day.is_in(heart_days) & (pl.col("steps") > 0))
            .then(pl.lit(90.0))
            .otherwise(None)
            .cast(pl.Float32)
            .alias("heart_rate_bpm")
        )
        frames.append(frame.filter(pl.col("steps") >= 0))
    return minutes(*frames)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step_sources(), st.sampled_from(["auto", "steps"]), st.integers(10, 120), st.integers(0, 4))
def test_quarter_wear_equals_the_minute_reference(
    spec: list[tuple[str, np.ndarray, list[int]]], rule: str, window: int, allowance: int
) -> None:
    """The core's wear (on quarter-hour bit sets) equals the minute-level reference rule, per UTC day."""
    config = StudyConfig.model_validate(
        {
            "wear": {
                "rule": rule,
                "step_interruption_window_minutes": window,
                "step_interruption_minutes": allowance,
                "step_nonwear_minutes": 3 * window,
            },
            "intensity": {"methods": ["device"]},
        }
    )
    rows = _rows(spec)
    reference = (
        with_wear(rows.lazy(), config.wear)
        .group_by("participant_id", "minute_utc")
        .agg(pl.col("worn_by_rule").any())
        .group_by(pl.col("minute_utc").dt.date().alias("local_date"))
        .agg(pl.col("worn_by_rule").sum().cast(pl.Int32).alias("wear_minutes"))
        .collect()
    )
    got = wear_of(rows, config=config).select("local_date", "wear_minutes")
    expected = reference.filter(pl.col("local_date").is_in(got["local_date"].implode()))
    assert_frame_equal(got.sort("local_date"), expected.sort("local_date"), check_dtypes=False)
    assert got["wear_minutes"].sum() > 0 or reference["wear_minutes"].sum() == 0
