"""Synthetic Garmin Connect account exports with known ground truth.

``write_garmin_export`` turns one participant's minute-level truth (the
frame of ``pipeline.demo.cohort.truth_minutes``) and their exercise sessions
into the zip a participant would download from Garmin Connect:

- ``UDSFile_<first>_<last>.json`` daily summaries, one file per 100 local
  days, under ``DI-Connect-Aggregator/`` (layout ``"new"``) or
  ``DI-Connect-User/`` (layout ``"old"``). ``moderateIntensityMinutes`` and
  ``vigorousIntensityMinutes`` are clock minutes, as Garmin writes them
  (the doubled "intensity minutes" goal figure is never a field);
- ``<user>_0_summarizedActivities.json`` with one activity per session;
- nested ``UploadedFiles_<n>-_Part<k>.zip`` holding the FIT files the
  caller passes as bytes (irisin's FIT demo writes them; this module never
  encodes FIT), under ``DI-Connect-Uploaded-Files/`` or, in the old layout,
  ``DI-Connect-Fitness-Uploaded-Files/``;
- a minimal ``user_profile.json``.

``expected_daily_totals`` and ``expected_sessions`` return the values a
correct reader must produce from that export, computed from the truth by
the same rules, so tests compare a reader against the truth, not against
the generator's own output.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

Layout = Literal["new", "old"]

DAYS_PER_UDS_FILE = 100
FILES_PER_UPLOAD_ZIP = 200
DEMO_DEVICE_ID = 3_412_345_678
FIRST_ACTIVITY_ID = 20_000_000_000

_UDS_FOLDER: dict[Layout, str] = {"new": "DI-Connect-Aggregator", "old": "DI-Connect-User"}
_UPLOAD_FOLDER: dict[Layout, str] = {
    "new": "DI-Connect-Uploaded-Files",
    "old": "DI-Connect-Fitness-Uploaded-Files",
}

SESSION_INPUT_COLUMNS = ("start_utc", "end_utc", "sport")
"""Columns every sessions frame must have; the rest of ``config.schema.SESSIONS`` is optional."""


def counted_minutes(truth: pl.DataFrame, bout_minutes: int = 1) -> pl.DataFrame:
    """Truth minutes with ``local_date`` and ``counted``: moderate/vigorous minutes the device credits.

    A minute counts when it lies in a run of at least ``bout_minutes``
    consecutive worn minutes of moderate or vigorous intensity (1 = every
    minute, as current Garmin firmware; 10 = the older bout rule). Each
    counted minute keeps its own level and its own local day.
    """
    active = pl.col("intensity").is_in(["moderate", "vigorous"])
    return (
        truth.sort("minute_utc")
        .with_columns(
            local_date=(
                pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))
            ).dt.date(),
            _run=_run_id(active),
        )
        .with_columns(counted=active & (pl.len().over("_run") >= bout_minutes))
        .drop("_run")
    )


def _run_id(flag: pl.Expr) -> pl.Expr:
    """Id of each run of consecutive minutes (sorted by ``minute_utc``) sharing the value of ``flag``."""
    gap = (pl.col("minute_utc").diff() != pl.duration(minutes=1)).fill_null(True)
    return (gap | (flag != flag.shift(1)).fill_null(True)).cum_sum()


def expected_daily_totals(
    truth: pl.DataFrame, *, timezone: str | None = None, bout_minutes: int = 1
) -> pl.DataFrame:
    """Per local day with worn minutes: what the export's UDSFile says, in irisin's column names.

    ``utc_offset_minutes`` is the offset at local midnight and ``end_offset``
    the one at the next local midnight, in ``timezone``; without a zone, those
    of the day's first and last worn minute. Heart rates are whole beats:
    resting is the day's 5th percentile, as a stand-in for Garmin's own rule.
    """
    minutes = counted_minutes(truth, bout_minutes)
    days = (
        minutes.group_by("local_date")
        .agg(
            moderate_minutes=(pl.col("counted") & (pl.col("intensity") == "moderate"))
            .sum()
            .cast(pl.Int32),
            vigorous_minutes=(pl.col("counted") & (pl.col("intensity") == "vigorous"))
            .sum()
            .cast(pl.Int32),
            steps=pl.col("steps").sum().cast(pl.Int32),
            resting_heart_rate_bpm=pl.col("heart_rate_bpm").quantile(0.05, "nearest").round(0),
            min_heart_rate_bpm=pl.col("heart_rate_bpm").min().round(0),
            max_heart_rate_bpm=pl.col("heart_rate_bpm").max().round(0),
            start_offset=pl.col("utc_offset_minutes").sort_by("minute_utc").first().cast(pl.Int32),
            end_offset=pl.col("utc_offset_minutes").sort_by("minute_utc").last().cast(pl.Int32),
        )
        .sort("local_date")
    )
    if timezone is not None:
        days = days.with_columns(
            start_offset=_offset_at_midnight(pl.col("local_date"), timezone),
            end_offset=_offset_at_midnight(pl.col("local_date") + pl.duration(days=1), timezone),
        )
    return days.rename({"start_offset": "utc_offset_minutes"})


def _offset_at_midnight(day: pl.Expr, timezone: str) -> pl.Expr:
    zoned = day.cast(pl.Datetime("ms")).dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    )
    return (zoned.dt.base_utc_offset() + zoned.dt.dst_offset()).dt.total_minutes().cast(pl.Int32)


def expected_sessions(
    truth: pl.DataFrame, sessions: pl.DataFrame, *, bout_minutes: int = 1
) -> pl.DataFrame:
    """``sessions`` completed from the truth minutes in [start_utc, end_utc) where a column is absent.

    Fills ``session_key`` (synthetic activity ids), ``timer_seconds``
    (elapsed time), ``avg/max_heart_rate_bpm``, ``moderate_minutes`` and
    ``vigorous_minutes`` (counted minutes, see ``counted_minutes``) and
    ``steps``, and ``utc_offset_minutes`` (that of the truth minute nearest
    the start). Sessions must not overlap.
    """
    missing = [c for c in SESSION_INPUT_COLUMNS if c not in sessions.columns]
    if missing:
        raise ValueError(f"sessions frame lacks {missing}; it has {sessions.columns}")
    out = sessions.sort("start_utc").with_row_index("_i")
    if out.height > 1 and (out["start_utc"].shift(-1) < out["end_utc"]).any():
        raise ValueError("sessions overlap; a Garmin account records one activity at a time")
    minutes = counted_minutes(truth, bout_minutes).join_asof(
        out.select("_i", "start_utc", "end_utc"),
        left_on="minute_utc",
        right_on="start_utc",
        strategy="backward",
    )
    inside = minutes.filter(pl.col("minute_utc") < pl.col("end_utc"))
    derived = inside.group_by("_i").agg(
        avg_heart_rate_bpm=pl.col("heart_rate_bpm").mean().round(0),
        max_heart_rate_bpm=pl.col("heart_rate_bpm").max().round(0),
        moderate_minutes=(pl.col("counted") & (pl.col("intensity") == "moderate"))
        .sum()
        .cast(pl.Int32),
        vigorous_minutes=(pl.col("counted") & (pl.col("intensity") == "vigorous"))
        .sum()
        .cast(pl.Int32),
        steps=pl.col("steps").sum().cast(pl.Int32),
    )
    if "utc_offset_minutes" not in out.columns:
        offsets = truth.sort("minute_utc").select(
            pl.col("minute_utc").alias("start_utc"), pl.col("utc_offset_minutes").cast(pl.Int32)
        )
        out = out.join_asof(offsets, on="start_utc", strategy="nearest")
    defaults = {
        "session_key": (pl.col("_i") + FIRST_ACTIVITY_ID).cast(pl.String),
        "timer_seconds": (pl.col("end_utc") - pl.col("start_utc"))
        .dt.total_seconds()
        .cast(pl.Float64),
    }
    out = out.with_columns(
        expr.alias(name) for name, expr in defaults.items() if name not in out.columns
    )
    fill = [c for c in derived.columns if c != "_i" and c not in out.columns]
    out = out.join(derived.select("_i", *fill), on="_i", how="left")
    zero_if_empty = [c for c in ("moderate_minutes", "vigorous_minutes", "steps") if c in fill]
    return out.with_columns(pl.col(zero_if_empty).fill_null(0)).drop("_i")


def _garmin_time(ts: pl.Expr) -> pl.Expr:
    """Garmin's zone-less wellness time text, e.g. ``2025-06-09T22:00:00.0``."""
    return ts.dt.strftime("%Y-%m-%dT%H:%M:%S.0")


