"""TCX and GPX activity files to canonical ``minutes`` and ``sessions``, like a FIT activity.

* TCX (Garmin Training Center XML v2): each ``Activity`` is a session (sport,
  start, the laps' total time, lap-time-weighted average and the maximum of the
  laps' heart rate); trackpoints give heart rate (``HeartRateBpm``) and, on foot,
  steps from the ``RunCadence`` extension.
* GPX 1.0/1.1 with the Garmin ``TrackPointExtension`` (v1 or v2): each ``trk``
  is a session (its ``type`` as sport); trackpoints give ``hr`` and, on foot,
  steps from ``cad``.

As for FIT, running cadence counts strides (one foot): steps per minute are
twice the cadence; each trackpoint stands for the seconds until the next (at
most ``MAX_SAMPLE_SECONDS``, so a pause adds nothing); a minute's heart rate is
the mean of its trackpoints. Times are UTC; the UTC offset comes from the
roster zone (neither format records one). A lap without heart rate gives
minutes without it (and no lap average). Files are parsed without entity
resolution after ``ingest.xml_safety.refuse_entities``; damaged XML keeps what
came before the damage (``partial``), foreign XML is quarantined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from lxml import etree

from ingest.contract import Member, ReadContext, ReadResult
from ingest.fit.local_offset import with_utc_offset
from ingest.xml_safety import PROLOG_LIMIT_BYTES, SAFE_PARSER_OPTIONS, UnsafeXml, refuse_entities

SOURCE = "activity_xml"
MAX_SAMPLE_SECONDS = 10
ON_FOOT = ("run", "walk", "hik", "trek", "mountaineer")
"""Sport names (lower case, any part) whose cadence counts strides."""
SUFFIXES = (".tcx", ".gpx")


def looks_like_activity_xml(paths: Sequence[str]) -> bool:
    return any(p.lower().endswith(SUFFIXES) for p in paths)


def read_activity_xml(members: Sequence[Member], ctx: ReadContext) -> dict[str, ReadResult]:
    """Bundle reader: every ``.tcx`` and ``.gpx`` member read on its own."""
    return {
        m.path: read_activity_file(m.load(), m.path, ctx)
        for m in members
        if m.path.lower().endswith(SUFFIXES)
    }


def _parse(data: bytes) -> tuple[Any, str | None]:
    """Root element (or None) and the first parse error, with recovery so damage keeps what precedes it."""
    parser = etree.XMLParser(recover=True, **SAFE_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        return None, str(e)
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    return root, (f"line {errors[0].line}: {errors[0].message}" if errors else None)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(el: Any, path: str) -> str | None:
    found = el.find(path)
    return found.text.strip() if found is not None and found.text else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _on_foot(sport: str | None) -> bool:
    s = (sport or "").lower()
    return any(k in s for k in ON_FOOT)


def _tcx(root: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    points: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    device = _text(root, ".//{*}Activity/{*}Creator/{*}Name")
    for activity in root.iter("{*}Activity"):
        sport = activity.get("Sport")
        laps = list(activity.iter("{*}Lap"))
        starts = [lap.get("StartTime") for lap in laps if lap.get("StartTime")]
        start = _text(activity, "{*}Id") or (starts[0] if starts else None)
        total = [(_float(_text(lap, "{*}TotalTimeSeconds")) or 0.0) for lap in laps]
        avg = [
            (_float(_text(lap, "{*}AverageHeartRateBpm/{*}Value")), t)
            for lap, t in zip(laps, total, strict=True)
        ]
        with_hr = [(a, t) for a, t in avg if a is not None and t > 0]
        maxima = [
            m
            for lap in laps
            if (m := _float(_text(lap, "{*}MaximumHeartRateBpm/{*}Value"))) is not None
        ]
        sessions.append(
            {
                "start": start,
                "timer_seconds": sum(total) if laps else None,
                "sport": sport,
                "avg_heart_rate_bpm": sum(a * t for a, t in with_hr) / sum(t for _, t in with_hr)
                if with_hr
                else None,
                "max_heart_rate_bpm": max(maxima) if maxima else None,
            }
        )
        for tp in activity.iter("{*}Trackpoint"):
            points.append(
                {
                    "time": _text(tp, "{*}Time"),
                    "hr": _float(_text(tp, "{*}HeartRateBpm/{*}Value")),
                    "cadence": _float(_text(tp, ".//{*}RunCadence")),
                    "on_foot": _on_foot(sport),
                }
            )
    return points, sessions, device


def _gpx(root: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    points: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    device = root.get("creator")
    for trk in root.iter("{*}trk"):
        sport = _text(trk, "{*}type")
        first = None
        for pt in trk.iter("{*}trkpt"):
            time = _text(pt, "{*}time")
            first = first or time
            points.append(
                {
                    "time": time,
                    "hr": _float(_text(pt, ".//{*}hr")),
                    "cadence": _float(_text(pt, ".//{*}cad")),
                    "on_foot": _on_foot(sport),
                }
            )
        sessions.append(
            {
                "start": first,
                "timer_seconds": None,
                "sport": sport,
                "avg_heart_rate_bpm": None,
                "max_heart_rate_bpm": None,
            }
        )
    return points, sessions, device


def _utc(column: str) -> pl.Expr:
    """ISO 8601 times as written by exporters (``Z``, offsets, fractions) to UTC microseconds."""
    return (
        pl.col(column)
        .str.replace(r"Z$", "+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
    )


def _minutes(
    points: pl.DataFrame, device: str | None, timezone: str | None
) -> tuple[pl.DataFrame, int]:
    timed = points.with_columns(_utc("time").alias("t")).drop_nulls("t").sort("t")
    dropped = points.height - timed.height
    t = timed["t"].dt.epoch("us").to_numpy() / 1e6
    span = np.clip(np.diff(t, append=t[-1] + 1 if t.size else 0), 0, MAX_SAMPLE_SECONDS)
    frame = timed.with_columns(
        pl.Series("span", span),
        pl.when(pl.col("on_foot")).then(2 * pl.col("cadence")).alias("spm"),
    ).with_columns((pl.col("spm") * pl.col("span") / 60).alias("step_part"))
    minutes = (
        frame.group_by(pl.col("t").dt.truncate("1m").alias("minute_utc"))
        .agg(
            pl.col("hr").filter(pl.col("hr") > 0).mean().alias("heart_rate_bpm"),
            pl.when(pl.col("step_part").is_not_null().any())
            .then(pl.col("step_part").sum().round())
            .alias("steps"),
        )
        .filter(pl.col("heart_rate_bpm").is_not_null() | pl.col("steps").is_not_null())
        .sort("minute_utc")
    )
    minutes, _ = with_utc_offset(minutes, "minute_utc", None, timezone)
    return minutes.select(
        pl.lit(SOURCE).alias("source"),
        pl.lit(device, pl.String).alias("device"),
        "minute_utc",
        "utc_offset_minutes",
        pl.col("steps").cast(pl.Int32),
        pl.col("heart_rate_bpm").cast(pl.Float32),
    ), dropped


def _sessions(
    sessions: list[dict[str, Any]], points: pl.DataFrame, device: str | None, timezone: str | None
) -> pl.DataFrame:
    frame = pl.DataFrame(
        sessions,
        schema={
            "start": pl.String,
            "timer_seconds": pl.Float64,
            "sport": pl.String,
            "avg_heart_rate_bpm": pl.Float64,
            "max_heart_rate_bpm": pl.Float64,
        },
    )
    frame = (
        frame.with_columns(_utc("start").alias("start_utc"))
        .drop_nulls("start_utc")
        .sort("start_utc")
    )
    if frame.height == 0:
        return frame
    times = points.with_columns(_utc("time").alias("t")).drop_nulls("t").sort("t")
    hr = times.filter(pl.col("hr") > 0)
    ends, avgs, maxs = [], [], []
    starts = frame["start_utc"].to_list()
    for i, start in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else None
        inside = times.filter(
            (pl.col("t") >= start) & ((pl.col("t") < nxt) if nxt is not None else pl.lit(True))
        )
        ends.append(inside["t"].max() if inside.height else None)
        in_hr = hr.filter(
            (pl.col("t") >= start) & ((pl.col("t") < nxt) if nxt is not None else pl.lit(True))
        )
        avgs.append(in_hr["hr"].mean() if in_hr.height else None)
        maxs.append(in_hr["hr"].max() if in_hr.height else None)
    frame = frame.with_columns(
        pl.Series("last_point", ends, dtype=pl.Datetime("us", "UTC")),
        pl.col("avg_heart_rate_bpm").fill_null(pl.Series(avgs, dtype=pl.Float64)),
        pl.col("max_heart_rate_bpm").fill_null(pl.Series(maxs, dtype=pl.Float64)),
    )
    end = pl.coalesce(
        pl.col("start_utc")
        + pl.duration(microseconds=(pl.col("timer_seconds") * 1e6).cast(pl.Int64)),
        pl.col("last_point"),
    )
    frame, _ = with_utc_offset(
        frame.with_columns(end.alias("end_utc")), "start_utc", None, timezone
    )
    return frame.select(
        pl.lit(SOURCE).alias("source"),
        pl.lit(device, pl.String).alias("device"),
        pl.col("start_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("session_key"),
        "start_utc",
        "end_utc",
        "utc_offset_minutes",
        "sport",
        pl.coalesce(
            "timer_seconds",
            (pl.col("end_utc") - pl.col("start_utc")).dt.total_seconds().cast(pl.Float64),
        ).alias("timer_seconds"),
        pl.col("avg_heart_rate_bpm").cast(pl.Float32),
        pl.col("max_heart_rate_bpm").cast(pl.Float32),
    )


def read_activity_file(data: bytes, path: str, ctx: ReadContext) -> ReadResult:
    """Read one TCX or GPX file; never raises for bad bytes."""
    kind = "gpx" if path.lower().endswith(".gpx") else "tcx"
    try:
        refuse_entities(data[:PROLOG_LIMIT_BYTES])
    except UnsafeXml as e:
        return ReadResult(kind=kind, status="quarantined", reason=f"unsafe XML: {e}")
    root, damage = _parse(data)
    if root is None:
        return ReadResult(
            kind=kind,
            status="quarantined",
            reason=f"not well-formed XML: {damage or 'no root element'}",
        )
    name = _local(root.tag)
    if name == "TrainingCenterDatabase":
        kind = "tcx"
        points, sessions, device = _tcx(root)
    elif name == "gpx":
        kind = "gpx"
        points, sessions, device = _gpx(root)
    else:
        return ReadResult(
            kind=kind, status="quarantined", reason=f"not a TCX or GPX file: root element <{name}>"
        )
    frame = pl.DataFrame(
        points,
        schema={"time": pl.String, "hr": pl.Float64, "cadence": pl.Float64, "on_foot": pl.Boolean},
    )
    minutes, undated = _minutes(frame, device, ctx.timezone)
    session_rows = _sessions(sessions, frame, device, ctx.timezone)
    tables = {}
    if minutes.height:
        tables["minutes"] = minutes.to_arrow()
    if session_rows.height:
        tables["sessions"] = session_rows.to_arrow()
    notes: dict[str, Any] = {
        "trackpoints": frame.height,
        "device": device,
        "utc_offset_from": "roster timezone",
    }
    if undated:
        notes["trackpoints_dropped_no_time"] = undated
    if damage and not tables:
        return ReadResult(
            kind=kind,
            status="quarantined",
            reason=f"damaged XML before any timed trackpoint: {damage}",
            notes=notes,
        )
    if damage:
        return ReadResult(
            kind=kind, status="partial", reason=f"damaged XML: {damage}", tables=tables, notes=notes
        )
    if not tables:
        return ReadResult(
            kind=kind,
            status="skipped",
            reason=f"{kind.upper()} file without timed trackpoints",
            notes=notes,
        )
    return ReadResult(kind=kind, status="ok", tables=tables, notes=notes)
