"""UDSFile days into daily_totals: clock minutes, offsets across DST, and refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pyarrow as pa
import pytest

from config.conform import conform
from config.schema import DAILY_TOTALS
from ingest.contract import ReadContext
from ingest.garmin.daily_summaries import read_daily_summaries
from ingest.garmin.json_records import GarminFormatError

from .fixtures import OSLO_DST_DAYS, uds_bytes, uds_day

NAME = "DI_CONNECT/DI-Connect-Aggregator/UDSFile_2026-03-28_2026-07-05.json"
CTX = ReadContext(participant_id="P09", file_id="f" * 64, path="export.zip")


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_oslo_days_across_dst_keep_clock_minutes_and_start_of_day_offsets() -> None:
    result = read_daily_summaries(uds_bytes(), NAME, CTX)

    assert (result.kind, result.status, result.reason) == ("garmin_uds", "ok", None)
    rows = _rows(result.tables["daily_totals"])
    assert [r["local_date"] for r in rows] == [
        dt.date(2026, 3, 28),
        dt.date(2026, 3, 29),
        dt.date(2026, 3, 30),
    ]
    assert [r["utc_offset_minutes"] for r in rows] == [60, 60, 120]
    assert [(r["moderate_minutes"], r["vigorous_minutes"]) for r in rows] == [
        (22, 14),
        (0, 31),
        (7, 0),
    ]
    assert [r["steps"] for r in rows] == [9_120, 12_004, 4_410]
    assert [r["resting_heart_rate_bpm"] for r in rows] == [55.0, 53.0, None]
    assert [(r["min_heart_rate_bpm"], r["max_heart_rate_bpm"]) for r in rows] == [
        (48, 160),
        (46, 178),
        (None, None),
    ]
    assert {r["source"] for r in rows} == {"garmin_export"}
    assert {r["participant_id"] for r in rows} == {"P09"}
    assert result.notes["offset_changes_within_day"] == ["2026-03-29"]
    assert result.notes["utc_offsets_minutes"] == [60, 120]


def test_vigorous_minutes_are_never_doubled() -> None:
    """Garmin's goal figure would be 22 + 2 x 14 = 50; irisin stores 22 and 14."""
    rows = _rows(
        read_daily_summaries(uds_bytes(OSLO_DST_DAYS[:1]), NAME, CTX).tables["daily_totals"]
    )
    assert rows[0]["moderate_minutes"] + rows[0]["vigorous_minutes"] == 36


def test_table_conforms_to_canonical_schema_once_pipeline_adds_file_id() -> None:
    table = read_daily_summaries(uds_bytes(), NAME, CTX).tables["daily_totals"]
    table = table.append_column("file_id", pa.array(["f" * 64] * table.num_rows))
    conformed = conform(table, DAILY_TOTALS)
    assert conformed.schema.equals(DAILY_TOTALS)
    assert conformed.column("utc_offset_minutes").type == pa.int16()


def test_a_day_with_under_ten_intensity_minutes_proves_the_device_counts_single_minutes() -> None:
    """30 March has 7 moderate minutes, impossible under a 10-minute bout rule."""
    result = read_daily_summaries(uds_bytes(), NAME, CTX)
    assert set(result.tables["daily_totals"].column("bouted").to_pylist()) == {False}
    assert result.notes["days_with_fewer_minutes_than_a_bout"] == 1


def test_without_such_evidence_days_are_marked_bouted() -> None:
    result = read_daily_summaries(uds_bytes(OSLO_DST_DAYS[:2]), NAME, CTX)
    assert result.tables["daily_totals"].column("bouted").to_pylist() == [True, True]
    assert result.notes["bouted"] is True


def test_missing_wellness_times_take_the_roster_zone_offset_at_local_midnight() -> None:
    days = [{k: v for k, v in d.items() if not k.startswith("wellness")} for d in OSLO_DST_DAYS]
    with_zone = read_daily_summaries(
        uds_bytes(days), NAME, ReadContext("P09", "f", "x", timezone="Europe/Oslo")
    )
    without_zone = read_daily_summaries(uds_bytes(days), NAME, CTX)

    assert with_zone.tables["daily_totals"].column("utc_offset_minutes").to_pylist() == [
        60,
        60,
        120,
    ]
    assert with_zone.notes["days_offset_from_roster_timezone"] == 3
    assert without_zone.tables["daily_totals"].column("utc_offset_minutes").to_pylist() == [
        None,
        None,
        None,
    ]
    assert without_zone.notes["days_without_utc_offset"] == 3


def test_numbers_written_as_text_are_read_and_junk_is_counted() -> None:
    day = dict(OSLO_DST_DAYS[0], totalSteps="9120", restingHeartRate="n/a")
    result = read_daily_summaries(uds_bytes([day]), NAME, CTX)

    row = _rows(result.tables["daily_totals"])[0]
    assert (row["steps"], row["resting_heart_rate_bpm"]) == (9_120, None)
    assert result.status == "ok"
    assert result.notes["unreadable_values"] == {"restingHeartRate": 1}
    assert result.notes["losses"] == ["1 unreadable value(s) of 'restingHeartRate' read as null"]


def test_days_without_calendar_date_are_dropped_and_counted() -> None:
    undated = {k: v for k, v in OSLO_DST_DAYS[1].items() if k != "calendarDate"}
    result = read_daily_summaries(
        uds_bytes([OSLO_DST_DAYS[0], undated, OSLO_DST_DAYS[2]]), NAME, CTX
    )

    assert result.status == "ok" and result.notes["days_dropped_without_calendar_date"] == 1
    assert result.tables["daily_totals"].column("local_date").to_pylist() == [
        dt.date(2026, 3, 28),
        dt.date(2026, 3, 30),
    ]
    assert result.notes["losses"] == ["1 day(s) without a readable 'calendarDate' dropped"]


