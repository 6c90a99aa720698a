"""The Garmin bundle reader over whole exports: both layouts, packed or not, damage contained."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ingest.archive import open_bundle
from ingest.contract import Member, ReadContext
from ingest.garmin import looks_like_garmin_export, read_garmin_export

from .fixtures import (
    ABSOLUTE_PATH,
    DEEP_ZIP_PATH,
    OSLO_DST_DAYS,
    SYMLINK_PATH,
    UDS_FOLDER,
    UDS_NAME,
    UPLOAD_FOLDER,
    ZIP_SLIP_PATH,
    Layout,
    build_garmin_export,
    export_members,
    members_of,
    uds_bytes,
    write_export_zip,
)

CTX = ReadContext(participant_id="P08", file_id="e" * 64, path="garmin.zip")
FAKE_FIT = b"\x0e\x10\x43\x08\x00\x00\x00\x00.FIT\x00\x00"


def _uds_path(layout: Layout) -> str:
    return f"DI_CONNECT/{UDS_FOLDER[layout]}/{UDS_NAME}"


@pytest.mark.parametrize("layout", ["new", "old"])
@pytest.mark.parametrize("packed", [True, False], ids=["zip", "folder"])
def test_both_layouts_packed_or_unpacked_give_the_same_tables(
    tmp_path: Path, layout: Layout, packed: bool
) -> None:
    export = build_garmin_export(
        tmp_path, layout, packed=packed, fit_files={"1_ACTIVITY.fit": FAKE_FIT}
    )
    members = members_of(export)
    assert looks_like_garmin_export([m.path for m in members])

    results = read_garmin_export(members, CTX)

    assert sorted(results) == sorted(
        [
            _uds_path(layout),
            "DI_CONNECT/DI-Connect-Fitness/participant_0_summarizedActivities.json",
            "DI_CONNECT/DI-Connect-User/user_profile.json",
        ]
    )
    days = results[_uds_path(layout)].tables["daily_totals"]
    assert days.column("vigorous_minutes").to_pylist() == [14, 31, 0]
    sessions = results[
        "DI_CONNECT/DI-Connect-Fitness/participant_0_summarizedActivities.json"
    ].tables["sessions"]
    assert sessions.column("utc_offset_minutes").to_pylist() == [60, 120]
    assert results["DI_CONNECT/DI-Connect-User/user_profile.json"].status == "skipped"


@pytest.mark.parametrize("layout", ["new", "old"])
def test_reader_behind_the_archive_layer_ignores_nested_fit_and_survives_a_corrupt_nested_zip(
    tmp_path: Path, layout: Layout
) -> None:
    export = build_garmin_export(
        tmp_path,
        layout,
        fit_files={"1_ACTIVITY.fit": FAKE_FIT},
        corrupt_nested=True,
    )
    upload = f"DI_CONNECT/{UPLOAD_FOLDER[layout]}"
    with open_bundle(export) as bundle:
        paths = [m.path for m in bundle.members]
        results = read_garmin_export(bundle.members, CTX)
        refused = {r.path: r.reason for r in bundle.refusals}

    assert f"{upload}/UploadedFiles_0-_Part1.zip!/1_ACTIVITY.fit" in paths
    assert not any(p.endswith(".fit") for p in results)
    assert refused[f"{upload}/UploadedFiles_1-_Part2.zip"].startswith("corrupt zip archive")
    assert results[_uds_path(layout)].status == "ok"


@pytest.mark.parametrize(
    ("options", "path", "reason"),
    [
        ({"zip_slip": True}, ZIP_SLIP_PATH, "escapes the extraction folder: refused"),
        ({"absolute": True}, ABSOLUTE_PATH, "absolute path"),
        ({"symlink": True}, SYMLINK_PATH, "symlink"),
        (
            {"deep_nesting": 3},
            DEEP_ZIP_PATH + "!/level1.zip!/level2.zip",
            "zip nested deeper than 3 levels: refused",
        ),
    ],
)
def test_fixture_hostile_members_are_refused_and_the_export_still_reads(
    tmp_path: Path, options: dict[str, Any], path: str, reason: str
) -> None:
    export = build_garmin_export(tmp_path, **options)
    with open_bundle(export) as bundle:
        refused = {r.path: r.reason for r in bundle.refusals}
        results = read_garmin_export(bundle.members, CTX)
    assert reason in refused[path]
    assert results[_uds_path("new")].tables["daily_totals"].num_rows == 3


def test_a_malformed_member_is_quarantined_and_the_rest_still_lands(tmp_path: Path) -> None:
    members = export_members("new")
    broken = "DI_CONNECT/DI-Connect-Aggregator/UDSFile_2026-07-06_2026-10-13.json"
    members[broken] = b'[{"calendarDate": "2026-07-06", "totalSteps": 3'
    export = write_export_zip(tmp_path / "garmin.zip", members)

    results = read_garmin_export(members_of(export), CTX)

    assert results[broken].status == "quarantined"
    assert str(results[broken].reason).startswith(f"{broken}: not valid JSON")
    assert results[broken].tables == {}
    assert results[_uds_path("new")].tables["daily_totals"].num_rows == 3


def test_a_member_whose_bytes_cannot_be_read_is_quarantined() -> None:
    import zlib

    def damaged() -> bytes:  # what zipfile raises for a damaged deflate stream
        raise zlib.error("Error -3 while decompressing data: invalid stored block lengths")

    path = _uds_path("new")
    results = read_garmin_export([Member(path, 100, damaged)], CTX)
    assert results[path].status == "quarantined"
    assert (
        results[path].reason
        == f"{path}: bytes cannot be read (error: Error -3 while decompressing data: invalid stored block lengths)"
    )


def test_an_os_error_reading_a_member_is_raised_for_a_retry() -> None:
    def storage_away() -> bytes:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        read_garmin_export([Member(_uds_path("new"), 100, storage_away)], CTX)


def test_uds_days_overlapping_monitoring_fit_keep_their_own_source(tmp_path: Path) -> None:
    """A participant whose wellness FIT covers the same days: the Garmin reader leaves the FIT
    file to the FIT reader and reports its own daily totals unchanged; the features layer
    counts the overlap once."""
    export = build_garmin_export(tmp_path, wellness_fit_files={"2026-03-29_WELLNESS.fit": FAKE_FIT})
    members = members_of(export)
    assert "DI_CONNECT/DI-Connect-Wellness/2026-03-29_WELLNESS.fit" in [m.path for m in members]

    results = read_garmin_export(members, CTX)
    alone = read_garmin_export([Member(_uds_path("new"), 1, lambda: uds_bytes(OSLO_DST_DAYS))], CTX)

    assert "DI_CONNECT/DI-Connect-Wellness/2026-03-29_WELLNESS.fit" not in results
    days = results[_uds_path("new")].tables["daily_totals"]
    assert days.equals(alone[_uds_path("new")].tables["daily_totals"])
    assert set(days.column("source").to_pylist()) == {"garmin_export"}
    assert dt.date(2026, 3, 29) in days.column("local_date").to_pylist()


def test_members_are_loaded_only_when_recognised() -> None:
    loaded: list[str] = []

    def member(path: str, data: bytes) -> Member:
        def load() -> bytes:
            loaded.append(path)
            return data

        return Member(path, len(data), load)

    members = [
        member(_uds_path("new"), uds_bytes()),
        member("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip!/1.fit", FAKE_FIT),
        member("DI_CONNECT/DI-Connect-Wellness/sleep.json", b"[]"),
        member("DI_CONNECT/DI-Connect-User/user_profile.json", b"{}"),
    ]
    read_garmin_export(members, CTX)
    # The profile is read now (for its birth year); FIT uploads and unknown JSON are not loaded.
    assert loaded == [_uds_path("new"), "DI_CONNECT/DI-Connect-User/user_profile.json"]


def test_a_json_member_over_the_size_limit_is_held_unloaded_and_the_rest_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.garmin.reader as reader

    members = export_members("new")
    export = write_export_zip(tmp_path / "garmin.zip", members)
    whole = read_garmin_export(members_of(export), CTX)
    big = _uds_path("new")
    size = len(members[big])
    monkeypatch.setattr(reader, "MAX_JSON_BYTES", size - 1)
    loaded: list[str] = []
    guarded = [
        Member(m.path, m.size, (lambda m=m: loaded.append(m.path) or m.load()))
        for m in members_of(export)
    ]
    results = read_garmin_export(guarded, CTX)
    assert results[big].status == "quarantined" and big not in loaded
    assert results[big].reason == (
        f"{big}: {size / 2**20:,.0f} MiB, over the 0 MiB a Garmin JSON file may be (each is read "
        "whole); held unread so the run's memory stays bounded: ask for a fresh export"
    )
    for path, result in whole.items():  # every member under the limit reads exactly as before
        if path != big and len(members.get(path, b"")) < size:
            assert results[path].status == result.status, path
            for name, table in result.tables.items():
                assert results[path].tables[name].equals(table), (path, name)
