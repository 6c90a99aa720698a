"""Small literal cases with exact expected weekly tables."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from weekly_builders import (
    block,
    daily_totals,
    local_span,
    minutes,
    profiles,
    roster,
    utc,
    week_hours,
    worn_days,
)

from config.study import StudyConfig
from features.weekly import daily_table, hourly_wear, weekly_table
from models.weekly_status import with_status

CONFIG = StudyConfig()
KEY = ["participant_id", "week_start", "moderate_minutes", "vigorous_minutes", "mvpa_minutes"]
KEY += ["wear_minutes", "valid_days", "status"]
OSLO = "Europe/Oslo"


def weekly(
    mins: pl.DataFrame,
    people: pl.DataFrame,
    totals: pl.DataFrame | None = None,
    config: StudyConfig = CONFIG,
):
    frame = weekly_table(
        mins.lazy(),
        (totals if totals is not None else daily_totals([])).lazy(),
        profiles().lazy(),
        people,
        config,
        config_hash=config.hash(),
    )
    return with_status(frame, config)  # scored as derive scores it


def expected(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "participant_id": pl.String,
            "week_start": pl.Date,
            "moderate_minutes": pl.Int32,
            "vigorous_minutes": pl.Int32,
            "mvpa_minutes": pl.Int32,
            "wear_minutes": pl.Int32,
            "valid_days": pl.Int8,
            "status": pl.String,
        },
        orient="row",
    )


def test_dst_weeks_have_167_and_169_hours() -> None:
    assert week_hours(OSLO, date(2026, 3, 23)) == 167
    assert week_hours(OSLO, date(2026, 10, 19)) == 169
    assert week_hours(OSLO, date(2026, 3, 30)) == 168


def test_spring_dst_week_in_oslo() -> None:
    people = roster([{"participant_id": "p", "timezone": OSLO}])
    # Sunday 29 March 2026: clocks jump 02:00 -> 03:00 local (01:00 UTC).
    walk = block("p", utc(2026, 3, 29, 0, 30), 61, heart_rate_bpm=160.0, intensity="vigorous")
    got = weekly(minutes(worn_days("p", OSLO, date(2026, 3, 23), 7), walk), people)
    assert_frame_equal(
        got.select(KEY), expected([("p", date(2026, 3, 23), 0, 61, 61, 167 * 60, 7, "met")])
    )


def test_autumn_dst_week_in_oslo_counts_the_repeated_hour_twice() -> None:
    people = roster([{"participant_id": "p", "timezone": OSLO}])
    # Sunday 25 October 2026: local 02:00-03:00 happens twice (00:00-02:00 UTC).
    walk = block("p", utc(2026, 10, 25, 0, 30), 60, heart_rate_bpm=120.0, intensity="moderate")
    mins = minutes(worn_days("p", OSLO, date(2026, 10, 19), 7), walk)
    got = weekly(mins, people)
    assert_frame_equal(
        got.select(KEY), expected([("p", date(2026, 10, 19), 60, 0, 60, 169 * 60, 7, "met")])
    )
    hours = hourly_wear(mins.lazy(), profiles().lazy(), people, CONFIG)
    sunday = hours.filter(pl.col("local_date") == date(2026, 10, 25))
    assert sunday.height == 24
    assert sunday.filter(pl.col("hour") == 2)["wear_minutes"].item() == 120
    assert sunday["wear_minutes"].sum() == 25 * 60


def test_utc_plus_10_brisbane_week_boundary() -> None:
    people = roster([{"participant_id": "b", "timezone": "Australia/Brisbane"}])
    # Monday 8 June 2026 00:00 in Brisbane is Sunday 7 June 14:00 UTC.
    mins = minutes(
        block("b", utc(2026, 6, 7, 13, 45), 30, heart_rate_bpm=120.0, intensity="moderate")
    )
    assert_frame_equal(
        weekly(mins, people).select(KEY),
        expected(
            [
                ("b", date(2026, 6, 1), 15, 0, 15, 15, 0, "insufficient"),
                ("b", date(2026, 6, 8), 15, 0, 15, 15, 0, "insufficient"),
            ]
        ),
    )


def test_utc_minus_7_phoenix_week_boundary() -> None:
    people = roster([{"participant_id": "x", "timezone": "America/Phoenix"}])
    # Monday 8 June 2026 00:00 in Phoenix (no DST) is 07:00 UTC.
    mins = minutes(
        block("x", utc(2026, 6, 8, 6, 50), 20, heart_rate_bpm=150.0, intensity="vigorous")
    )
    assert_frame_equal(
        weekly(mins, people).select(KEY),
        expected(
            [
                ("x", date(2026, 6, 1), 0, 10, 10, 10, 0, "insufficient"),
                ("x", date(2026, 6, 8), 0, 10, 10, 10, 0, "insufficient"),
            ]
        ),
    )


def test_monday_boundary_for_participant_missing_from_roster_uses_study_zone() -> None:
    config = StudyConfig.model_validate({"study": {"timezone": "Asia/Kolkata"}})
    # Monday 8 June 2026 00:00 in Kolkata (+05:30) is Sunday 18:30 UTC.
    mins = minutes(
        block("ghost", utc(2026, 6, 7, 18, 0), 60, heart_rate_bpm=120.0, intensity="moderate")
    )
    got = weekly(mins, roster([]), config=config)
    assert got.select("week_start", "moderate_minutes").rows() == [
        (date(2026, 6, 1), 30),
        (date(2026, 6, 8), 30),
    ]


def test_watch_and_phone_covering_the_same_walk_count_once() -> None:
    people = roster([{"participant_id": "w", "timezone": "UTC"}])
    watch = block(
        "w",
        utc(2026, 5, 5, 10, 0),
        40,
        "fit_monitoring",
        heart_rate_bpm=125.0,
        intensity="moderate",
    )
    phone = block("w", utc(2026, 5, 5, 10, 20), 40, "fitbit_takeout", steps=110)
    got = weekly(minutes(worn_days("w", "UTC", date(2026, 5, 4), 5), watch, phone), people)
    assert_frame_equal(
        got.select(KEY), expected([("w", date(2026, 5, 4), 60, 0, 60, 5 * 1440, 5, "met")])
    )
    assert got.select("sources", "methods", "from_daily_totals").row(0) == (
        "fit_monitoring,fitbit_takeout",
        "device,cadence",
        0,
    )


def test_highest_level_wins_across_sources() -> None:
    people = roster([{"participant_id": "h", "timezone": "UTC"}])
    moderate = block(
        "h", utc(2026, 5, 5, 10, 0), 30, "fit_activity", intensity="moderate", heart_rate_bpm=120.0
    )
    vigorous = block(
        "h",
        utc(2026, 5, 5, 10, 10),
        10,
        "fit_monitoring",
        intensity="vigorous",
        heart_rate_bpm=120.0,
    )
    got = weekly(minutes(moderate, vigorous), people)
    assert got.select("moderate_minutes", "vigorous_minutes", "mvpa_minutes", "wear_minutes").row(
        0
    ) == (20, 10, 30, 30)


def test_unlisted_source_counts_after_the_listed_ones() -> None:
    config = StudyConfig.model_validate({"intensity": {"source_precedence": ["fit_monitoring"]}})
    people = roster([{"participant_id": "u", "timezone": "UTC"}])
    phone = block(
        "u", utc(2026, 5, 5, 10, 0), 40, "fitbit_takeout", steps=120, heart_rate_bpm=100.0
    )
    watch = block("u", utc(2026, 5, 5, 12, 0), 5, "fit_monitoring", steps=120)
    got = weekly(minutes(phone, watch), people, config=config)
    row = got.select("mvpa_minutes", "wear_minutes", "sources").row(0)
    assert row[:2] == (45, 45)  # the unlisted phone's 40 minutes count too
    assert set(row[2].split(",")) == {"fit_monitoring", "fitbit_takeout"}


def test_week_with_only_daily_totals() -> None:
    people = roster([{"participant_id": "d", "timezone": "Europe/Oslo"}])
    days = [date(2026, 5, 4 + i) for i in range(5)]
    totals = daily_totals(
        [
            {
                "participant_id": "d",
                "local_date": d,
                "moderate_minutes": 10,
                "vigorous_minutes": 5,
                "light_minutes": 100,
                "sedentary_minutes": 700,
            }
            for d in days
        ]
    )
    got = weekly(minutes(), people, totals)
    assert_frame_equal(
        got.select(KEY), expected([("d", date(2026, 5, 4), 50, 25, 75, 5 * 815, 5, "met")])
    )
    assert got.select("sources", "methods", "from_daily_totals").row(0) == (
        "garmin_export",
        None,
        5,
    )


def test_daily_totals_do_not_override_a_day_with_classified_minutes() -> None:
    people = roster([{"participant_id": "m", "timezone": "UTC"}])
    walk = block("m", utc(2026, 5, 4, 10, 0), 20, heart_rate_bpm=120.0, intensity="moderate")
    totals = daily_totals(
        [
            {
                "participant_id": "m",
                "local_date": date(2026, 5, 4),
                "moderate_minutes": 50,
                "sedentary_minutes": 900,
            },
            {
                "participant_id": "m",
                "local_date": date(2026, 5, 5),
                "moderate_minutes": 30,
                "sedentary_minutes": 900,
            },
        ]
    )
    got = weekly(minutes(walk), people, totals)
    assert got.select("moderate_minutes", "wear_minutes", "valid_days", "from_daily_totals").row(
        0
    ) == (50, 950, 1, 1)
    day = daily_table(minutes(walk).lazy(), totals.lazy(), profiles().lazy(), people, CONFIG)
    assert day.select(
        "local_date", "moderate_minutes", "filled_from_daily_totals", "sources", "methods"
    ).rows() == [
        (date(2026, 5, 4), 20, False, "fit_monitoring", "device"),
        (date(2026, 5, 5), 30, True, "garmin_export", None),
    ]


def test_daily_totals_marked_not_worn_give_no_wear() -> None:
    people = roster([{"participant_id": "n", "timezone": "UTC"}])
    totals = daily_totals(
        [
            {
                "participant_id": "n",
                "local_date": date(2026, 5, 4),
                "sedentary_minutes": 1440,
                "worn": False,
            }
        ]
    )
    got = weekly(minutes(), people, totals)
    assert got.select("mvpa_minutes", "wear_minutes", "valid_days", "status").row(0) == (
        0,
        0,
        0,
        "insufficient",
    )


def test_all_non_wear_week_is_insufficient_not_below() -> None:
    people = roster([{"participant_id": "z", "timezone": "UTC"}])
    start, count = local_span("UTC", date(2026, 5, 4), 7)
    idle = block("z", start, count, "fitbit_takeout", steps=0, intensity="sedentary")
    got = weekly(minutes(idle), people)
    assert_frame_equal(
        got.select(KEY), expected([("z", date(2026, 5, 4), 0, 0, 0, 0, 0, "insufficient")])
    )


@pytest.mark.parametrize(("mvpa", "status"), [(59, "below"), (60, "met"), (61, "met")])
def test_threshold_edges(mvpa: int, status: str) -> None:
    people = roster([{"participant_id": "t", "timezone": "UTC"}])
    walk = block("t", utc(2026, 5, 6, 17, 0), mvpa, heart_rate_bpm=130.0, intensity="moderate")
    got = weekly(minutes(worn_days("t", "UTC", date(2026, 5, 4), 4), walk), people)
    assert got.select("mvpa_minutes", "valid_days", "status").row(0) == (mvpa, 4, status)


@pytest.mark.parametrize(
    ("wear", "valid_days", "status"), [(599, 3, "insufficient"), (600, 4, "met")]
)
def test_valid_day_edge_decides_sufficiency(wear: int, valid_days: int, status: str) -> None:
    people = roster([{"participant_id": "v", "timezone": "UTC"}])
    fourth_day = block("v", utc(2026, 5, 7, 6, 0), wear, heart_rate_bpm=70.0, intensity="sedentary")
    walk = block("v", utc(2026, 5, 5, 17, 0), 90, heart_rate_bpm=130.0, intensity="vigorous")
    got = weekly(minutes(worn_days("v", "UTC", date(2026, 5, 4), 3), fourth_day, walk), people)
    assert got.select("valid_days", "status").row(0) == (valid_days, status)


def test_study_relative_weeks_start_on_start_date() -> None:
    config = StudyConfig.model_validate({"study": {"week_start": "study_relative"}})
    people = roster([{"participant_id": "s", "timezone": "UTC", "start_date": date(2026, 5, 6)}])
    mins = minutes(
        block("s", utc(2026, 5, 12, 23, 50), 20, heart_rate_bpm=130.0, intensity="moderate"),
    )
    got = weekly(mins, people, config=config)
    assert got.select("week_start", "mvpa_minutes").rows() == [
        (date(2026, 5, 6), 10),
        (date(2026, 5, 13), 10),
    ]


def test_device_offsets_follow_a_traveller_only_when_enabled() -> None:
    people = roster([{"participant_id": "t", "timezone": "Europe/Oslo"}])
    # Sunday 7 June 2026 20:00 UTC: 22:00 in Oslo (Sunday), 06:00 Monday in Brisbane (+600).
    mins = minutes(
        block(
            "t",
            utc(2026, 6, 7, 20, 0),
            30,
            heart_rate_bpm=130.0,
            intensity="moderate",
            utc_offset_minutes=600,
        )
    )
    home = weekly(mins, people)
    away = weekly(
        mins, people, config=StudyConfig.model_validate({"study": {"use_device_offsets": True}})
    )
    assert home.select("week_start", "mvpa_minutes").rows() == [(date(2026, 6, 1), 30)]
    assert away.select("week_start", "mvpa_minutes").rows() == [(date(2026, 6, 8), 30)]


def test_weekly_columns_follow_the_canonical_schema() -> None:
    from config.schema import WEEKLY

    people = roster([{"participant_id": "c", "timezone": "UTC"}])
    got = weekly(minutes(block("c", utc(2026, 5, 5, 10, 0), 5, heart_rate_bpm=70.0)), people)
    assert got.columns == WEEKLY.names
    assert got["config_hash"].item() == CONFIG.hash()
    assert got.schema == pl.from_arrow(WEEKLY.empty_table()).schema  # type: ignore[union-attr]


def test_daily_totals_split_over_rows_of_one_source_add_up() -> None:
    """Fitbit Takeout JSON keeps one file per series, so one day arrives as several rows."""
    people = roster([{"participant_id": "s", "timezone": "UTC"}])
    day = date(2026, 5, 4)
    parts = [
        {"moderate_minutes": 25},
        {"vigorous_minutes": 40},
        {"light_minutes": 200},
        {"sedentary_minutes": 500},
    ]
    totals = daily_totals(
        [{"participant_id": "s", "local_date": day, "source": "fitbit_takeout", **p} for p in parts]
    )
    got = weekly(minutes(), people, totals)
    assert got.select("moderate_minutes", "vigorous_minutes", "wear_minutes", "valid_days").row(
        0
    ) == (
        25,
        40,
        765,
        1,
    )