def test_impossible_values_become_null() -> None:
    day = dict(
        OSLO_DST_DAYS[0], moderateIntensityMinutes=-5, vigorousIntensityMinutes=1441, maxHeartRate=0
    )
    row = _rows(read_daily_summaries(uds_bytes([day]), NAME, CTX).tables["daily_totals"])[0]
    assert (row["moderate_minutes"], row["vigorous_minutes"], row["max_heart_rate_bpm"]) == (
        None,
        None,
        None,
    )


def test_day_without_wellness_data_is_marked_not_worn() -> None:
    day = dict(OSLO_DST_DAYS[0], includesWellnessData=False)
    rows = _rows(
        read_daily_summaries(uds_bytes([day, OSLO_DST_DAYS[1]]), NAME, CTX).tables["daily_totals"]
    )
    assert [r["worn"] for r in rows] == [False, None]


def test_duplicate_calendar_dates_keep_the_last() -> None:
    later = uds_day(
        "2026-03-28",
        start_gmt="2026-03-27T23:00:00.0",
        end_gmt="2026-03-28T23:00:00.0",
        end_local="2026-03-29T00:00:00.0",
        moderate=25,
        vigorous=14,
        steps=9_500,
    )
    result = read_daily_summaries(uds_bytes([OSLO_DST_DAYS[0], later]), NAME, CTX)
    assert _rows(result.tables["daily_totals"])[0]["moderate_minutes"] == 25
    assert result.notes["duplicate_days_dropped"] == 1


def test_empty_array_is_an_empty_ok_table() -> None:
    result = read_daily_summaries(b"[]", NAME, CTX)
    assert (result.status, result.tables["daily_totals"].num_rows, result.notes["days"]) == (
        "ok",
        0,
        0,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"calendarDate": "2026-03-28", ', f"{NAME}: not valid JSON"),
        (
            b'{"calendarDate": "2026-03-28"}',
            f"{NAME}: expected a JSON array of days, found a JSON dict",
        ),
        (b"[1, 2]", f"{NAME}: element 0 is a JSON int, expected an object"),
        (
            orjson.dumps([{"totalSteps": 10}, {"totalSteps": 11}]),
            f"{NAME}: required field 'calendarDate' is missing from all 2 days",
        ),
        (
            orjson.dumps([{"calendarDate": "28/03/2026"}]),
            f"{NAME}: no 'calendarDate' is a YYYY-MM-DD date",
        ),
    ],
)
def test_unreadable_files_raise_a_reason_naming_file_and_problem(data: bytes, message: str) -> None:
    with pytest.raises(GarminFormatError) as caught:
        read_daily_summaries(data, NAME, CTX)
    assert str(caught.value).startswith(message)


def test_an_ignored_field_changing_shape_does_not_cost_the_file() -> None:
    """bodyBattery as an object on one day and a list on the next, plus a number as text."""
    first = dict(OSLO_DST_DAYS[0], totalSteps="9120")
    second = dict(OSLO_DST_DAYS[1], bodyBattery=[60, 58])
    result = read_daily_summaries(uds_bytes([first, second]), NAME, CTX)
    assert result.status == "ok"
    assert result.tables["daily_totals"].column("steps").to_pylist() == [9_120, 12_004]


def test_a_byte_order_mark_does_not_cost_the_file() -> None:
    plain = read_daily_summaries(uds_bytes(list(OSLO_DST_DAYS)), NAME, CTX)
    marked = read_daily_summaries(b"\xef\xbb\xbf" + uds_bytes(list(OSLO_DST_DAYS)), NAME, CTX)
    assert marked.status == "ok" and marked.tables["daily_totals"].equals(
        plain.tables["daily_totals"]
    )


def test_one_damaged_day_costs_only_itself_and_a_cut_file_keeps_the_days_before() -> None:
    whole = read_daily_summaries(uds_bytes(), NAME, CTX)
    days = [orjson.dumps(d) for d in OSLO_DST_DAYS]
    # a stray byte inside the second day's object: that day cannot be read, the others can
    damaged = (
        b"[" + days[0] + b",\n" + days[1][:40] + b"\x00" + days[1][40:] + b",\n" + days[2] + b"]"
    )
    got = read_daily_summaries(damaged, NAME, CTX)
    assert got.status == "ok"
    dates = got.tables["daily_totals"].column("local_date").to_pylist()
    assert dates == [dt.date(2026, 3, 28), dt.date(2026, 3, 30)]
    assert got.notes["records_dropped"] == 1
    assert got.notes["records_dropped_examples"][0].startswith(
        f"byte {len(days[0]) + 3}: not a JSON record"
    )
    kept = whole.tables["daily_totals"].filter(
        pa.compute.is_in(whole.tables["daily_totals"]["local_date"], pa.array(dates))
    )
    assert got.tables["daily_totals"].equals(
        kept
    )  # the good days read exactly as in the whole file

    cut = read_daily_summaries(uds_bytes()[: len(days[0]) + 2 + len(days[1]) // 2], NAME, CTX)
    assert cut.status == "partial" and "ends mid-record" in (cut.reason or "")
    assert cut.tables["daily_totals"].column("local_date").to_pylist() == [dt.date(2026, 3, 28)]