def uds_documents(days: pl.DataFrame) -> dict[str, bytes]:
    """UDSFile name -> JSON bytes, ``DAYS_PER_UDS_FILE`` local days per file, from ``expected_daily_totals``."""
    midnight = pl.col("local_date").cast(pl.Datetime("ms"))
    next_midnight = midnight + pl.duration(days=1)
    start_gmt = midnight - pl.duration(minutes=pl.col("utc_offset_minutes"))
    end_gmt = next_midnight - pl.duration(minutes=pl.col("end_offset"))
    records = days.with_columns(
        _chunk=(pl.col("local_date") - pl.col("local_date").min()).dt.total_days()
        // DAYS_PER_UDS_FILE
    ).select(
        "_chunk",
        calendarDate=pl.col("local_date").dt.strftime("%Y-%m-%d"),
        totalSteps="steps",
        moderateIntensityMinutes="moderate_minutes",
        vigorousIntensityMinutes="vigorous_minutes",
        userIntensityMinutesGoal=pl.lit(150),
        restingHeartRate=pl.col("resting_heart_rate_bpm").cast(pl.Int32),
        minHeartRate=pl.col("min_heart_rate_bpm").cast(pl.Int32),
        maxHeartRate=pl.col("max_heart_rate_bpm").cast(pl.Int32),
        wellnessStartTimeGmt=_garmin_time(start_gmt),
        wellnessStartTimeLocal=_garmin_time(midnight),
        wellnessEndTimeGmt=_garmin_time(end_gmt),
        wellnessEndTimeLocal=_garmin_time(next_midnight),
        durationInMilliseconds=(end_gmt - start_gmt).dt.total_milliseconds(),
        includesWellnessData=pl.lit(True),
    )
    documents: dict[str, bytes] = {}
    for chunk in records.partition_by("_chunk", maintain_order=True, include_key=False):
        first, last = chunk["calendarDate"][0], chunk["calendarDate"][-1]
        documents[f"UDSFile_{first}_{last}.json"] = orjson.dumps(chunk.to_dicts())
    return documents


