"""Activity FIT files to canonical ``minutes``, ``sessions`` and ``profiles``.

* ``record`` samples become UTC minutes: mean heart rate, and steps where the
  sport is on foot. FIT running cadence counts strides (one foot), so steps
  per minute are ``2 * (cadence + fractional_cadence)``; each sample stands for
  the seconds until the next sample (at most ``MAX_SAMPLE_SECONDS``, so a pause
  adds nothing) and a minute's steps are the sum over its samples.
* ``session`` messages become sessions (``lap`` messages only when a file has
  no session, as some exporters write none). A record no session covers takes
  the sport of the file's ``sport`` message, which devices write at the start:
  a file cut short before its session (written last) keeps the steps of
  every record before the cut, the same as the intact file's.
* ``user_profile``, ``zones_target`` and ``time_in_zone`` give age, resting and
  maximum heart rate: one ``profiles`` row per file when any is present.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from config.schema import PLAUSIBLE_HEART_RATE_BPM
from ingest.fit.decode import DecodedFit, MessageTable
from ingest.fit.file_info import first_valid
from ingest.fit.local_offset import with_utc_offset
from ingest.fit.profile import value_name
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S, FIT_MIN_ABSOLUTE_S, fit_time_text
from ingest.salvage import EXAMPLES_KEPT

SOURCE = "fit_activity"
MAX_SAMPLE_SECONDS = 10
"""Longest time one record sample stands for; longer gaps are pauses."""

ON_FOOT_SPORTS = frozenset({"running", "walking", "hiking", "mountaineering"})
"""Sports whose record cadence counts strides (steps = 2 x cadence). Cycling, swimming or
generic cadence is not steps, so those minutes carry heart rate only."""


def _utc_expr(col: str) -> pl.Expr:
    return (
        pl.from_epoch(pl.col(col) + FIT_EPOCH_UNIX_S, time_unit="s")
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC")
    )


def _numeric(table: MessageTable, name: str) -> pl.Series:
    col = table.column(name)
    if col.values.ndim != 1 or col.valid.ndim != 1 or col.values.dtype.kind not in "iuf":
        return pl.Series(name, [None] * len(table), dtype=pl.Float64)
    return pl.Series(name, col.values.astype(np.float64)).set(pl.Series(~col.valid), None)


def _session_frame(decoded: DecodedFit) -> tuple[pl.DataFrame, str]:
    table = decoded["session"]
    used = "session"
    if not len(table):
        table, used = decoded["lap"], "lap"
    start = _numeric(table, "start_time")
    stamp = pl.Series("t", table.time.astype(np.float64)).set(pl.Series(~table.time_valid), None)
    sport_raw = _numeric(table, "sport")
    sports = [None if v is None else value_name("sport", int(v)) for v in sport_raw.to_list()]
    strides = _numeric(table, "total_strides")
    frame = pl.DataFrame(
        {
            "start_t": start.fill_null(stamp - _numeric(table, "total_elapsed_time")),
            "elapsed_s": _numeric(table, "total_elapsed_time"),
            "timer_seconds": _numeric(table, "total_timer_time"),
            "sport": pl.Series(sports, dtype=pl.String),
            "avg_heart_rate_bpm": _numeric(table, "avg_heart_rate"),
            "max_heart_rate_bpm": _numeric(table, "max_heart_rate"),
            "steps": strides * 2,
        }
    )
    return frame.filter(
        pl.col("start_t").is_not_null() & (pl.col("start_t") >= FIT_MIN_ABSOLUTE_S)
    ), used


def _sport_of_records(record_t: np.ndarray, sessions: pl.DataFrame) -> np.ndarray:
    """Sport of each record: the session whose [start, start + elapsed] holds it (vectorised)."""
    out = np.full(record_t.size, None, dtype=object)
    if sessions.height == 0:
        return out
    ordered = sessions.sort("start_t")
    starts = ordered["start_t"].to_numpy()
    ends = (ordered["start_t"] + ordered["elapsed_s"].fill_null(np.inf)).to_numpy()
    sports = np.array(ordered["sport"].to_list(), dtype=object)
    idx = np.searchsorted(starts, record_t, side="right") - 1
    inside = (idx >= 0) & (record_t <= ends[np.maximum(idx, 0)])
    out[inside] = sports[idx[inside]]
    if sessions.height == 1:  # a single-session file: every sample belongs to it
        out[:] = sports[0]
    return out


def _declared_sport(decoded: DecodedFit) -> str | None:
    """The sport of the file's first ``sport`` message (written near the start), if it names one."""
    value = first_valid(decoded["sport"], "sport")
    return None if value is None else value_name("sport", int(value))


