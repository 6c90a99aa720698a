"""The demo Garmin export carries the truth, and the reader gets it back."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from ingest.contract import ReadContext
from ingest.garmin import read_garmin_export
from pipeline.demo.garmin_files import write_garmin_export

from .fixtures import OSLO_SESSIONS, Layout, members_of, oslo_dst_truth

UTC = dt.UTC
CTX = ReadContext(participant_id="P09", file_id="e" * 64, path="demo.zip", timezone="Europe/Oslo")


def _read(path: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    results = read_garmin_export(members_of(path), CTX)
    (days,) = [
        r.tables["daily_totals"].to_pylist() for r in results.values() if "daily_totals" in r.tables
    ]
    (sessions,) = [
        r.tables["sessions"].to_pylist() for r in results.values() if "sessions" in r.tables
    ]
    return days, sessions


@pytest.mark.parametrize("layout", ["new", "old"])
def test_every_minute_device_reports_truth_clock_minutes(tmp_path: Path, layout: Layout) -> None:
    export = write_garmin_export(
        oslo_dst_truth(),
        OSLO_SESSIONS,
        {"1_ACTIVITY.fit": b"fit bytes"},
        tmp_path / "g.zip",
        layout=layout,
        timezone="Europe/Oslo",
    )
    days, sessions = _read(export)

    assert [d["local_date"] for d in days] == [
        dt.date(2026, 3, 28),
        dt.date(2026, 3, 29),
        dt.date(2026, 3, 30),
    ]
    assert [(d["moderate_minutes"], d["vigorous_minutes"]) for d in days] == [
        (12, 3),
        (0, 10),
        (5, 0),
    ]
    assert [d["steps"] for d in days] == [
        12 * 100 + 3 * 40 + 3 * 140 + 3 * 40,
        10 * 140 + 2 * 40,
        40 + 5 * 100,
    ]
    assert [d["utc_offset_minutes"] for d in days] == [
        60,
        60,
        120,
    ]  # midnight of 29 March is still CET
    assert [d["max_heart_rate_bpm"] for d in days] == [150.0, 150.0, 120.0]
    assert {d["bouted"] for d in days} == {
        False
    }  # 30 March's 5 minutes prove single-minute counting

    (run,) = sessions
    assert (run["start_utc"], run["end_utc"]) == (
        OSLO_SESSIONS["start_utc"][0],
        OSLO_SESSIONS["end_utc"][0],
    )
    assert (run["utc_offset_minutes"], run["sport"], run["timer_seconds"]) == (
        120,
        "running",
        600.0,
    )
    assert (
        run["moderate_minutes"],
        run["vigorous_minutes"],
        run["steps"],
        run["avg_heart_rate_bpm"],
    ) == (0, 10, 1400, 150.0)


def test_ten_minute_bout_device_drops_short_runs_and_reads_as_bouted(tmp_path: Path) -> None:
    export = write_garmin_export(
        oslo_dst_truth(),
        OSLO_SESSIONS,
        {},
        tmp_path / "g.zip",
        timezone="Europe/Oslo",
        bout_minutes=10,
    )
    days, _ = _read(export)
    assert [(d["moderate_minutes"], d["vigorous_minutes"]) for d in days] == [
        (12, 0),
        (0, 10),
        (0, 0),
    ]
    assert {d["bouted"] for d in days} == {True}


def test_without_a_zone_offsets_come_from_the_first_worn_minute(tmp_path: Path) -> None:
    export = write_garmin_export(oslo_dst_truth(), OSLO_SESSIONS, {}, tmp_path / "g.zip")
    days, _ = _read(export)
    assert [d["utc_offset_minutes"] for d in days] == [60, 120, 120]


def test_fit_files_land_in_nested_upload_zips_or_at_their_own_path(tmp_path: Path) -> None:
    fit = {
        "1_ACTIVITY.fit": b"a",
        "2_ACTIVITY.fit": b"b",
        "DI_CONNECT/DI-Connect-Wellness/3_WELLNESS.fit": b"c",
    }
    export = write_garmin_export(
        oslo_dst_truth(), OSLO_SESSIONS, fit, tmp_path / "g.zip", layout="old"
    )
    with zipfile.ZipFile(export) as outer:
        names = outer.namelist()
        nested = outer.read(
            "DI_CONNECT/DI-Connect-Fitness-Uploaded-Files/UploadedFiles_0-_Part1.zip"
        )
    assert "DI_CONNECT/DI-Connect-Wellness/3_WELLNESS.fit" in names
    assert "DI_CONNECT/DI-Connect-User/UDSFile_2026-03-28_2026-03-30.json" in names
    with zipfile.ZipFile(io.BytesIO(nested)) as inner:
        assert {n: inner.read(n) for n in inner.namelist()} == {
            "1_ACTIVITY.fit": b"a",
            "2_ACTIVITY.fit": b"b",
        }


def test_unpacked_export_reads_like_the_zip(tmp_path: Path) -> None:
    packed = write_garmin_export(
        oslo_dst_truth(), OSLO_SESSIONS, {}, tmp_path / "g.zip", timezone="Europe/Oslo"
    )
    folder = write_garmin_export(
        oslo_dst_truth(), OSLO_SESSIONS, {}, tmp_path / "g", timezone="Europe/Oslo", unpacked=True
    )
    assert _read(packed) == _read(folder)
