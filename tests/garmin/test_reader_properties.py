"""Properties of the Garmin reader: no input makes it raise, and day order does not matter."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.contract import Member, ReadContext
from ingest.garmin import read_garmin_export

from .fixtures import ACTIVITIES, OSLO_DST_DAYS, activities_bytes, uds_bytes

CTX = ReadContext(participant_id="P01", file_id="e" * 64, path="x.zip", timezone="Europe/Oslo")
UDS = "DI_CONNECT/DI-Connect-Aggregator/UDSFile_a.json"
ACTS = "DI_CONNECT/DI-Connect-Fitness/a_0_summarizedActivities.json"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
garmin_keys = st.sampled_from(sorted({*OSLO_DST_DAYS[0], *ACTIVITIES[0]}))
garmin_like_objects = st.dictionaries(garmin_keys, json_values, max_size=8)


def _read(data: bytes) -> dict[str, Any]:
    members = [Member(UDS, len(data), lambda: data), Member(ACTS, len(data), lambda: data)]
    return read_garmin_export(members, CTX)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.lists(garmin_like_objects, max_size=5) | json_values)
def test_any_json_yields_a_result_never_an_exception(document: Any) -> None:
    for wrapped in (document, [{"summarizedActivitiesExport": document}]):
        results = _read(orjson.dumps(wrapped))
        for path, result in results.items():
            assert result.status in {"ok", "partial", "quarantined"}
            if result.status == "quarantined":
                assert result.reason is not None and result.reason.startswith(path)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_yield_a_result_never_an_exception(data: bytes) -> None:
    assert {r.status for r in _read(data).values()} <= {"ok", "partial", "quarantined"}


@settings(max_examples=20, deadline=None)
@given(st.randoms(use_true_random=False))
def test_order_of_days_and_activities_does_not_change_the_tables(rng: random.Random) -> None:
    days, acts = list(OSLO_DST_DAYS), list(ACTIVITIES)
    rng.shuffle(days)
    rng.shuffle(acts)
    shuffled = read_garmin_export(
        [Member(UDS, 1, lambda: uds_bytes(days)), Member(ACTS, 1, lambda: activities_bytes(acts))],
        CTX,
    )
    ordered = read_garmin_export(
        [Member(UDS, 1, uds_bytes), Member(ACTS, 1, activities_bytes)], CTX
    )
    assert shuffled[UDS].tables["daily_totals"].equals(ordered[UDS].tables["daily_totals"])
    assert shuffled[ACTS].tables["sessions"].equals(ordered[ACTS].tables["sessions"])


def test_epoch_far_outside_any_device_clock_is_treated_as_missing() -> None:
    """Found by the property test: polars panics formatting a datetime beyond year 262143."""
    doc = [
        {
            "summarizedActivitiesExport": [
                {"activityId": 1, "beginTimestamp": 2**62, "duration": 60_000},
                {
                    "activityId": 2,
                    "beginTimestamp": 1_772_900_000_000,
                    "startTimeLocal": 1_772_903_600_000,
                    "duration": 60_000,
                },
            ]
        }
    ]
    data = orjson.dumps(doc)
    result = read_garmin_export([Member(ACTS, len(data), lambda: data)], CTX)[ACTS]
    assert result.status == "ok" and result.notes["activities_dropped_without_begin_timestamp"] == 1
    sessions = result.tables["sessions"]
    assert sessions.column("session_key").to_pylist() == ["2"]
    assert sessions.column("utc_offset_minutes").to_pylist() == [60]
