"""summarizedActivities into sessions: UTC starts, local offsets, durations in ms, refusals."""

from __future__ import annotations

import datetime as dt

import orjson
import pyarrow as pa
import pytest

from config.conform import conform
from config.schema import SESSIONS
from ingest.contract import ReadContext
from ingest.garmin.activities import read_summarized_activities
from ingest.garmin.json_records import GarminFormatError

from .fixtures import ACTIVITIES, activities_bytes

NAME = "DI_CONNECT/DI-Connect-Fitness/participant_0_summarizedActivities.json"
CTX = ReadContext(participant_id="P08", file_id="f" * 64, path="export.zip")
UTC = dt.UTC


def test_activities_either_side_of_dst_become_sessions() -> None:
    result = read_summarized_activities(activities_bytes(), NAME, CTX)

    assert (result.kind, result.status) == ("garmin_summarized_activities", "ok")
    run, ride = result.tables["sessions"].to_pylist()
    assert run["session_key"] == "21000000001"
    assert run["start_utc"] == dt.datetime(2026, 3, 28, 10, 0, tzinfo=UTC)
    assert run["end_utc"] == dt.datetime(
        2026, 3, 28, 10, 31, 40, tzinfo=UTC
    )  # elapsedDuration 1,900,000 ms
    assert run["timer_seconds"] == pytest.approx(1830.5)
    assert (run["utc_offset_minutes"], run["sport"]) == (60, "running")
    assert (run["avg_heart_rate_bpm"], run["max_heart_rate_bpm"]) == (151.0, 176.0)
    assert (run["moderate_minutes"], run["vigorous_minutes"], run["steps"]) == (8, 14, 5_210)

    assert ride["start_utc"] == dt.datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
    assert ride["end_utc"] == dt.datetime(
        2026, 3, 29, 10, 45, tzinfo=UTC
    )  # no elapsedDuration: timer duration
    assert (ride["utc_offset_minutes"], ride["sport"], ride["steps"]) == (120, "cycling", None)
    assert (ride["moderate_minutes"], ride["vigorous_minutes"]) == (0, 31)
    assert result.notes["sports"] == ["cycling", "running"]


def test_sessions_conform_once_pipeline_adds_file_id() -> None:
    table = read_summarized_activities(activities_bytes(), NAME, CTX).tables["sessions"]
    table = table.append_column("file_id", pa.array(["f" * 64] * table.num_rows))
    assert conform(table, SESSIONS).schema.equals(SESSIONS)


def test_activity_type_as_object_and_a_bare_array_are_accepted() -> None:
    activity = dict(ACTIVITIES[0], activityType={"typeId": 1, "typeKey": "trail_running"})
    result = read_summarized_activities(orjson.dumps([activity]), NAME, CTX)
    assert result.tables["sessions"].column("sport").to_pylist() == ["trail_running"]


def test_several_export_objects_are_concatenated() -> None:
    data = orjson.dumps(
        [
            {"summarizedActivitiesExport": [ACTIVITIES[0]]},
            {"summarizedActivitiesExport": [ACTIVITIES[1]]},
        ]
    )
    result = read_summarized_activities(data, NAME, CTX)
    assert result.tables["sessions"].column("session_key").to_pylist() == [
        "21000000001",
        "21000000002",
    ]


def test_activity_without_begin_timestamp_is_dropped_and_counted() -> None:
    undated = {k: v for k, v in ACTIVITIES[1].items() if k != "beginTimestamp"}
    result = read_summarized_activities(activities_bytes([ACTIVITIES[0], undated]), NAME, CTX)
    assert result.status == "ok"
    assert result.tables["sessions"].num_rows == 1
    assert result.notes["losses"] == ["1 activity without 'beginTimestamp' dropped"]


def test_activity_without_id_is_keyed_by_its_start() -> None:
    anonymous = {k: v for k, v in ACTIVITIES[0].items() if k != "activityId"}
    result = read_summarized_activities(activities_bytes([anonymous]), NAME, CTX)
    assert result.tables["sessions"].column("session_key").to_pylist() == ["2026-03-28T10:00:00Z"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[{", f"{NAME}: not valid JSON"),
        (
            orjson.dumps([{"activities": []}]),
            f'{NAME}: expected a JSON array holding {{"summarizedActivitiesExport": [...]}}, found a JSON list',
        ),
        (
            orjson.dumps([{"summarizedActivitiesExport": {"a": 1}}]),
            f"{NAME}: 'summarizedActivitiesExport' is a JSON dict",
        ),
        (
            orjson.dumps([{"summarizedActivitiesExport": [{"activityId": 1}, {"activityId": 2}]}]),
            f"{NAME}: required field 'beginTimestamp' is missing from all 2 activities",
        ),
    ],
)
def test_unreadable_files_raise_a_reason_naming_file_and_problem(data: bytes, message: str) -> None:
    with pytest.raises(GarminFormatError) as caught:
        read_summarized_activities(data, NAME, CTX)
    assert str(caught.value).startswith(message)


def test_one_damaged_activity_costs_only_itself() -> None:
    whole = read_summarized_activities(activities_bytes(), NAME, CTX)
    first, second = (orjson.dumps(a) for a in ACTIVITIES)
    damaged = b'[{"summarizedActivitiesExport":[' + first[:-1] + b',"x":}' + b"," + second + b"]}]"
    got = read_summarized_activities(damaged, NAME, CTX)
    assert got.status == "ok" and got.notes["activities"] == 1
    assert got.notes["records_dropped"] == 1
    assert got.tables["sessions"].equals(whole.tables["sessions"].slice(1, 1))
