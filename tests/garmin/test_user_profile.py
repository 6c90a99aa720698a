"""Garmin user_profile.json: the year of birthDate becomes a profiles row, nothing else is kept."""

from __future__ import annotations

import orjson
import pytest

from ingest.contract import Member, ReadContext
from ingest.garmin import read_garmin_export

CTX = ReadContext(participant_id="P08", file_id="e" * 64, path="garmin.zip")
PATH = "DI_CONNECT/DI-Connect-User/user_profile.json"


def _read(document: object) -> object:
    data = orjson.dumps(document)
    return read_garmin_export([Member(PATH, len(data), lambda: data)], CTX)[PATH]


def test_birth_year_of_birth_date() -> None:
    got = _read(
        {"userName": "kari", "firstName": "Kari", "gender": "FEMALE", "birthDate": "1985-06-15"}
    )
    assert got.status == "ok"
    assert got.tables["profiles"].to_pylist() == [
        {
            "source": "garmin_export",
            "device": None,
            "observed_utc": None,
            "age_years": None,
            "resting_heart_rate_bpm": None,
            "max_heart_rate_bpm": None,
            "birth_year": 1985,
        }
    ]
    assert "06-15" not in f"{got.notes} {got.reason}"


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({"userName": "kari"}, "no birthDate"),
        ({"birthDate": None}, "no birthDate"),
        ({"birthDate": "15.06.1985"}, "birthDate is not an ISO date of a plausible year"),
    ],
)
def test_a_profile_without_a_usable_birth_date_is_skipped_with_its_reason(
    document: object, why: str
) -> None:
    got = _read(document)
    assert (got.status, got.reason) == ("skipped", f"{PATH}: personal profile, {why}")


def test_damaged_profile_is_quarantined_naming_the_file() -> None:
    data = b'{"birthDate": "1985-'
    got = read_garmin_export([Member(PATH, len(data), lambda: data)], CTX)[PATH]
    assert got.status == "quarantined" and got.reason.startswith(f"{PATH}: not JSON")
