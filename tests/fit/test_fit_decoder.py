"""The columnar decoder on files written with known contents (ingest.fit.writer)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.fit.basetypes import BASE_TYPES
from ingest.fit.decode import decode_fit
from ingest.fit.writer import FieldLayout, FitWriter, chain

T0 = 1_000_000_000
"""A FIT time (2021-09-08): its low 16 bits are 0xCA00."""


def _file_id(w: FitWriter, file_type: int = 32) -> None:
    w.define(0, "file_id", ["type", "manufacturer", "serial_number", "time_created"])
    w.write(0, [file_type, 1, 1234, T0])


@pytest.mark.parametrize("big_endian", [False, True])
def test_values_of_every_numeric_base_type_round_trip(big_endian: bool) -> None:
    w = FitWriter(big_endian=big_endian)
    layouts = [
        FieldLayout(i, BASE_TYPES[b])
        for i, b in enumerate((0x01, 0x02, 0x83, 0x84, 0x85, 0x86, 0x88, 0x89, 0x8E, 0x8F))
    ]
    w.define(0, 0xFF00, layouts)  # a manufacturer-range message: raw columns named unknown_<n>
    row = [-5, 200, -30000, 60000, -2_000_000_000, 4_000_000_000, 1.5, -2.25, -(2**40), 2**60]
    w.write(0, row)
    table = decode_fit(w.to_bytes())["unknown_65280"]
    got = [table.columns[f"unknown_{i}"].values[0].item() for i in range(len(row))]
    assert got == row
    assert all(table.columns[f"unknown_{i}"].valid[0] for i in range(len(row)))


@pytest.mark.parametrize("big_endian", [False, True])
def test_invalid_sentinels_become_invalid_and_others_stay_valid(big_endian: bool) -> None:
    w = FitWriter(big_endian=big_endian)
    numbers = (
        0x00,
        0x01,
        0x02,
        0x83,
        0x84,
        0x85,
        0x86,
        0x88,
        0x89,
        0x0A,
        0x8B,
        0x8C,
        0x8E,
        0x8F,
        0x90,
    )
    w.define(0, 0xFF00, [FieldLayout(i, BASE_TYPES[b]) for i, b in enumerate(numbers)])
    w.write(0, [None] * len(numbers))
    w.write(0, [1] * len(numbers))
    table = decode_fit(w.to_bytes())["unknown_65280"]
    for i in range(len(numbers)):
        assert table.columns[f"unknown_{i}"].valid.tolist() == [False, True], (
            f"base type 0x{numbers[i]:02X}"
        )


def test_scale_offset_strings_and_arrays_follow_the_profile() -> None:
    w = FitWriter()
    w.define(0, "record", ["timestamp", "altitude", "speed", "heart_rate"])
    w.write(0, [T0, 2600, 3500, 150])
    w.define(1, "file_id", [("product_name", 8)])
    w.write(1, ["fenix"])
    w.define(2, "monitoring_info", ["timestamp", ("activity_type", 2), ("cycles_to_distance", 2)])
    w.write(2, [T0, [6, 1], [7560, None]])
    d = decode_fit(w.to_bytes())
    record = d["record"]
    assert record.columns["altitude"].values[0] == pytest.approx(2600 / 5 - 500)
    assert record.columns["enhanced_altitude"].values[0] == pytest.approx(
        20.0
    )  # component of altitude
    assert record.columns["speed"].values[0] == pytest.approx(3.5)
    assert record.columns["heart_rate"].values[0] == 150
    assert d["file_id"].columns["product_name"].values[0] == "fenix"
    info = d["monitoring_info"]
    assert info.columns["activity_type"].values[0].tolist() == [6, 1]
    assert info.columns["cycles_to_distance"].values[0][0] == pytest.approx(7560 / 5000)
    assert info.columns["cycles_to_distance"].valid[0].tolist() == [True, False]


def test_developer_fields_are_skipped_and_following_fields_still_line_up() -> None:
    w = FitWriter()
    w.define(0, "record", ["timestamp", "heart_rate"], developer_field_sizes=[4, 2])
    w.write(0, [T0, 120])
    w.write(0, [T0 + 1, 121])
    w.define(1, "record", ["timestamp", "heart_rate"])
    w.write(1, [T0 + 2, 122])
    d = decode_fit(w.to_bytes())
    assert d.status == "ok"
    assert d["record"].columns["heart_rate"].values.tolist() == [120, 121, 122]
    assert d["record"].time.tolist() == [T0, T0 + 1, T0 + 2]


def test_compressed_timestamp_headers_count_forward_from_the_last_time_and_wrap() -> None:
    w = FitWriter()
    w.define(0, "record", ["timestamp", "heart_rate"])
    w.write(0, [T0 + 28, 100])  # low 5 bits of T0 + 28 are 28
    w.define(1, "record", ["heart_rate"])
    w.write(1, [101], time_offset=30)  # +2 s
    w.write(1, [102], time_offset=3)  # wraps past 31: +5 s
    w.write(1, [103], time_offset=3)  # same offset: same second
    d = decode_fit(w.to_bytes())
    record = d["record"]
    assert record.time.tolist() == [T0 + 28, T0 + 30, T0 + 35, T0 + 35]
    assert record.columns["timestamp"].values.tolist() == [T0 + 28, T0 + 30, T0 + 35, T0 + 35]


def _monitoring_with_ts16(anchor: int, ts16_values: list[int]) -> list[int]:
    w = FitWriter()
    _file_id(w)
    w.define(1, "monitoring_info", ["timestamp", "local_timestamp"])
    w.write(1, [anchor, anchor + 3600])
    w.define(2, "monitoring", ["timestamp_16", "heart_rate"])
    for value in ts16_values:
        w.write(2, [value & 0xFFFF, 70])
    return decode_fit(w.to_bytes())["monitoring"].time.tolist()


def test_timestamp_16_goes_forward_across_the_16_bit_wrap() -> None:
    anchor = T0 + 0xFFFF - (T0 & 0xFFFF) - 10  # 10 s before the low 16 bits wrap
    assert _monitoring_with_ts16(anchor, [anchor + 60, anchor + 5000]) == [
        anchor + 60,
        anchor + 5000,
    ]


def test_timestamp_16_a_few_seconds_behind_the_anchor_is_behind_not_18_hours_ahead() -> None:
    """The fenix pattern: the SDK's forward rule would put these 65536 - 4 s ahead."""
    assert _monitoring_with_ts16(T0, [T0 - 4, T0 + 60, T0 - 3599]) == [T0 - 4, T0 + 60, T0 - 3599]