def activities_document(sessions: pl.DataFrame) -> bytes:
    """summarizedActivities JSON bytes (root array of one export object) from ``expected_sessions``."""
    begin_ms = pl.col("start_utc").dt.epoch("ms")
    elapsed_ms = (pl.col("end_utc") - pl.col("start_utc")).dt.total_milliseconds()
    activities = sessions.select(
        activityId=pl.col("session_key").cast(pl.Int64),
        name=pl.col("sport").str.to_titlecase(),
        activityType=pl.col("sport"),
        sportType=pl.col("sport").str.to_uppercase(),
        beginTimestamp=begin_ms,
        startTimeLocal=begin_ms + pl.col("utc_offset_minutes").cast(pl.Int64) * 60_000,
        duration=pl.col("timer_seconds") * 1000,
        elapsedDuration=elapsed_ms.cast(pl.Float64),
        movingDuration=pl.col("timer_seconds") * 1000,
        avgHr=pl.col("avg_heart_rate_bpm"),
        maxHr=pl.col("max_heart_rate_bpm"),
        moderateIntensityMinutes=pl.col("moderate_minutes"),
        vigorousIntensityMinutes=pl.col("vigorous_minutes"),
        steps=pl.col("steps"),
        deviceId=pl.lit(DEMO_DEVICE_ID),
    )
    return orjson.dumps([{"summarizedActivitiesExport": activities.to_dicts()}])


ZIP_TIMESTAMP = (2026, 1, 1, 0, 0, 0)
"""Fixed member time, so the same truth always writes the same zip bytes."""


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def upload_zips(
    fit_files: Mapping[str, bytes], files_per_zip: int = FILES_PER_UPLOAD_ZIP
) -> dict[str, bytes]:
    """Nested ``UploadedFiles_<first>-_Part<k>.zip`` name -> zip bytes, ``files_per_zip`` FIT files each."""
    names = sorted(fit_files)
    zips: dict[str, bytes] = {}
    for part, first in enumerate(range(0, len(names), files_per_zip), start=1):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as inner:
            for name in names[first : first + files_per_zip]:
                inner.writestr(_entry(name), fit_files[name])
        zips[f"UploadedFiles_{first}-_Part{part}.zip"] = buffer.getvalue()
    return zips


