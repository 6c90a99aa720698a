"""Demo files for the XML readers: an Apple Health export and TCX/GPX activities, written from a participant's truth.

Every file says what the truth says, so the expected weekly table does not change:

* the Apple Health export has, per worn truth minute, the Watch's heart rate
  (an instant sample 20 s into the minute) and one-minute step count, the
  Watch's exercise minute for each moderate or vigorous minute, and the
  iPhone's own one-minute step count for every other walking minute (the
  same steps: iPhone and Watch overlap and must be counted once); plus daily
  resting heart rate and one workout a day from the truth's exercise blocks;
* a TCX or GPX file holds one exercise block a week, trackpoints every 5 s
  with the minute's heart rate and half its steps as (stride) cadence.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

WATCH = "&lt;&lt;HKDevice: 0x283f2&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.4&gt;"
IPHONE = "&lt;&lt;HKDevice: 0x283f1&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.4&gt;"
_PROLOG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n'
    "<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>\n"
    "<!ATTLIST HealthData locale CDATA #REQUIRED>\n]>\n"
    '<HealthData locale="en_GB">\n'
)


def _stamp(utc: datetime, offset_minutes: int) -> str:
    return utc.astimezone(timezone(timedelta(minutes=offset_minutes))).strftime(
        "%Y-%m-%d %H:%M:%S %z"
    )


def _record(
    kind: str, unit: str, start: str, end: str, value: object, source: str, device: str | None
) -> str:
    dev = f' device="{device}"' if device else ""
    return (
        f' <Record type="HKQuantityTypeIdentifier{kind}" sourceName="{source}" sourceVersion="17.4"{dev}'
        f' unit="{unit}" creationDate="{end}" startDate="{start}" endDate="{end}" value="{value}"/>\n'
    )


def apple_health_xml(
    truth: pl.DataFrame, sessions: pl.DataFrame, *, birth_year: int, resting_hr: int
) -> bytes:
    """``export.xml`` bytes for one participant's truth minutes and sessions."""
    out = io.StringIO()
    out.write(_PROLOG)
    out.write(' <ExportDate value="2026-05-01 12:00:00 +0000"/>\n')
    out.write(f' <Me HKCharacteristicTypeIdentifierDateOfBirth="{birth_year}-01-01"/>\n')
    watch, phone = "Demo’s Apple Watch", "Demo’s iPhone"
    days_seen: set[str] = set()
    for minute, offset, steps, hr, level in truth.select(
        "minute_utc", "utc_offset_minutes", "steps", "heart_rate_bpm", "intensity"
    ).iter_rows():
        start, end = _stamp(minute, offset), _stamp(minute + timedelta(minutes=1), offset)
        beat = _stamp(minute + timedelta(seconds=20), offset)
        out.write(_record("HeartRate", "count/min", beat, beat, f"{hr:g}", watch, WATCH))
        out.write(_record("StepCount", "count", start, end, steps, watch, WATCH))
        if level in ("moderate", "vigorous"):
            out.write(_record("AppleExerciseTime", "min", start, end, 1, watch, None))
        if steps >= 40 and minute.minute % 2 == 0:
            out.write(_record("StepCount", "count", start, end, steps, phone, IPHONE))
        day = start[:10]
        if day not in days_seen:
            days_seen.add(day)
            out.write(
                _record("RestingHeartRate", "count/min", start, start, resting_hr, watch, WATCH)
            )
    for row in sessions.iter_rows(named=True):
        offset = row["utc_offset_minutes"] or 0
        start, end = _stamp(row["start_utc"], offset), _stamp(row["end_utc"], offset)
        minutes = (row["end_utc"] - row["start_utc"]).total_seconds() / 60
        inside = truth.filter(
            pl.col("minute_utc").is_between(row["start_utc"], row["end_utc"], closed="left")
        )
        stats = ""
        if inside.height:
            hr = inside["heart_rate_bpm"].drop_nulls().to_numpy()
            stats = (
                f'  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{start}" endDate="{end}"'
                f' average="{hr.mean():.1f}" minimum="{hr.min():g}" maximum="{hr.max():g}" unit="count/min"/>\n'
            )
        out.write(
            f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="{minutes:g}" durationUnit="min"'
            f' sourceName="{watch}" sourceVersion="10.4" startDate="{start}" endDate="{end}">\n{stats} </Workout>\n'
        )
    out.write("</HealthData>\n")
    return out.getvalue().encode("utf-8")