def activity_tables(
    decoded: DecodedFit,
    *,
    offset_s: int | None,
    timezone: str | None,
    device: str | None,
    observed_t: int | None,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """An activity file's minutes (heart rate, steps on foot), sessions and profile, and notes on what was left out."""
    notes: dict[str, Any] = {}
    sessions, used = _session_frame(decoded)
    if used == "lap" and sessions.height:
        notes["sessions_from"] = "lap (file has no session message)"
    minutes = _per_minute(_record_samples(decoded, sessions, notes))
    minutes, notes["utc_offset_from"] = with_utc_offset(minutes, "minute_utc", offset_s, timezone)
    minutes = minutes.select(
        pl.lit(SOURCE).alias("source"),
        pl.lit(device, dtype=pl.String).alias("device"),
        "minute_utc",
        "utc_offset_minutes",
        pl.col("steps").cast(pl.Int32),
        pl.col("heart_rate_bpm").cast(pl.Float32),
    )
    notes["record_messages"] = len(decoded["record"])
    tables = {
        "minutes": minutes.to_arrow(),
        "sessions": _session_rows(sessions, offset_s, timezone, device).to_arrow(),
    }
    profile = profile_table(decoded, observed_t, device)
    if profile is not None:
        tables["profiles"] = profile
    return tables, notes


def _record_samples(
    decoded: DecodedFit, sessions: pl.DataFrame, notes: dict[str, Any]
) -> pl.DataFrame:
    """The ``record`` messages in time order as ``t``, ``hr`` and ``step_part`` (steps the sample's span holds).

    Cadence counts steps only in a sport on foot (each record takes the sport
    of the session it falls in, else the file's declared sport). Records
    without an absolute time and impossible heart rates are counted in
    ``notes``; the latter stay in the frame and are filtered by ``_per_minute``.
    """
    records = decoded["record"]
    ok = records.time_valid & (records.time >= FIT_MIN_ABSOLUTE_S)
    if (~ok).any():
        notes["records_dropped_no_absolute_time"] = int((~ok).sum())
    t = records.time[ok]
    sport = _sport_of_records(t.astype(np.float64), sessions)
    uncovered = np.array([s is None for s in sport], dtype=bool)
    if uncovered.any():
        sport[uncovered] = _declared_sport(decoded)
    cadence = _numeric(records, "cadence").to_numpy()[ok]
    fraction = _numeric(records, "fractional_cadence").fill_null(0).to_numpy()[ok]
    on_foot = (
        np.array([s in ON_FOOT_SPORTS for s in sport], dtype=bool)
        if sport.size
        else np.zeros(0, bool)
    )
    spm = np.where(on_foot, 2 * (cadence + fraction), np.nan)
    order = np.argsort(t, kind="stable")
    t, spm = t[order], spm[order]
    hr = _numeric(records, "heart_rate").to_numpy()[ok][order]
    low, high = PLAUSIBLE_HEART_RATE_BPM
    impossible = ~np.isnan(hr) & ~((hr >= low) & (hr <= high))
    if impossible.any():
        # left out of the minute's mean (the filter in _per_minute), and counted here
        bad = np.flatnonzero(impossible)
        notes["samples_implausible_dropped"] = int(bad.size)
        notes["samples_implausible_dropped_examples"] = [
            f"record at {fit_time_text(int(t[i]))}: heart_rate={hr[i]:g}"
            for i in bad[:EXAMPLES_KEPT]
        ]
    span = np.diff(t, append=t[-1] + 1 if t.size else 0).astype(np.float64)
    span = np.clip(span, 0, MAX_SAMPLE_SECONDS)
    return pl.DataFrame({"t": t, "hr": hr, "step_part": spm * span / 60.0}, nan_to_null=True)


def _per_minute(samples: pl.DataFrame) -> pl.DataFrame:
    """Samples to UTC minutes: mean plausible heart rate and summed steps; a minute with neither is left out."""
    return (
        samples.with_columns((pl.col("t") // 60 * 60).alias("minute_t"))
        .group_by("minute_t")
        .agg(
            pl.col("hr")
            .filter(pl.col("hr").is_between(*PLAUSIBLE_HEART_RATE_BPM))
            .mean()
            .alias("heart_rate_bpm"),
            pl.when(pl.col("step_part").is_not_null().any())
            .then(pl.col("step_part").sum().round())
            .alias("steps"),
        )
        .sort("minute_t")
        .with_columns(_utc_expr("minute_t").alias("minute_utc"))
        .filter(pl.col("heart_rate_bpm").is_not_null() | pl.col("steps").is_not_null())
    )


def _session_rows(
    sessions: pl.DataFrame, offset_s: int | None, timezone: str | None, device: str | None
) -> pl.DataFrame:
    """The file's sessions (or laps) as ``sessions`` rows: UTC start and end, offset, sport and totals."""
    sessions_utc, _ = with_utc_offset(
        sessions.with_columns(_utc_expr("start_t").alias("start_utc")),
        "start_utc",
        offset_s,
        timezone,
    )
    return sessions_utc.with_columns(
        (
            pl.col("start_utc")
            + pl.duration(microseconds=(pl.col("elapsed_s") * 1e6).cast(pl.Int64))
        ).alias("end_utc"),
    ).select(
        pl.lit(SOURCE).alias("source"),
        pl.lit(device, dtype=pl.String).alias("device"),
        pl.col("start_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("session_key"),
        "start_utc",
        "end_utc",
        "utc_offset_minutes",
        "sport",
        "timer_seconds",
        pl.col("avg_heart_rate_bpm").cast(pl.Float32),
        pl.col("max_heart_rate_bpm").cast(pl.Float32),
        pl.col("steps").cast(pl.Int32),
    )


def _first(decoded: DecodedFit, pairs: tuple[tuple[str, str], ...]) -> float | None:
    for message, field in pairs:
        if message in decoded:
            value = first_valid(decoded[message], field)
            if value is not None:
                return float(value)
    return None


PLAUSIBLE_PROFILE_HR_BPM = (20.0, 220.0)
"""A profile heart rate outside this range is not kept (e.g. a 0 the device wrote before it knew)."""


def _plausible(value: float | None) -> float | None:
    low, high = PLAUSIBLE_PROFILE_HR_BPM
    return value if value is not None and low <= value <= high else None


def profile_table(
    decoded: DecodedFit, observed_t: int | None, device: str | None, source: str = SOURCE
) -> pa.Table | None:
    """Age, resting and maximum heart rate from the profile-like messages (first valid value wins).

    Resting HR: ``time_in_zone``, ``user_profile``, then ``monitoring_hr_data``
    (monitoring files: the device's resting HR, a 7-day average on Garmin
    watches, before ``current_day_resting_heart_rate``). Maximum HR:
    ``time_in_zone``, ``zones_target``, then ``user_profile``'s default. One
    row, or None when the file holds none of them.
    """
    age = _first(decoded, (("user_profile", "age"),))
    resting = _plausible(
        _first(
            decoded,
            (
                ("time_in_zone", "resting_heart_rate"),
                ("user_profile", "resting_heart_rate"),
                ("monitoring_hr_data", "resting_heart_rate"),
                ("monitoring_hr_data", "current_day_resting_heart_rate"),
            ),
        )
    )
    maximum = _first(
        decoded,
        (
            ("time_in_zone", "max_heart_rate"),
            ("zones_target", "max_heart_rate"),
            ("user_profile", "default_max_heart_rate"),
        ),
    )
    maximum = _plausible(maximum)
    if age is None and resting is None and maximum is None:
        return None
    observed = None if observed_t is None else (observed_t + FIT_EPOCH_UNIX_S) * 1_000_000
    return pa.table(
        {
            "source": pa.array([source]),
            "device": pa.array([device], type=pa.string()),
            "observed_utc": pa.array([observed], type=pa.timestamp("us", tz="UTC")),
            "age_years": pa.array([None if age is None else int(age)], type=pa.int16()),
            "resting_heart_rate_bpm": pa.array([resting], type=pa.float32()),
            "max_heart_rate_bpm": pa.array([maximum], type=pa.float32()),
        }
    )
