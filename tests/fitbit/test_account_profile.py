"""Fitbit's account Profile.csv: only the birth year reaches the lake, and it sets Tanaka's max HR."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.contract import Member
from ingest.fitbit import looks_like_fitbit_export, read_fitbit_export
from ingest.recognise import recognise
from tests.fitbit.helpers import ctx, members_of_folder

HEADER = (
    "id,full_name,first_name,last_name,display_name_setting,username,email_address,"
    "date_of_birth,child,country,state,city,timezone,locale,member_since,gender,height,weight"
)
ROW = (
    "AB12CD,Kari Nordmann,Kari,Nordmann,name,null,kari@example.org,1986-11-23,false,NO,null,"
    "null,Europe/Oslo,nb_NO,2019-03-01,FEMALE,168.0,61.0"
)


def _member(path: str, text: str) -> Member:
    data = text.encode()
    return Member(path, len(data), lambda: data)


@pytest.mark.parametrize(
    "path",
    [
        "Takeout/Fitbit/Your Profile/Profile.csv",
        "Takeout/Google Health/Your Profile/Profile.csv",
        "MyFitbitData/KariNordmann/Personal & Account/Profile.csv",
    ],
)
def test_birth_year_and_nothing_else_is_read(path: str) -> None:
    assert looks_like_fitbit_export([path])
    results = read_fitbit_export([_member(path, f"{HEADER}\n{ROW}\n")], ctx())
    result = results[path]
    assert (result.status, result.kind) == ("ok", "fitbit_account_profile")
    profile = result.tables["profiles"].to_pylist()
    assert profile == [
        {
            "source": "fitbit_takeout",
            "device": None,
            "observed_utc": None,
            "age_years": None,
            "resting_heart_rate_bpm": None,
            "max_heart_rate_bpm": None,
            "birth_year": 1986,
        }
    ]
    # No part of the date, the name or the address is kept anywhere in the result.
    kept = f"{profile} {result.notes} {result.reason}"
    for private in ("11-23", "1986-11", "Nordmann", "kari@example.org"):
        assert private not in kept


def test_columns_are_found_by_name_and_bad_dates_are_skipped_with_a_reason() -> None:
    moved = "id,full_name,email_address,gender,date_of_birth\nX,Y,y@example.org,MALE,1990-05-20\n"
    path = "Takeout/Fitbit/Your Profile/Profile.csv"
    got = read_fitbit_export([_member(path, moved)], ctx())[path]
    assert got.tables["profiles"].column("birth_year").to_pylist() == [1990]
    for date_text in ("null", "", "20/05/1990", "1990-02-30", "1850-01-01"):
        bad = read_fitbit_export(
            [_member(path, f"id,full_name,date_of_birth\nX,Y,{date_text}\n")], ctx()
        )
        assert bad[path].status == "skipped"
        assert (
            bad[path].reason == f"{path}: account profile, date_of_birth has no plausible ISO date"
        )
        assert not bad[path].tables


def test_a_profile_csv_outside_a_profile_folder_is_not_claimed() -> None:
    assert not looks_like_fitbit_export(["exports/Profile.csv"])
    assert read_fitbit_export([_member("exports/Profile.csv", f"{HEADER}\n{ROW}\n")], ctx()) == {}


def test_recognised_as_fitbit_by_its_header_not_as_fitabase() -> None:
    got = recognise("Takeout/Fitbit/Your Profile/Profile.csv", f"{HEADER}\n{ROW}\n".encode())
    assert got.family == "fitbit_takeout"
    assert "Fitbit account profile" in got.evidence


def test_read_from_a_legacy_archive_folder_beside_its_minute_data(tmp_path: Path) -> None:
    account = tmp_path / "KariNordmann" / "Personal & Account"
    account.mkdir(parents=True)
    (account / "Profile.csv").write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    results = read_fitbit_export(members_of_folder(tmp_path), ctx("Europe/Oslo"))
    assert results["KariNordmann/Personal & Account/Profile.csv"].tables["profiles"].column(
        "birth_year"
    ).to_pylist() == [1986]
