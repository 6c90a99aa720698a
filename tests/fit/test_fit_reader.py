"""read_fit: the canonical mapping of monitoring, activity and other FIT files written with known contents."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from ingest.contract import ReadContext
from ingest.fit.reader import read_fit
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S
from ingest.fit.writer import FitWriter

CTX = ReadContext(participant_id="P01", file_id="abc", path="x.fit")
MIDNIGHT_LOCAL = 1_000_022_400 - 1_000_022_400 % 86400  # a local midnight, in FIT seconds
OFFSET_S = -6 * 3600
MIDNIGHT_UTC = MIDNIGHT_LOCAL - OFFSET_S


def _utc(fit_seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(fit_seconds + FIT_EPOCH_UNIX_S, tz=dt.UTC)


def _monitoring_file(start_local: int = MIDNIGHT_LOCAL) -> bytes:
    """A day of a wellness file: full timestamps, timestamp_16 ahead and behind, day counters, totals."""
    start_utc = start_local - OFFSET_S
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "product", "serial_number", "time_created"])
    w.write(0, [32, 1, 2413, 42, start_utc])
    w.define(1, "monitoring_info", ["timestamp", "local_timestamp"])
    w.write(1, [start_utc, start_local])
    w.define(
        2, "monitoring", ["timestamp", "cycles", "heart_rate", "current_activity_type_intensity"]
    )
    w.define(
        3, "monitoring", ["timestamp_16", "cycles", "heart_rate", "current_activity_type_intensity"]
    )
    base = start_utc + 8 * 3600  # 08:00 local
    # (timestamp, steps counter or None, heart rate, activity type, level) -- walking counters are per day
    w.write(2, [base, 100, 90, [6 | (1 << 5)]])  # 08:00 walking light, counter 100
    w.write(3, [(base - 5) & 0xFFFF, None, 70, [8]])  # 5 s *behind* the anchor: 07:59:55, sedentary
    w.write(
        3, [(base + 60) & 0xFFFF, 220, 120, [6 | (3 << 5)]]
    )  # 08:01 walking moderate, +120 steps
    w.write(3, [(base + 90) & 0xFFFF, 260, 124, [6 | (3 << 5)]])  # same minute, +40 steps
    w.write(
        3, [(base + 120) & 0xFFFF, 30, 160, [1 | (5 << 5)]]
    )  # 08:02 running vigorous, counter 30
    w.define(
        4,
        "monitoring",
        [
            "timestamp",
            "activity_type",
            "cycles",
            "active_time",
            "duration_min",
            "moderate_activity_minutes",
            "vigorous_activity_minutes",
        ],
    )
    next_midnight = MIDNIGHT_UTC + 86400  # the day's totals are stamped at the next local midnight
    w.write(4, [next_midnight, 6, 260, 2 * 60_000, 1440, 1, 0])
    w.write(4, [next_midnight, 1, 30, 60_000, 1440, 0, 1])
    w.write(4, [next_midnight, 8, None, 1437 * 60_000, 1440, 0, 0])
    return w.to_bytes()


def test_monitoring_minutes_steps_heart_rate_intensity_and_offset() -> None:
    result = read_fit(_monitoring_file(), CTX)
    assert (result.kind, result.status, result.reason) == ("fit_monitoring", "ok", None)
    minutes = pl.from_arrow(result.tables["minutes"])
    base = MIDNIGHT_UTC + 8 * 3600
    assert minutes["minute_utc"].to_list() == [
        _utc(base - 60),
        _utc(base),
        _utc(base + 60),
        _utc(base + 120),
    ]
    assert minutes["steps"].to_list() == [0, 100, 160, 30]
    assert minutes["heart_rate_bpm"].to_list() == [70.0, 90.0, 122.0, 160.0]
    assert minutes["intensity"].to_list() == ["sedentary", "light", "moderate", "vigorous"]
    assert set(minutes["utc_offset_minutes"]) == {-360}
    assert set(minutes["source"]) == {"fit_monitoring"}
    assert minutes["device"][0] == "garmin fenix3_hr (serial 42)"
    assert result.notes["utc_offset_source"] == "monitoring_info.local_timestamp"


def test_monitoring_day_totals_are_summed_and_dated_to_the_day_before_their_stamp() -> None:
    totals = pl.from_arrow(read_fit(_monitoring_file(), CTX).tables["daily_totals"])
    assert totals.height == 1
    row = totals.row(0, named=True)
    local_day = dt.date(1989, 12, 31) + dt.timedelta(days=MIDNIGHT_LOCAL // 86400)
    assert row["local_date"] == local_day
    assert (
        row["steps"],
        row["moderate_minutes"],
        row["vigorous_minutes"],
        row["sedentary_minutes"],
    ) == (290, 1, 1, 1437)
    assert row["bouted"] is False and row["utc_offset_minutes"] == -360


def test_a_file_starting_mid_day_does_not_count_steps_from_before_it() -> None:
    result = read_fit(_monitoring_file(start_local=MIDNIGHT_LOCAL + 6 * 3600), CTX)
    steps = pl.from_arrow(result.tables["minutes"])["steps"].to_list()
    assert steps == [0, None, 160, None]  # first walking and running counts carry earlier steps
    assert result.notes["first_counts_left_null_file_starts_mid_day"] == 2


def _activity_file(*, local_offset: bool = True, settings_offset: int | None = None) -> bytes:
    t0 = MIDNIGHT_UTC + 10 * 3600
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "product", "serial_number", "time_created"])
    w.write(0, [4, 1, 1967, 7, t0])
    if settings_offset is not None:
        w.define(5, "device_settings", ["time_offset"])
        w.write(5, [settings_offset])
    w.define(6, "user_profile", ["age", "resting_heart_rate", "default_max_heart_rate"])
    w.write(6, [41, 52, 185])
    w.define(7, "zones_target", ["max_heart_rate"])
    w.write(7, [188])
    w.define(1, "record", ["timestamp", "heart_rate", "cadence", "fractional_cadence"])
    for i in range(120):  # 2 minutes running: 80.5 strides/min = 161 steps/min
        w.write(1, [t0 + i, 140 + (i % 60 == 0) * 10, 80, 64])
    for i in range(120, 180):  # 1 minute cycling at 90 rpm: no steps
        w.write(1, [t0 + i, 150, 90, None])
    w.define(
        2,
        "session",
        [
            "timestamp",
            "start_time",
            "sport",
            "total_elapsed_time",
            "total_timer_time",
            "avg_heart_rate",
            "max_heart_rate",
            "total_cycles",
        ],
    )
    w.write(2, [t0 + 120, t0, 1, 120_000, 120_000, 140, 150, 161])
    w.write(2, [t0 + 180, t0 + 120, 2, 60_000, 60_000, 150, 150, None])
    if local_offset:
        w.define(3, "activity", ["timestamp", "local_timestamp", "num_sessions"])
        w.write(3, [t0 + 180, t0 + 180 + OFFSET_S, 2])
    return w.to_bytes()


def test_activity_records_to_minutes_with_steps_only_on_foot() -> None:
    result = read_fit(_activity_file(), CTX)
    assert (result.kind, result.status) == ("fit_activity", "ok")
    minutes = pl.from_arrow(result.tables["minutes"])
    t0 = MIDNIGHT_UTC + 10 * 3600
    assert minutes["minute_utc"].to_list() == [_utc(t0), _utc(t0 + 60), _utc(t0 + 120)]
    assert minutes["heart_rate_bpm"].to_list() == pytest.approx(
        [140 + 10 / 60, 140 + 10 / 60, 150.0]
    )
    assert minutes["steps"].to_list() == [161, 161, None]
    assert set(minutes["utc_offset_minutes"]) == {-360}
    assert result.notes["utc_offset_source"] == "activity.local_timestamp"


def test_activity_sessions_and_profile() -> None:
    result = read_fit(_activity_file(), CTX)
    sessions = pl.from_arrow(result.tables["sessions"])
    t0 = MIDNIGHT_UTC + 10 * 3600
    assert sessions["sport"].to_list() == ["running", "cycling"]
    assert sessions["start_utc"].to_list() == [_utc(t0), _utc(t0 + 120)]
    assert sessions["end_utc"].to_list() == [_utc(t0 + 120), _utc(t0 + 180)]
    assert sessions["timer_seconds"].to_list() == [120.0, 60.0]
    assert sessions["steps"].to_list() == [322, None]  # 161 strides
    assert sessions["avg_heart_rate_bpm"].to_list() == [140.0, 150.0]
    profile = pl.from_arrow(result.tables["profiles"]).row(0, named=True)
    assert (
        profile["age_years"],
        profile["resting_heart_rate_bpm"],
        profile["max_heart_rate_bpm"],
    ) == (41, 52.0, 188.0)
    assert profile["observed_utc"] == _utc(t0)


def test_device_settings_time_offset_is_read_as_signed() -> None:
    result = read_fit(_activity_file(local_offset=False, settings_offset=4294942096), CTX)
    assert result.notes["utc_offset_s"] == -25200
    assert set(pl.from_arrow(result.tables["minutes"])["utc_offset_minutes"]) == {-420}


def test_roster_timezone_fills_in_when_the_file_has_no_offset() -> None:
    ctx = ReadContext(participant_id="P01", file_id="abc", path="x.fit", timezone="America/Chicago")
    result = read_fit(_activity_file(local_offset=False), ctx)
    assert result.notes["utc_offset_from"] == "roster timezone"
    assert set(pl.from_arrow(result.tables["minutes"])["utc_offset_minutes"]) == {
        -300
    }  # September: CDT


@pytest.mark.parametrize(
    ("file_type", "kind"),
    [
        (2, "fit_settings"),
        (5, "fit_workout"),
        (9, "fit_weight"),
        (49, "fit_sleep"),
        (68, "fit_hrv"),
    ],
)
def test_other_file_types_are_recognised_and_skipped_with_a_reason(
    file_type: int, kind: str
) -> None:
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "serial_number"])
    w.write(0, [file_type, 1, 9])
    result = read_fit(w.to_bytes(), CTX)
    assert (result.kind, result.status) == (kind, "skipped")
    assert f"({file_type})" in (result.reason or "") and not result.tables


@pytest.mark.parametrize(
    "data", [b"", b"hello world, not a FIT file at all", b"\x0e\x10" + b"\x00" * 30]
)
def test_bytes_that_are_not_fit_are_quarantined_with_a_reason(data: bytes) -> None:
    result = read_fit(data, CTX)
    assert result.status == "quarantined"
    assert (result.reason or "").startswith("not a FIT file: ")
    assert not result.tables


def test_times_relative_to_device_power_on_are_dropped_and_counted() -> None:
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "serial_number"])
    w.write(0, [4, 1, 9])
    w.define(1, "record", ["timestamp", "heart_rate"])
    w.write(1, [5000, 120])  # seconds since power-on, not a date
    w.write(1, [MIDNIGHT_UTC, 121])
    result = read_fit(w.to_bytes(), CTX)
    assert result.notes["records_dropped_no_absolute_time"] == 1
    assert pl.from_arrow(result.tables["minutes"])["heart_rate_bpm"].to_list() == [121.0]


def test_monitoring_file_resting_and_max_heart_rate_become_a_device_profile() -> None:
    """A wellness file's monitoring_hr_data resting HR (and zones_target max HR) land in profiles,
    where the weekly core's heart-rate parameters find them as "device"."""
    plain = _monitoring_file()
    assert "profiles" not in read_fit(plain, CTX).tables
    start_utc = MIDNIGHT_LOCAL - OFFSET_S
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "product", "serial_number", "time_created"])
    w.write(0, [32, 1, 2413, 42, start_utc])
    w.define(1, "monitoring_info", ["timestamp", "local_timestamp"])
    w.write(1, [start_utc, MIDNIGHT_LOCAL])
    w.define(2, "monitoring", ["timestamp", "cycles", "heart_rate", "activity_type"])
    w.write(2, [start_utc + 8 * 3600, 100, 90, 6])
    w.define(3, "zones_target", ["max_heart_rate"])
    w.write(3, [187])
    w.define(
        4,
        "monitoring_hr_data",
        ["timestamp", "resting_heart_rate", "current_day_resting_heart_rate"],
    )
    w.write(4, [start_utc + 86399, 54, 57])
    result = read_fit(w.to_bytes(), CTX)
    profile = pl.from_arrow(result.tables["profiles"]).row(0, named=True)
    assert profile["source"] == "fit_monitoring"
    assert (profile["resting_heart_rate_bpm"], profile["max_heart_rate_bpm"]) == (54.0, 187.0)
    assert profile["observed_utc"] == _utc(start_utc)
