"""The decoder against the reference decoder and Garmin's own decode, on real device files.

* Differential: every field of ``record``, ``session``, ``monitoring`` and
  ``monitoring_info`` that fitparse reports equals irisin's (ints and times
  exactly, floats to 1e-9 relative), on every corpus file fitparse reads.
* Damaged files: what fitparse read before failing, irisin read too, and
  irisin says where and why it stopped.
* The SDK's vivofit monitoring file against Garmin's FitCSVTool decode.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from config.schema import INTENSITY_LEVELS
from ingest.contract import ReadContext
from ingest.fit.decode import decode_fit
from ingest.fit.monitoring import LEVEL_LABEL_INDEX, SEDENTARY
from ingest.fit.reader import read_fit
from tests.fit.corpus import SDK_MONITORING_CSV, corpus_file, corpus_files, require_corpus
from tests.fit.fitparse_reference import differences, fitparse_messages

SLOW_BYTES = 60_000
"""fitparse needs seconds per 100 kB on this machine; larger files run under the slow marker."""


def _params() -> list[object]:
    files = corpus_files()
    if not files:
        return [pytest.param(None, id="corpus-absent")]
    return [
        pytest.param(
            p, id=p.name, marks=[pytest.mark.slow] if p.stat().st_size > SLOW_BYTES else []
        )
        for p in files
    ]


@pytest.mark.parametrize("path", _params())
def test_every_field_fitparse_reports_is_equal(path: Path | None) -> None:
    if path is None:
        require_corpus()
        return
    decoded = decode_fit(path.read_bytes())
    compared, problems = differences(path, decoded, prefix_if_fitparse_fails=True)
    assert problems == []
    if decoded.status == "ok":
        assert decoded.reason is None


def test_the_comparison_notices_a_changed_value() -> None:
    """Guard against a differential test that cannot fail."""
    path = corpus_file("garmin-fenix-5-run.fit")
    decoded = decode_fit(path.read_bytes())
    hr = decoded["record"].columns["heart_rate"]
    hr.values = hr.values.copy()
    hr.values[17] += 1
    compared, problems = differences(path, decoded)
    assert compared > 400
    assert problems == ["record[17].heart_rate: " + problems[0].split(": ", 1)[1]]


@pytest.mark.parametrize(
    ("name", "offset", "words", "fitparse_error"),
    [
        ("activity-filecrc.fit", 769, "file CRC mismatch", "FitCRCError"),
        ("activity-activity-filecrc.fit", 1540, "file CRC mismatch", "FitCRCError"),
        ("activity-unexpected-eof.fit", 751, "cut short inside a data message", "FitEOFError"),
        ("activity-settings-corruptheader.fit", 771, "bad magic", "FitHeaderError"),
        ("activity-settings-nodata.fit", 783, "definition message cut short", "FitEOFError"),
        (
            "strava-android-app-201.10-b1218918.fit",
            7471,
            "undefined local message 11",
            "FitParseError",
        ),
    ],
)
def test_damaged_files_are_partial_with_reason_and_offset(
    name: str, offset: int, words: str, fitparse_error: str
) -> None:
    path = corpus_file(name)
    decoded = decode_fit(path.read_bytes())
    assert decoded.status == "partial"
    assert decoded.damage_offset == offset
    assert words in (decoded.reason or "") and f"byte {offset}" in (decoded.reason or "")
    _, error = fitparse_messages(path, ["record"])
    assert error is not None and error.startswith(fitparse_error)
    result = read_fit(path.read_bytes(), ReadContext("P", "f", name))
    assert result.status == "partial" and result.notes["damage_offset"] == offset
    assert result.tables["sessions"].num_rows >= 1  # the activity before the damage is kept


def test_misaligned_field_sizes_that_fitparse_refuses_are_read_as_bytes() -> None:
    path = corpus_file("coros-pace-2-cycling-misaligned-fields.fit")
    before_failure, error = fitparse_messages(path, ["record"])
    assert error is not None and "Invalid field size" in error
    decoded = decode_fit(path.read_bytes())
    assert decoded.status == "ok"
    assert len(before_failure["record"]) == 1785
    assert len(decoded["record"]) == 11272  # the file's record count; the CRC confirms the layout
    assert decoded["record"].time_valid.all()
    assert np.all(np.diff(decoded["record"].time) >= 0)


# ------------------------------------------------------------- Garmin's own decode of the SDK file


def _csv_messages() -> list[tuple[str, dict[str, str]]]:
    if not SDK_MONITORING_CSV.is_file():
        pytest.skip(f"Garmin CSV not found at {SDK_MONITORING_CSV} (shared corpus absent)")
    out = []
    with SDK_MONITORING_CSV.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            if row[0] != "Data":
                continue
            fields = {row[i]: row[i + 1] for i in range(3, len(row) - 1, 3) if row[i]}
            out.append((row[2], fields))
    return out


def _csv_monitoring_with_times() -> list[dict[str, float]]:
    """CSV monitoring rows with times resolved by FORMATS.md's rule, written out independently."""
    anchor = None
    rows = []
    for message, fields in _csv_messages():
        if "timestamp" in fields:
            anchor = int(fields["timestamp"])
        if message != "monitoring":
            continue
        if "timestamp" in fields:
            t = int(fields["timestamp"])
        else:
            assert anchor is not None
            forward = (int(fields["timestamp_16"]) - anchor) & 0xFFFF
            t = anchor + forward - (0x10000 if forward >= 0x10000 - 3600 else 0)
        rows.append(
            {
                **{
                    k: float(v) for k, v in fields.items() if k != "current_activity_type_intensity"
                },
                "t": t,
            }
        )
    return rows