def test_timestamp_16_more_than_an_hour_behind_is_read_forward() -> None:
    assert _monitoring_with_ts16(T0, [T0 - 3601]) == [T0 - 3601 + 0x10000]


def test_timestamp_16_without_any_anchor_has_no_time() -> None:
    w = FitWriter()
    w.define(0, "monitoring", ["timestamp_16", "heart_rate"])
    w.write(0, [100, 70])
    assert decode_fit(w.to_bytes())["monitoring"].time_valid.tolist() == [False]


def test_steps_subfield_resolves_against_the_activity_type_inside_the_packed_byte() -> None:
    w = FitWriter()
    w.define(0, "monitoring", ["timestamp", "cycles", "current_activity_type_intensity"])
    w.write(0, [T0, 300, [6 | (3 << 5)]])  # walking, level 3
    w.write(0, [T0 + 60, 40, [2 | (1 << 5)]])  # cycling: strokes, not steps
    m = decode_fit(w.to_bytes())["monitoring"]
    assert m.columns["activity_type"].values.tolist() == [6, 2]
    assert m.columns["intensity"].values.tolist() == [3, 1]
    assert m.columns["steps"].valid.tolist() == [True, False]
    assert m.columns["steps"].values[0] == 300
    assert m.columns["strokes"].values[1] == pytest.approx(20.0)
    assert m.columns["cycles"].values.tolist() == [150.0, 20.0]  # base field kept, scale 2


