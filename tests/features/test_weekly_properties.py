"""Properties of the weekly core on random inputs, and agreement with the DuckDB oracle."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from duckdb_oracle import oracle_weekly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from weekly_builders import block, daily_totals, minutes, profiles, roster, utc, week_hours

from config.study import StudyConfig
from features.classify import classify_minutes, heart_rate_limits
from features.weekly import daily_table, weekly_table
from models.weekly_status import with_status

# Small wear and threshold figures so that a few random blocks reach every status.
CONFIG = StudyConfig.model_validate(
    {
        "intensity": {
            "source_precedence": [
                "fit_activity",
                "fit_monitoring",
                "fitbit_takeout",
                "garmin_export",
            ]
        },
        "wear": {"min_wear_minutes_per_day": 30, "min_valid_days_per_week": 2},
        "scoring": {"threshold_minutes_per_week": 20},
    }
)
ZONES = {"a": "Europe/Oslo", "b": "Australia/Brisbane", "c": "America/Phoenix", "d": None}
SOURCES = [
    "fit_activity",
    "fit_monitoring",
    "fitbit_takeout",
    "fitabase",
]  # fitabase is not trusted here
ORIGIN = utc(2026, 10, 18, 0, 0)  # spans the Oslo autumn DST change (25 October)
SPAN_MINUTES = 12 * 1440
PEOPLE = roster(
    [
        {
            "participant_id": p,
            "timezone": z,
            "birth_year": 1980,
            "resting_hr": 60.0 if p == "a" else None,
        }
        for p, z in ZONES.items()
        if z
    ]
)
PROFILES = profiles(
    [{"participant_id": "b", "resting_heart_rate_bpm": 55.0, "max_heart_rate_bpm": 185.0}]
)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

blocks = st.lists(
    st.tuples(
        st.sampled_from(sorted(ZONES)),
        st.sampled_from(SOURCES),
        st.integers(0, SPAN_MINUTES - 1),
        st.integers(1, 90),
        st.one_of(
            st.none(), st.sampled_from(["sedentary", "light", "moderate", "vigorous", "bogus"])
        ),
        st.one_of(st.none(), st.floats(40, 190)),
        st.one_of(st.none(), st.integers(0, 150)),
        st.one_of(st.none(), st.floats(1, 9)),
    ),
    max_size=10,
)
totals = st.lists(
    st.tuples(
        st.sampled_from(sorted(ZONES)),
        st.sampled_from(["garmin_export", "fitbit_takeout", "fitabase"]),
        st.integers(0, 11),
        st.integers(0, 40),
        st.integers(0, 20),
        st.integers(0, 900),
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=5,
)


def make_minutes(spec: list[tuple]) -> pl.DataFrame:
    return minutes(
        *(
            block(
                p,
                ORIGIN + timedelta(minutes=start),
                length,
                source,
                intensity=label,
                heart_rate_bpm=hr,
                steps=steps,
                mets=mets,
            )
            for p, source, start, length, label, hr, steps, mets in spec
        )
    )


def make_totals(spec: list[tuple]) -> pl.DataFrame:
    return daily_totals(
        [
            {
                "participant_id": p,
                "source": s,
                "local_date": ORIGIN.date() + timedelta(days=d),
                "moderate_minutes": mod,
                "vigorous_minutes": vig,
                "sedentary_minutes": sed,
                "worn": w,
            }
            for p, s, d, mod, vig, sed, w in spec
        ]
    )


def run(mins: pl.DataFrame, tots: pl.DataFrame) -> pl.DataFrame:
    weekly = weekly_table(
        mins.lazy(), tots.lazy(), PROFILES.lazy(), PEOPLE, CONFIG, config_hash="h"
    )
    return with_status(weekly, CONFIG)


@SETTINGS
@given(blocks, totals, st.randoms(use_true_random=False))
def test_shuffling_and_duplicating_rows_changes_nothing(
    spec: list[tuple], tspec: list[tuple], rnd
) -> None:
    mins, tots = make_minutes(spec), make_totals(tspec)
    base = run(mins, tots)
    seed = rnd.randint(0, 2**31)
    doubled = pl.concat([mins, mins.sample(fraction=0.5, seed=seed)]).sample(
        fraction=1.0, shuffle=True, seed=seed
    )
    tots2 = pl.concat([tots, tots]).sample(fraction=1.0, shuffle=True, seed=seed)
    assert_frame_equal(run(doubled, tots2), base)


@SETTINGS
@given(blocks, totals)
def test_weekly_minutes_fit_in_the_week_and_daily_sums_to_weekly(
    spec: list[tuple], tspec: list[tuple]
) -> None:
    mins, tots = make_minutes(spec), make_totals(tspec)
    weekly = run(mins, tots)
    zones = {p: z or CONFIG.study.timezone for p, z in ZONES.items()}
    for pid, week, mvpa, wear in weekly.select(
        "participant_id", "week_start", "mvpa_minutes", "wear_minutes"
    ).rows():
        capacity = week_hours(zones[pid], week) * 60
        if (
            weekly.filter((pl.col("participant_id") == pid) & (pl.col("week_start") == week))[
                "from_daily_totals"
            ].item()
            == 0
        ):
            assert mvpa <= capacity and wear <= capacity
    daily = daily_table(mins.lazy(), tots.lazy(), PROFILES.lazy(), PEOPLE, CONFIG)
    summed = (
        daily.group_by("participant_id", "week_start")
        .agg(
            pl.col("moderate_minutes").sum(),
            pl.col("vigorous_minutes").sum(),
            pl.col("mvpa_minutes").sum(),
            pl.col("wear_minutes").sum(),
            pl.col("valid").sum().cast(pl.Int8).alias("valid_days"),
            pl.col("filled_from_daily_totals").sum().cast(pl.Int8).alias("from_daily_totals"),
        )
        .sort("participant_id", "week_start")
    )
    assert_frame_equal(summed, weekly.select(summed.columns))
    assert (daily["local_date"] - daily["week_start"]).dt.total_days().is_between(0, 6).all()


@pytest.mark.slow
@SETTINGS
@given(blocks, totals)
def test_duckdb_oracle_agrees_with_polars(spec: list[tuple], tspec: list[tuple]) -> None:
    mins, tots = make_minutes(spec), make_totals(tspec)
    limits = heart_rate_limits(PROFILES.lazy(), PEOPLE, tots.lazy(), mins.lazy())
    classified = classify_minutes(mins.lazy(), limits, CONFIG).collect()
    expected = oracle_weekly(classified, tots, PEOPLE, CONFIG, limits.collect())
    got = run(mins, tots).drop("config_hash")
    assert_frame_equal(got, expected, check_dtypes=False)


def test_oracle_sees_nontrivial_statuses() -> None:
    """Guard against a vacuous oracle test: a fixed input reaches met, below and insufficient."""
    spec = [
        ("a", "fit_monitoring", 1440, 60, "moderate", 100.0, None, None),
        ("a", "fit_monitoring", 2880, 40, "light", 90.0, None, None),
        ("b", "fitbit_takeout", 3000, 40, None, 60.0, 120, None),
        ("b", "fitbit_takeout", 4500, 40, None, 60.0, 10, None),
        ("c", "fit_activity", 100, 10, "vigorous", 170.0, None, None),
    ]
    mins = make_minutes(spec)
    limits = heart_rate_limits(PROFILES.lazy(), PEOPLE, None, mins.lazy())
    classified = classify_minutes(mins.lazy(), limits, CONFIG).collect()
    expected = oracle_weekly(classified, make_totals([]), PEOPLE, CONFIG, limits.collect())
    got = run(mins, make_totals([]))
    assert set(got["status"]) == {"met", "below", "insufficient"}
    assert_frame_equal(got.drop("config_hash"), expected, check_dtypes=False)
    assert got.filter(pl.col("participant_id") == "a")["week_start"].to_list() == [
        date(2026, 10, 19)
    ]


STEP_PEOPLE = roster([{"participant_id": "s", "timezone": "America/Phoenix"}])


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.sampled_from(["auto", "steps", "heart_rate_or_steps"]))
def test_duckdb_oracle_agrees_on_step_only_data(seed: int, rule: str) -> None:
    """Two step-only sources over six days (one also with heart rate on some days): Choi in SQL == core."""
    rng = np.random.default_rng(seed)
    frames = []
    for source in ("fitbit_takeout", "fit_monitoring"):
        steps = np.zeros(6 * 1440, np.int32)
        at = 0
        while at < steps.size:
            zeros, bout = int(rng.integers(1, 240)), int(rng.integers(1, 90))
            piece = steps[at + zeros : at + zeros + bout]
            piece[:] = rng.integers(0, 140, piece.size)
            at += zeros + bout
        keep = rng.random(steps.size) > 0.02  # a few missing minutes
        frame = block("s", ORIGIN, steps.size, source).with_columns(
            pl.Series("steps", steps, pl.Int32),
            pl.when((pl.int_range(pl.len()) // 1440 % 3 == 0) & (source == "fit_monitoring"))
            .then(pl.lit(95.0))
            .cast(pl.Float32)
            .alias("heart_rate_bpm"),
        )
        frames.append(frame.filter(pl.Series(keep)))
    mins = minutes(*frames)
    config = CONFIG.model_copy(update={"wear": CONFIG.wear.model_copy(update={"rule": rule})})
    limits = heart_rate_limits(profiles().lazy(), STEP_PEOPLE, None, mins.lazy())
    classified = classify_minutes(mins.lazy(), limits, config).collect()
    expected = oracle_weekly(classified, make_totals([]), STEP_PEOPLE, config, limits.collect())
    got = with_status(
        weekly_table(
            mins.lazy(),
            make_totals([]).lazy(),
            profiles().lazy(),
            STEP_PEOPLE,
            config,
            config_hash="h",
        ),
        config,
    ).drop("config_hash")
    assert_frame_equal(got, expected, check_dtypes=False)
    assert got["wear_minutes"].sum() > 0
