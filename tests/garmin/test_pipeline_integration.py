"""A Garmin export through the real ingest pipeline: every archive member lands in the manifest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor
from pipeline.demo.fit_files import activity_bytes, write_monitoring_days
from pipeline.demo.garmin_files import write_garmin_export

from .fixtures import (
    OSLO_SESSIONS,
    UDS_NAME,
    ZIP_SLIP_PATH,
    build_garmin_export,
    oslo_dst_truth,
    uds_bytes,
)

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


def test_uds_days_and_monitoring_fit_minutes_land_as_separate_sources(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    """The same three days come as Garmin daily totals and as wellness FIT minutes; both are
    kept, under their own source, for the features layer to count once."""
    truth = oslo_dst_truth()
    wellness = write_monitoring_days(truth, tmp_path / "fit", device_serial=3_900_000_009)
    fit_files = {f"DI_CONNECT/DI-Connect-Wellness/{p.name}": p.read_bytes() for p in wellness}
    export = write_garmin_export(
        truth, OSLO_SESSIONS, fit_files, tmp_path / "export.zip", timezone="Europe/Oslo"
    )
    ingestor.ingest("P09", [export])

    garmin_days = (
        ingestor.lake.scan("daily_totals")
        .filter(pl.col("source") == "garmin_export")
        .collect()
        .sort("local_date")
    )
    minutes = ingestor.lake.scan("minutes").collect()
    assert garmin_days.select("moderate_minutes", "vigorous_minutes").rows() == [
        (12, 3),
        (0, 10),
        (5, 0),
    ]
    assert set(minutes["source"]) == {"fit_monitoring"}
    assert len(wellness) == 3
    minute_dates = minutes.select(
        (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))).dt.date()
    ).to_series()
    assert (
        set(minute_dates)
        == set(garmin_days["local_date"])
        == {
            dt.date(2026, 3, 28),
            dt.date(2026, 3, 29),
            dt.date(2026, 3, 30),
        }
    )
    assert minutes.height == truth.height


def test_a_fit_file_already_ingested_is_not_read_again_from_the_export(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    truth = oslo_dst_truth()
    start, end, sport = OSLO_SESSIONS.row(0)
    run = activity_bytes(truth, start, end, sport)
    loose = tmp_path / "run.fit"
    loose.write_bytes(run)
    ingestor.ingest("P09", [loose])

    export = write_garmin_export(
        truth, OSLO_SESSIONS, {"demo_1.fit": run}, tmp_path / "export.zip", timezone="Europe/Oslo"
    )
    report = ingestor.ingest("P09", [export])

    assert not any(o.path.endswith("demo_1.fit") and o.new for o in report.outcomes)
    sessions = ingestor.lake.scan("sessions").collect()
    assert sessions.group_by("source").len().sort("source").rows() == [
        ("fit_activity", 1),
        ("garmin_export", 1),
    ]
