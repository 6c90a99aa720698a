"""Minute classification: method order, Karvonen with roster/profile/Tanaka limits, cadence, METs."""

from __future__ import annotations

import polars as pl
import pytest
from weekly_builders import block, minutes, profiles, roster, utc

from config.study import StudyConfig
from features.classify import METHODS, classify_minutes, heart_rate_limits
from features.wear import worn


def classify(
    mins: pl.DataFrame, people: pl.DataFrame, config: StudyConfig, profs: pl.DataFrame | None = None
):
    limits = heart_rate_limits((profs if profs is not None else profiles()).lazy(), people)
    out = classify_minutes(mins.lazy(), limits, config).collect()
    return list(
        zip(
            out["level"].to_list(),
            [None if c is None else METHODS[c] for c in out["method_code"]],
            strict=True,
        )
    )


def one(pid: str = "p", **values) -> pl.DataFrame:
    return minutes(block(pid, utc(2026, 5, 5, 10, 0), 1, **values))


def test_first_applicable_method_wins_in_configured_order() -> None:
    people = roster(
        [{"participant_id": "p", "timezone": "UTC", "resting_hr": 60.0, "max_hr": 180.0}]
    )
    row = one(intensity="light", heart_rate_bpm=140.0, steps=135, mets=4.0)
    assert classify(row, people, StudyConfig()) == [(1, "device")]
    order = StudyConfig.model_validate({"intensity": {"methods": ["heart_rate", "device"]}})
    assert classify(row, people, order) == [(3, "heart_rate")]  # (140 - 60) / 120 = 67 % HRR
    order = StudyConfig.model_validate({"intensity": {"methods": ["cadence"]}})
    assert classify(row, people, order) == [(3, "cadence")]
    order = StudyConfig.model_validate({"intensity": {"methods": ["mets", "cadence"]}})
    assert classify(row, people, order) == [(2, "mets")]


@pytest.mark.parametrize(
    ("hr", "level"), [(107.9, 1), (108.0, 2), (131.9, 2), (132.0, 3), (0.0, None), (None, None)]
)
def test_heart_rate_reserve_thresholds_with_roster_limits(
    hr: float | None, level: int | None
) -> None:
    # rest 60, max 180: reserve 120; 40 % -> 108 bpm, 60 % -> 132 bpm
    people = roster(
        [{"participant_id": "p", "timezone": "UTC", "resting_hr": 60.0, "max_hr": 180.0}]
    )
    config = StudyConfig.model_validate({"intensity": {"methods": ["heart_rate"]}})
    expected = (level, "heart_rate" if level is not None else None)
    assert classify(one(heart_rate_bpm=hr), people, config) == [expected]


def test_heart_rate_falls_back_to_profile_then_tanaka() -> None:
    config = StudyConfig.model_validate({"intensity": {"methods": ["heart_rate"]}})
    people = roster(
        [
            {"participant_id": "t", "timezone": "UTC", "birth_year": 1986, "resting_hr": 60.0},
            {"participant_id": "n", "timezone": "UTC", "birth_year": 1986},
        ]
    )
    profs = profiles(
        [
            {
                "participant_id": "p",
                "observed_utc": utc(2026, 1, 1),
                "resting_heart_rate_bpm": 50.0,
                "max_heart_rate_bpm": 190.0,
            },
            {
                "participant_id": "p",
                "observed_utc": utc(2026, 3, 1),
                "resting_heart_rate_bpm": 70.0,
            },
        ]
    )
    # profile p: rest 70 (latest), max 190 (latest known) -> 40 % at 118 bpm
    assert classify(one("p", heart_rate_bpm=118.0), people, config, profs) == [(2, "heart_rate")]
    assert classify(one("p", heart_rate_bpm=117.0), people, config, profs) == [(1, "heart_rate")]
    # roster t: age 40 in 2026 -> Tanaka max 180; rest 60 -> 60 % at 132 bpm
    assert classify(one("t", heart_rate_bpm=132.0), people, config) == [(3, "heart_rate")]
    assert classify(one("t", heart_rate_bpm=131.0), people, config) == [(2, "heart_rate")]
    # roster n: no resting heart rate anywhere -> the method does not apply
    assert classify(one("n", heart_rate_bpm=150.0), people, config) == [(None, None)]


def test_cadence_and_mets_thresholds() -> None:
    people = roster([])
    cadence = StudyConfig.model_validate({"intensity": {"methods": ["cadence"]}})
    got = [classify(one(steps=s), people, cadence)[0][0] for s in (0, 99, 100, 129, 130)]
    assert got == [1, 1, 2, 2, 3]
    mets = StudyConfig.model_validate({"intensity": {"methods": ["mets"]}})
    got = [classify(one(mets=m), people, mets)[0][0] for m in (1.0, 2.99, 3.0, 5.99, 6.0)]
    assert got == [1, 1, 2, 2, 3]


def test_unknown_device_label_falls_through_and_nothing_applicable_is_unclassified() -> None:
    people = roster([])
    assert classify(one(intensity="bogus", steps=120), people, StudyConfig()) == [(2, "cadence")]
    assert classify(one(intensity="bogus"), people, StudyConfig()) == [(None, None)]


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        ("heart_rate_present", {"heart_rate_bpm": 60.0}, True),
        ("heart_rate_present", {"steps": 50}, False),
        ("heart_rate_or_steps", {"steps": 50}, True),
        ("heart_rate_or_steps", {"steps": 0}, False),
        ("device", {"worn": False, "heart_rate_bpm": 60.0}, False),
        ("device", {"worn": True}, True),
        ("device", {"heart_rate_bpm": 60.0}, True),
    ],
)
def test_wear_rules(rule: str, values: dict, expected: bool) -> None:
    assert one(**values).select(worn(rule))["worn_by_rule"].item() is expected  # type: ignore[arg-type]