def test_accumulated_component_unwraps_its_rolling_counter() -> None:
    """record.compressed_speed_distance: distance in 12 bits (1/16 m), accumulated."""
    w = FitWriter()
    w.define(0, "record", ["timestamp", ("compressed_speed_distance", 3)])
    raw_distances = [4000, 4090, 10, 50]  # wraps after 4095
    for i, dist in enumerate(raw_distances):
        packed = (dist << 12) | 250  # speed 2.5 m/s
        w.write(0, [T0 + i, packed.to_bytes(3, "little")])
    record = decode_fit(w.to_bytes())["record"]
    assert record.columns["distance"].values.tolist() == pytest.approx(
        [4000 / 16, 4090 / 16, 4106 / 16, 4146 / 16]
    )
    assert record.columns["speed"].values.tolist() == pytest.approx([2.5] * 4)


def test_chained_files_are_all_read_and_times_restart_per_file() -> None:
    first, second = FitWriter(), FitWriter(header_size=12)
    for w, hr in ((first, 100), (second, 150)):
        _file_id(w, 4)
        w.define(1, "record", ["timestamp", "heart_rate"])
        w.write(1, [T0 + hr, hr])
    d = decode_fit(chain(first.to_bytes(), second.to_bytes()))
    assert d.status == "ok" and len(d.segments) == 2
    assert d["record"].columns["heart_rate"].values.tolist() == [100, 150]
    assert d["file_id"].columns["type"].values.tolist() == [4, 4]


def test_header_crc_of_zero_means_not_computed_and_is_accepted() -> None:
    w = FitWriter(header_crc=False)
    _file_id(w)
    d = decode_fit(w.to_bytes())
    assert d.status == "ok" and d.segments[0].header_crc == 0


def _small_file() -> bytes:
    w = FitWriter()
    _file_id(w, 4)
    w.define(1, "record", ["timestamp", "heart_rate"])
    for i in range(5):
        w.write(1, [T0 + i, 100 + i])
    return w.to_bytes()


def test_bad_file_crc_keeps_every_message_and_reports_partial_with_offset() -> None:
    data = bytearray(_small_file())
    data[-1] ^= 0xFF
    d = decode_fit(bytes(data))
    assert d.status == "partial" and "CRC" in (d.reason or "")
    assert d.damage_offset == len(data) - 2
    assert d["record"].columns["heart_rate"].values.tolist() == [100, 101, 102, 103, 104]


def test_truncated_file_keeps_the_messages_before_the_cut() -> None:
    data = _small_file()
    record_size = 1 + 4 + 1  # header byte, timestamp, heart_rate
    cut = len(data) - 2 - 3  # the CRC and the last 3 of the last record's 6 bytes are gone
    d = decode_fit(data[:cut])
    assert d.status == "partial" and "cut short" in (d.reason or "")
    assert d["record"].columns["heart_rate"].values.tolist() == [100, 101, 102, 103]
    assert d.damage_offset == len(data) - 2 - record_size  # the last record's header byte


def test_undefined_local_message_stops_there() -> None:
    w = FitWriter()
    _file_id(w, 4)
    w.define(1, "record", ["timestamp", "heart_rate"])
    w.write(1, [T0, 100])
    before = len(w.to_bytes()) - 2
    w.raw(bytes([0x05, 1, 2, 3]))  # data header for local message 5, never defined
    w.write(1, [T0 + 1, 101])
    d = decode_fit(w.to_bytes())
    assert d.status == "partial" and "undefined local message 5" in (d.reason or "")
    assert d.damage_offset == before
    assert d["record"].columns["heart_rate"].values.tolist() == [100]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty file"),
        (b"\x0e\x10", "too short"),
        (b"\x0e\x10\x00\x00\x00\x00\x00\x00.GIF\x00\x00" + b"\x00" * 10, "bad magic"),
        (b"\x05\x10\x00\x00\x00\x00\x00\x00.FIT", "header size 5"),
    ],
)
def test_bytes_that_are_not_fit_are_refused_with_a_reason(data: bytes, words: str) -> None:
    d = decode_fit(data)
    assert d.status == "not_fit" and words in (d.reason or "")
    assert not d.messages


