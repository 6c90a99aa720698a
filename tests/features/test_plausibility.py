"""Impossible minute values are kept out of classification and wear, and counted per rule and week."""

from __future__ import annotations

from datetime import date, timedelta

from weekly_builders import block, daily_totals, minutes, profiles, roster, utc

from config.study import StudyConfig
from features.plausibility import exclusions_table
from features.weekly import weekly_table

DEFAULT = StudyConfig()
PEOPLE = roster([{"participant_id": "x", "timezone": "UTC", "resting_hr": 60.0, "max_hr": 180.0}])
DAY = utc(2026, 5, 4, 8)  # a Monday


def run(*blocks):
    mins = minutes(*blocks)
    weekly = weekly_table(
        mins.lazy(), daily_totals([]).lazy(), profiles().lazy(), PEOPLE, DEFAULT, config_hash="h"
    )
    return weekly, exclusions_table(mins.lazy(), PEOPLE, DEFAULT)


def test_impossible_heart_rate_is_excluded_and_counted() -> None:
    calm = block("x", DAY, 60, heart_rate_bpm=70.0)
    spikes = block("x", DAY + timedelta(hours=1), 20, heart_rate_bpm=250.0)  # 20 minutes at 250 bpm
    weekly, excluded = run(calm, spikes)
    row = weekly.row(0, named=True)
    # 250 bpm would be vigorous (158 % of reserve) and worn; excluded, it is neither.
    assert (row["vigorous_minutes"], row["wear_minutes"]) == (0, 60)
    assert excluded.rows() == [("x", date(2026, 5, 4), "heart_rate_out_of_range", 20)]


def test_impossible_steps_and_runner_cadence() -> None:
    sprint = block("x", DAY, 5, steps=400)  # over 300 a minute: ignored
    fast = block(
        "x", DAY + timedelta(minutes=10), 7, steps=230
    )  # over 210: not a cadence-moderate minute
    walk = block("x", DAY + timedelta(minutes=30), 12, steps=115)
    weekly, excluded = run(sprint, fast, walk)
    assert weekly.row(0, named=True)["moderate_minutes"] == 12
    assert excluded.select("rule", "minutes").rows() == [
        ("cadence_over_210", 7),
        ("steps_over_300", 5),
    ]


def test_a_minute_counts_once_per_rule() -> None:
    spikes = block("x", DAY, 10, heart_rate_bpm=10.0)
    _, excluded = run(spikes, spikes, block("x", DAY, 10, "fit_activity", heart_rate_bpm=300.0))
    assert excluded.rows() == [("x", date(2026, 5, 4), "heart_rate_out_of_range", 10)]