def garmin_export_members(
    truth: pl.DataFrame,
    sessions: pl.DataFrame,
    fit_files: Mapping[str, bytes],
    *,
    layout: Layout = "new",
    user: str = "demo",
    timezone: str | None = None,
    bout_minutes: int = 1,
) -> dict[str, bytes]:
    """Every member of the export (path under the zip root -> bytes), built in memory."""
    root = "DI_CONNECT"
    members: dict[str, bytes] = {}
    days = expected_daily_totals(truth, timezone=timezone, bout_minutes=bout_minutes)
    for name, data in uds_documents(days).items():
        members[f"{root}/{_UDS_FOLDER[layout]}/{name}"] = data
    full_sessions = expected_sessions(truth, sessions, bout_minutes=bout_minutes)
    members[f"{root}/DI-Connect-Fitness/{user}_0_summarizedActivities.json"] = activities_document(
        full_sessions
    )
    placed = {name: data for name, data in fit_files.items() if "/" in name}
    uploads = {name: data for name, data in fit_files.items() if "/" not in name}
    for name, data in upload_zips(uploads).items():
        members[f"{root}/{_UPLOAD_FOLDER[layout]}/{name}"] = data
    members.update(placed)
    members[f"{root}/DI-Connect-User/user_profile.json"] = orjson.dumps(_profile(user))
    return members


def _profile(user: str) -> dict[str, Any]:
    return {"userName": user, "firstName": "Demo", "gender": "FEMALE", "birthDate": "1980-01-01"}


def write_garmin_export(
    truth: pl.DataFrame,
    sessions: pl.DataFrame,
    fit_files: Mapping[str, bytes],
    out_path: Path,
    *,
    layout: Layout = "new",
    user: str = "demo",
    timezone: str | None = None,
    bout_minutes: int = 1,
    unpacked: bool = False,
) -> Path:
    """Write a Garmin Connect export for one participant; return ``out_path``.

    ``truth``: worn minutes (``minute_utc``, ``utc_offset_minutes``, ``steps``,
    ``heart_rate_bpm``, ``intensity``). ``sessions``: at least
    ``SESSION_INPUT_COLUMNS``, other ``config.schema.SESSIONS`` columns
    optional (derived from the truth when absent). ``fit_files``: FIT bytes
    by name; a bare file name goes into the nested upload zips, a name with
    ``/`` (e.g. ``DI_CONNECT/DI-Connect-Wellness/x.fit``) is written at that
    path in the export. ``timezone``: the participant's
    IANA zone, for exact wellness start/end offsets on days the device was
    not worn at midnight. ``bout_minutes``: see ``counted_minutes``.
    ``unpacked=True`` writes a folder instead of a zip, as a participant who
    unzipped the download would hand it over.
    """
    members = garmin_export_members(
        truth,
        sessions,
        fit_files,
        layout=layout,
        user=user,
        timezone=timezone,
        bout_minutes=bout_minutes,
    )
    out_path = Path(out_path)
    if unpacked:
        for name, data in members.items():
            target = out_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return out_path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(_entry(name), data)
    return out_path


def demo_sessions_from_truth(
    truth: pl.DataFrame, *, sport: str = "running", min_minutes: int = 10
) -> pl.DataFrame:
    """One session per local day around its longest run of moderate/vigorous minutes (at least ``min_minutes``).

    A convenience for the demo cohort, whose truth has one exercise block a
    day: it returns ``SESSION_INPUT_COLUMNS`` ready for ``write_garmin_export``.
    """
    runs = (
        counted_minutes(truth, 1)
        .with_columns(_run=_run_id(pl.col("counted")))
        .filter(pl.col("counted"))
        .group_by("_run")
        .agg(
            local_date=pl.col("local_date").first(),
            start_utc=pl.col("minute_utc").min(),
            end_utc=pl.col("minute_utc").max() + pl.duration(minutes=1),
            utc_offset_minutes=pl.col("utc_offset_minutes").first().cast(pl.Int32),
            length=pl.len(),
        )
        .filter(pl.col("length") >= min_minutes)
        .sort("length", "start_utc", descending=[True, False])
        .unique("local_date", keep="first")
        .sort("start_utc")
    )
    return runs.select("start_utc", "end_utc", "utc_offset_minutes", sport=pl.lit(sport))