def test_sdk_monitoring_file_decodes_like_garmins_csv() -> None:
    expected = _csv_monitoring_with_times()
    monitoring = decode_fit(corpus_file("MonitoringFile.fit").read_bytes())["monitoring"]
    assert len(monitoring) == len(expected) == 337
    cols = monitoring.columns
    for i, row in enumerate(expected):
        assert monitoring.time[i] == row["t"]
        assert cols["activity_type"].values[i] == row["activity_type"]
        if "intensity" in row:
            assert cols["intensity"].values[i] == row["intensity"]
        if "steps" in row:
            assert cols["steps"].valid[i] and cols["steps"].values[i] == row["steps"]
        else:
            assert not cols["steps"].valid[i]
    span = monitoring.time.max() - monitoring.time.min()
    assert span <= 86_400  # one day: no timestamp_16 jumped ~18 h


def test_sdk_monitoring_file_per_minute_steps_and_intensities_match_garmins_csv() -> None:
    rows = _csv_monitoring_with_times()
    offset_s = -6 * 3600  # monitoring_info: local_timestamp - timestamp in the CSV
    expected: dict[int, dict[str, int]] = {}
    last: dict[tuple[float, int], float] = {}
    for row in rows:
        if row.get("duration_min") == 1440:
            continue
        day = (int(row["t"]) + offset_s) // 86400
        key = (row["activity_type"], day)
        if "steps" in row:
            steps = (
                row["steps"] - last[key]
                if key in last and row["steps"] >= last[key]
                else row["steps"]
            )
            last[key] = row["steps"]
        else:
            steps = 0 if row["activity_type"] == SEDENTARY else None
        level = (
            0
            if row["activity_type"] == SEDENTARY
            else int(LEVEL_LABEL_INDEX[int(row["intensity"])])
        )
        minute = int(row["t"]) // 60 * 60
        slot = expected.setdefault(minute, {"steps": 0, "label": -1})
        slot["steps"] += int(steps or 0)
        slot["label"] = max(slot["label"], level)
    result = read_fit(
        corpus_file("MonitoringFile.fit").read_bytes(), ReadContext("P", "f", "MonitoringFile.fit")
    )
    minutes = result.tables["minutes"].to_pydict()
    unix_to_fit = 631065600
    got = {
        int(m.timestamp()) - unix_to_fit: (s, label)
        for m, s, label in zip(
            minutes["minute_utc"], minutes["steps"], minutes["intensity"], strict=True
        )
    }
    assert sorted(got) == sorted(expected)
    for minute, slot in expected.items():
        assert got[minute] == (slot["steps"], INTENSITY_LEVELS[slot["label"]]), minute
    assert set(minutes["utc_offset_minutes"]) == {-360}


def test_sdk_monitoring_file_minutes_add_up_to_the_device_day_total() -> None:
    totals_csv = [
        f for m, f in _csv_messages() if m == "monitoring" and f.get("duration_min") == "1440"
    ]
    result = read_fit(
        corpus_file("MonitoringFile.fit").read_bytes(), ReadContext("P", "f", "MonitoringFile.fit")
    )
    day = result.tables["daily_totals"].to_pydict()
    assert day["steps"] == [sum(int(f["steps"]) for f in totals_csv)] == [3173]
    assert str(day["local_date"][0]) == "2014-12-27"  # stamped 2014-12-28 00:00 local
    assert sum(result.tables["minutes"].column("steps").to_pylist()) == 3173
    assert day["bouted"] == [False]


def test_every_corpus_file_reads_without_raising_and_conforms() -> None:
    require_corpus()
    import pyarrow as pa

    from config.conform import conform
    from config.schema import LAKE_TABLES

    kinds = {}
    for path in corpus_files():
        result = read_fit(path.read_bytes(), ReadContext("P", "f", path.name))
        kinds[path.name] = (result.kind, result.status)
        assert result.status in ("ok", "partial", "skipped"), (path.name, result.reason)
        for name, table in result.tables.items():
            n = table.num_rows
            table = table.append_column("participant_id", pa.array(["P"] * n)).append_column(
                "file_id", pa.array(["f"] * n)
            )
            conform(table, LAKE_TABLES[name])
    assert kinds["MonitoringFile.fit"] == ("fit_monitoring", "ok")
    assert kinds["Settings.fit"] == ("fit_settings", "skipped")
    assert kinds["WorkoutRepeatSteps.fit"] == ("fit_workout", "skipped")
    assert kinds["WeightScaleSingleUser.fit"] == ("fit_weight", "skipped")
    assert kinds["activity-large-fenxi2-multisport.fit"] == ("fit_activity", "ok")
    assert np.all([k[0].startswith("fit_") for k in kinds.values()])
