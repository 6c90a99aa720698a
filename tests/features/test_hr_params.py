"""Heart-rate-reserve parameters from the best source at hand, recorded as ``hr_params``."""

from __future__ import annotations

from datetime import date, timedelta

from weekly_builders import block, daily_totals, minutes, profiles, roster, utc

from config.study import StudyConfig
from features.classify import heart_rate_limits
from features.weekly import weekly_table
from models.heart_rate import heart_rate_gaps

DEFAULT = StudyConfig()
DAY = utc(2026, 5, 4)  # a Monday


def limits_of(people, profs=None, tots=None, mins=None) -> dict:
    got = heart_rate_limits(
        (profs if profs is not None else profiles()).lazy(),
        people,
        None if tots is None else tots.lazy(),
        None if mins is None else mins.lazy(),
    ).collect()
    return {r["participant_id"]: r for r in got.iter_rows(named=True)}


def test_roster_values_win() -> None:
    people = roster(
        [{"participant_id": "r", "timezone": "UTC", "resting_hr": 60.0, "max_hr": 180.0}]
    )
    profs = profiles(
        [{"participant_id": "r", "resting_heart_rate_bpm": 50.0, "max_heart_rate_bpm": 200.0}]
    )
    got = limits_of(people, profs)["r"]
    assert (got["resting_hr"], got["max_hr"], got["hr_params"]) == (60.0, 180.0, "roster")


def test_device_profile_when_the_roster_has_only_ids_and_zones() -> None:
    people = roster([{"participant_id": "d", "timezone": "UTC"}])
    profs = profiles(
        [
            {
                "participant_id": "d",
                "observed_utc": DAY,
                "resting_heart_rate_bpm": 52.0,
                "age_years": 40,
            }
        ]
    )
    got = limits_of(people, profs)["d"]
    assert got["resting_hr"] == 52.0 and got["max_hr"] is None
    assert got["tanaka_intercept_bpm"] == 208 + 0.7 * 1986  # born 2026 - 40
    assert got["hr_params"] == "device"


def test_daily_resting_heart_rate_and_roster_birth_year() -> None:
    # Fitbit's daily resting HR, median over days; max from Tanaka with the roster's birth year.
    people = roster([{"participant_id": "f", "timezone": "UTC", "birth_year": 1980}])
    tots = daily_totals(
        [
            {
                "participant_id": "f",
                "source": "fitbit_takeout",
                "local_date": date(2026, 5, d),
                "resting_heart_rate_bpm": rhr,
            }
            for d, rhr in (
                (4, 58.0),
                (5, 61.0),
                (6, 300.0),
                (7, 60.0),
            )  # 300 is implausible: ignored
        ]
    )
    got = limits_of(people, tots=tots)["f"]
    assert got["resting_hr"] == 60.0  # median of 58, 61 and 60
    assert got["tanaka_intercept_bpm"] == 208 + 0.7 * 1980
    assert got["hr_params"] == "device"


def test_resting_estimated_from_the_participants_own_minutes() -> None:
    people = roster([{"participant_id": "e", "timezone": "UTC", "birth_year": 1980}])
    # 1,000 minutes: 100 at 50 bpm (sleep), 900 at 80 bpm; the 5th percentile is 50.
    mins = minutes(
        block("e", DAY, 100, heart_rate_bpm=50.0),
        block("e", DAY + timedelta(hours=2), 900, heart_rate_bpm=80.0),
    )
    got = limits_of(people, mins=mins)["e"]
    assert (got["resting_hr"], got["hr_params"]) == (50.0, "estimated")
    # Too few minutes to estimate: no resting HR, no heart-rate method.
    short = limits_of(people, mins=block("e", DAY, 100, heart_rate_bpm=50.0))["e"]
    assert short["resting_hr"] is None and short["hr_params"] == "none"