def write_apple_health_export(
    truth: pl.DataFrame, sessions: pl.DataFrame, path: Path, *, birth_year: int, resting_hr: int
) -> Path:
    """``export.zip`` as the Health app shares it (``apple_health_export/export.xml``)."""
    xml = apple_health_xml(truth, sessions, birth_year=birth_year, resting_hr=resting_hr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("apple_health_export/export.xml", date_time=(2026, 5, 1, 12, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, xml)
    return path


def _points(
    truth: pl.DataFrame, start: datetime, end: datetime
) -> list[tuple[datetime, float, float]]:
    inside = truth.filter(pl.col("minute_utc").is_between(start, end, closed="left")).sort(
        "minute_utc"
    )
    return [
        (minute + timedelta(seconds=s), hr, steps / 2)
        for minute, hr, steps in inside.select("minute_utc", "heart_rate_bpm", "steps").iter_rows()
        for s in range(0, 60, 5)
    ]


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def tcx_bytes(truth: pl.DataFrame, start: datetime, end: datetime) -> bytes:
    points = "".join(
        f"<Trackpoint><Time>{_z(t)}</Time><HeartRateBpm><Value>{hr:g}</Value></HeartRateBpm>"
        f'<Extensions><TPX xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><RunCadence>{cad:g}</RunCadence></TPX></Extensions></Trackpoint>'
        for t, hr, cad in _points(truth, start, end)
    )
    seconds = (end - start).total_seconds()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        f'<Activities><Activity Sport="Running"><Id>{_z(start)}</Id><Lap StartTime="{_z(start)}">'
        f"<TotalTimeSeconds>{seconds:g}</TotalTimeSeconds><Track>{points}</Track></Lap>"
        "<Creator><Name>Polar Vantage V2</Name></Creator></Activity></Activities></TrainingCenterDatabase>\n"
    ).encode()


def gpx_bytes(truth: pl.DataFrame, start: datetime, end: datetime) -> bytes:
    points = "".join(
        f'<trkpt lat="40.7" lon="-74.0"><time>{_z(t)}</time><extensions><gpxtpx:TrackPointExtension>'
        f"<gpxtpx:hr>{hr:g}</gpxtpx:hr><gpxtpx:cad>{cad:g}</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions></trkpt>"
        for t, hr, cad in _points(truth, start, end)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<gpx creator="StravaGPX" version="1.1" xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><name>Run</name><type>running</type><trkseg>{points}</trkseg></trk></gpx>\n"
    ).encode()


def write_weekly_activities(
    truth: pl.DataFrame, sessions: pl.DataFrame, folder: Path, suffix: str
) -> list[Path]:
    """One ``.tcx`` or ``.gpx`` per week: the week's first exercise block."""
    folder.mkdir(parents=True, exist_ok=True)
    weekly = sessions.with_columns(pl.col("start_utc").dt.truncate("1w").alias("_week")).unique(
        "_week", keep="first", maintain_order=True
    )
    write = tcx_bytes if suffix == ".tcx" else gpx_bytes
    paths = []
    for row in weekly.iter_rows(named=True):
        path = folder / f"run_{row['start_utc']:%Y%m%dT%H%M}{suffix}"
        path.write_bytes(write(truth, row["start_utc"], row["end_utc"]))
        paths.append(path)
    return paths
