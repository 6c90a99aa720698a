"""A Garmin export through the real ingest pipeline: every archive member lands in the manifest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor

from .fixtures import UDS_NAME, ZIP_SLIP_PATH, build_garmin_export, uds_bytes

FAKE_FIT = b"\x0e\x10\x43\x08\x00\x00\x00\x00.FIT\x00\x00"


@pytest.fixture()
def ingestor(tmp_path: Path) -> Ingestor:
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P09"], "timezone": ["Europe/Oslo"]}),
        tmp_path / "study" / "roster.csv",
    )
    return Ingestor(open_study(tmp_path / "study"))


def test_manifest_accounts_for_every_member_and_rows_land(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    export = build_garmin_export(
        tmp_path, fit_files={"1_ACTIVITY.fit": FAKE_FIT}, corrupt_nested=True, zip_slip=True
    )
    report = ingestor.ingest("P09", [export])

    by_path = {o.path.removeprefix(f"{export}!/"): o for o in report.outcomes}
    upload = "DI_CONNECT/DI-Connect-Uploaded-Files"
    assert set(by_path) == {
        str(export),
        f"DI_CONNECT/DI-Connect-Aggregator/{UDS_NAME}",
        "DI_CONNECT/DI-Connect-Fitness/participant_0_summarizedActivities.json",
        "DI_CONNECT/DI-Connect-User/user_profile.json",
        f"{upload}/UploadedFiles_0-_Part1.zip",
        f"{upload}/UploadedFiles_0-_Part1.zip!/1_ACTIVITY.fit",
        f"{upload}/UploadedFiles_1-_Part2.zip",
        ZIP_SLIP_PATH,
    }
    uds = by_path[f"DI_CONNECT/DI-Connect-Aggregator/{UDS_NAME}"]
    assert (uds.kind, uds.status, uds.rows) == ("garmin_uds", "ok", {"daily_totals": 3})
    assert by_path[
        "DI_CONNECT/DI-Connect-Fitness/participant_0_summarizedActivities.json"
    ].rows == {"sessions": 2}
    assert by_path[f"{upload}/UploadedFiles_1-_Part2.zip"].status == "quarantined"
    assert by_path[ZIP_SLIP_PATH].status == "quarantined"

    days = ingestor.lake.scan("daily_totals").collect().sort("local_date")
    assert days["local_date"].to_list() == [
        dt.date(2026, 3, 28),
        dt.date(2026, 3, 29),
        dt.date(2026, 3, 30),
    ]
    assert days["vigorous_minutes"].to_list() == [14, 31, 0]
    assert set(days["source"]) == {"garmin_export"}
    assert days["file_id"].n_unique() == 1 and days["file_id"][0] == uds.file_id
    sessions = ingestor.lake.scan("sessions").collect()
    assert sorted(sessions["utc_offset_minutes"].to_list()) == [60, 120]


def test_ingesting_the_same_export_twice_adds_nothing(tmp_path: Path, ingestor: Ingestor) -> None:
    export = build_garmin_export(tmp_path, "old", packed=False)
    first = ingestor.ingest("P09", [export])
    second = ingestor.ingest("P09", [export])

    assert first.new_files > 0
    assert second.new_files == 0
    assert ingestor.lake.scan("daily_totals").collect().height == 3


def test_a_loose_daily_summary_file_is_read_on_its_own(tmp_path: Path, ingestor: Ingestor) -> None:
    loose = tmp_path / UDS_NAME
    loose.write_bytes(uds_bytes())
    (outcome,) = ingestor.ingest("P09", [loose]).outcomes
    assert (outcome.kind, outcome.status, outcome.rows) == ("garmin_uds", "ok", {"daily_totals": 3})