def test_weekly_rows_record_the_parameters_used() -> None:
    people = roster(
        [
            {"participant_id": "r", "timezone": "UTC", "resting_hr": 60.0, "max_hr": 180.0},
            {"participant_id": "n", "timezone": "UTC"},
        ]
    )
    # HRR of 140 bpm with rest 60 / max 180 is 67 %: vigorous by heart rate.
    run = block("r", DAY + timedelta(hours=8), 30, heart_rate_bpm=140.0)
    # "n" has heart rate and a brisk walk but no maximum HR anywhere: cadence decides.
    walk = block("n", DAY + timedelta(hours=8), 30, heart_rate_bpm=140.0, steps=115)
    weekly = weekly_table(
        minutes(run, walk).lazy(),
        daily_totals([]).lazy(),
        profiles().lazy(),
        people,
        DEFAULT,
        config_hash="h",
    )
    rows = {r["participant_id"]: r for r in weekly.iter_rows(named=True)}
    assert (rows["r"]["vigorous_minutes"], rows["r"]["hr_params"], rows["r"]["methods"]) == (
        30,
        "roster",
        "heart_rate",
    )
    assert rows["r"]["share_heart_rate"] == 1.0 and rows["r"]["moderate_equivalent_minutes"] == 60
    assert (rows["n"]["moderate_minutes"], rows["n"]["hr_params"], rows["n"]["methods"]) == (
        30,
        "none",
        "cadence",
    )
    assert rows["n"]["share_cadence"] == 1.0 and rows["n"]["share_heart_rate"] == 0.0
    gaps = heart_rate_gaps(
        minutes(run, walk).lazy(), daily_totals([]).lazy(), profiles().lazy(), people
    )
    assert gaps["participant_id"].to_list() == ["n"]
    assert gaps["missing"].to_list() == ["max_hr"]
    assert "add birth_year (or max_hr) to roster.csv" in gaps["advice"].item()


def test_max_hr_from_the_birth_year_in_the_exports_account_profile() -> None:
    # Roster of id and zone only; the Fitbit Profile.csv said 1986 (only the year is stored), and
    # the device's daily resting HR is 60: max HR in 2026 is 208 - 0.7 x 40 = 180.
    people = roster([{"participant_id": "a", "timezone": "UTC"}])
    profs = profiles([{"participant_id": "a", "source": "fitbit_takeout", "birth_year": 1986}])
    tots = daily_totals(
        [
            {
                "participant_id": "a",
                "source": "fitbit_takeout",
                "local_date": date(2026, 5, 4),
                "resting_heart_rate_bpm": 60.0,
            }
        ]
    )
    got = limits_of(people, profs, tots)["a"]
    assert got["tanaka_intercept_bpm"] == 208 + 0.7 * 1986
    assert (got["resting_hr"], got["max_hr"], got["hr_params"]) == (60.0, None, "device")
    # 30 minutes at 140 bpm: HRR (140 - 60) / (180 - 60) = 67 %, vigorous by heart rate.
    run = block("a", DAY + timedelta(hours=8), 30, heart_rate_bpm=140.0)
    weekly = weekly_table(
        minutes(run).lazy(), tots.lazy(), profs.lazy(), people, DEFAULT, config_hash="h"
    )
    row = weekly.row(0, named=True)
    assert (row["vigorous_minutes"], row["hr_params"], row["methods"]) == (
        30,
        "device",
        "heart_rate",
    )
    # At 130 bpm the HRR is 58 %: moderate, so the year (not a default age) set the cut-offs.
    walk = block("a", DAY + timedelta(hours=8), 30, heart_rate_bpm=130.0)
    weekly = weekly_table(
        minutes(walk).lazy(), tots.lazy(), profs.lazy(), people, DEFAULT, config_hash="h"
    )
    assert weekly.select("moderate_minutes", "vigorous_minutes").row(0) == (30, 0)


def test_a_stated_birth_year_beats_one_derived_from_a_device_age() -> None:
    # FIT user_profile: age 40 in May 2026 (born 1985 or 1986, taken as 1986); the account
    # profile states 1985. The roster's birth year would beat both.
    people = roster([{"participant_id": "b", "timezone": "UTC", "resting_hr": 55.0}])
    profs = profiles(
        [
            {"participant_id": "b", "observed_utc": DAY, "age_years": 40},
            {"participant_id": "b", "source": "garmin_export", "birth_year": 1985},
        ]
    )
    got = limits_of(people, profs)["b"]
    assert got["tanaka_intercept_bpm"] == 208 + 0.7 * 1985
    assert got["hr_params"] == "device"
    with_roster = roster(
        [{"participant_id": "b", "timezone": "UTC", "resting_hr": 55.0, "birth_year": 1970}]
    )
    got = limits_of(with_roster, profs)["b"]
    assert (got["tanaka_intercept_bpm"], got["hr_params"]) == (208 + 0.7 * 1970, "roster")