def test_wrong_header_crc_is_refused() -> None:
    data = bytearray(_small_file())
    data[12] ^= 0x01
    d = decode_fit(bytes(data))
    assert d.status == "not_fit" and "header CRC" in (d.reason or "")


def test_message_filter_decodes_only_what_is_asked_but_keeps_time_anchors() -> None:
    w = FitWriter()
    w.define(0, "event", ["timestamp", "event"])
    w.write(0, [T0, 26])
    w.define(1, "monitoring", ["timestamp_16", "heart_rate"])
    w.write(1, [(T0 + 60) & 0xFFFF, 80])
    d = decode_fit(w.to_bytes(), messages=["monitoring"])
    assert list(d.messages) == ["monitoring"]
    assert d["monitoring"].time.tolist() == [T0 + 60]
    assert np.array_equal(d["monitoring"].columns["heart_rate"].values, [80])


def test_message_table_to_arrow_nulls_invalid_values_and_elements() -> None:
    w = FitWriter()
    w.define(0, "monitoring_info", ["timestamp", ("activity_type", 2), "resting_metabolic_rate"])
    w.write(0, [T0, [6, None], None])
    w.define(1, "file_id", ["type", ("product_name", 4)])
    w.write(1, [32, "ab"])
    d = decode_fit(w.to_bytes())
    info = d["monitoring_info"].to_arrow().to_pydict()
    assert info["time"] == [T0]
    assert info["activity_type"] == [[6, None]]
    assert info["resting_metabolic_rate"] == [None]
    assert d["file_id"].to_arrow().to_pydict()["product_name"] == ["ab"]


def _ts16_between_anchors(values: list[int], next_anchor: int | None, damaged: bool) -> list[bool]:
    w = FitWriter()
    _file_id(w)
    w.define(1, "monitoring", ["timestamp", "heart_rate"])
    w.write(1, [T0, 60])
    w.define(2, "monitoring", ["timestamp_16", "heart_rate"])
    for value in values:
        w.write(2, [value & 0xFFFF, 70])
    if next_anchor is not None:
        w.write(1, [next_anchor, 80])
    data = w.to_bytes()
    if damaged:  # an undefined local message where the CRC was: damage right after the records
        data = data[:-2] + b"\x0f"
    m = decode_fit(data)["monitoring"]
    assert len(m) == 1 + len(values) + (next_anchor is not None)
    return m.time_valid.tolist()[1 : 1 + len(values)]


def test_timestamp_16_noise_far_past_the_next_full_timestamp_has_no_time() -> None:
    """Bytes inserted into a record make its timestamp_16 noise, read as hours ahead (issue 13, fuzz seed 15)."""
    assert _ts16_between_anchors([T0 + 60, T0 + 40_000, T0 + 120], T0 + 3600, False) == [
        True,
        False,
        True,
    ]
    # within the hour of the next full timestamp (a device a little out of order) it is kept
    assert _ts16_between_anchors([T0 + 60, T0 + 3650], T0 + 3600, False) == [True, True]


def test_timestamp_16_noise_just_before_damage_has_no_time() -> None:
    """No later record confirms the framing before damage: more than an hour past the record before is noise."""
    assert _ts16_between_anchors([T0 + 60, T0 + 30_000], None, True) == [True, False]
    # an intact file keeps the same long gap (a device off the wrist for hours)
    assert _ts16_between_anchors([T0 + 60, T0 + 30_000], None, False) == [True, True]
