"""Does the roster's time zone fit the participant's day? A check, never a correction.

A wrong zone in the roster shifts every local day and week. People are least
active at night, so the six quietest hours of a week (fewest steps, a
circular window over the 24 hours of the day) should centre near 03:00 local.
When, in the roster's zone, they centre 3 hours or more away in at least two
weeks, the participant is flagged with the UTC offset their activity points
to ("the roster says UTC; activity looks like UTC-8"). Nothing is changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

NIGHT_CENTRE_HOUR = 3.0
"""Local hour around which the six quietest hours centre for most people."""
QUIET_HOURS = 6
MIN_DISAGREEMENT_HOURS = 3.0
MIN_WEEKS = 2
MIN_STEPS_PER_WEEK = 1000
"""A week with fewer steps says nothing about the rhythm of the day."""
MIN_DAYS_PER_WEEK = 3
"""UTC days with minute rows a week needs. A week holding only the first or last
hours of someone's data (the study's first UTC week seen from UTC+10, a week of
dropout) has most hours empty; their emptiness is the data's edge, not the night."""

MISMATCH_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "roster_zone": pl.String(),
    "weeks_disagreeing": pl.Int32(),
    "activity_utc_offset_hours": pl.Int32(),
    "message": pl.String(),
}


def _steps_by_hour(weeks: pl.DataFrame) -> np.ndarray:
    """One row of 24 UTC-hour step totals per row of ``weeks`` (its ``utc_hour`` and ``steps`` lists)."""
    flat = weeks.select("week_row", "utc_hour", "steps").explode(
        "utc_hour", "steps", empty_as_null=True
    )
    matrix = np.zeros((weeks.height, 24))
    np.add.at(
        matrix,
        (flat["week_row"].to_numpy(), flat["utc_hour"].to_numpy()),
        flat["steps"].to_numpy(),
    )
    return matrix


def _quiet_centres(steps_by_hour: np.ndarray) -> np.ndarray:
    """Per row, the UTC hour (0-24) at the centre of the six consecutive hours with fewest steps (circular).

    Ties go to the earliest starting hour.
    """
    window = sum(np.roll(steps_by_hour, -k, axis=1) for k in range(QUIET_HOURS))
    start = np.argmin(window, axis=1)
    return np.asarray((start + QUIET_HOURS / 2) % 24, dtype=np.float64)


def _offset_hours(zone: str, week: datetime) -> float:
    return ZoneInfo(zone).utcoffset(week + timedelta(days=3)).total_seconds() / 3600  # type: ignore[union-attr]


def _circular_difference(a: float, b: float) -> float:
    return (a - b + 12) % 24 - 12


def _utc_label(hours: int) -> str:
    return "UTC" if hours == 0 else f"UTC{hours:+d}"


def zone_mismatches(hourly_steps: pl.DataFrame, zones: dict[str, str]) -> pl.DataFrame:
    """Participants whose quiet hours disagree with their roster zone (``MISMATCH_COLUMNS``).

    ``hourly_steps`` has ``participant_id, week_utc`` (Datetime, a week's
    start), ``utc_hour`` (0-23), ``steps`` and, optionally, ``days`` (the UTC
    days of the week with minute rows; weeks with fewer than
    ``MIN_DAYS_PER_WEEK`` are not read); ``zones`` maps participants to their
    roster (or study default) IANA zone.
    """
    if "days" in hourly_steps.columns:
        hourly_steps = hourly_steps.filter(pl.col("days") >= MIN_DAYS_PER_WEEK)
    weeks = (
        hourly_steps.group_by("participant_id", "week_utc")
        .agg(pl.col("utc_hour").cast(pl.Int64), pl.col("steps").fill_null(0).cast(pl.Float64))
        .with_row_index("week_row")
    )
    steps = _steps_by_hour(weeks)
    keep = steps.sum(axis=1) >= MIN_STEPS_PER_WEEK
    centres = _quiet_centres(steps[keep])
    kept = weeks.filter(pl.Series(keep)).select("participant_id", "week_utc")
    offsets: dict[tuple[str, datetime], float] = {}
    by_participant: dict[str, list[tuple[str, float, float]]] = {}
    for (pid, week), centre in zip(kept.iter_rows(), centres.tolist(), strict=True):
        zone = zones.get(str(pid), "UTC")
        if (zone, week) not in offsets:
            offsets[(zone, week)] = _offset_hours(zone, week)
        diff = _circular_difference((centre + offsets[(zone, week)]) % 24, NIGHT_CENTRE_HOUR)
        by_participant.setdefault(str(pid), []).append((zone, diff, centre))
    found = []
    for pid, seen in sorted(by_participant.items()):
        off = [w for w in seen if abs(w[1]) >= MIN_DISAGREEMENT_HOURS]
        if len(off) < MIN_WEEKS:
            continue
        zone = seen[0][0]
        implied = int(
            round(_circular_difference(NIGHT_CENTRE_HOUR, float(np.median([w[2] for w in off]))))
        )
        roster_offset = int(round(_offset_hours(zone, datetime(2026, 1, 5))))
        label = zone if zone != "UTC" else "UTC"
        message = (
            f"{pid}: the roster says {label} ({_utc_label(roster_offset)}); activity looks like "
            f"{_utc_label(implied)} in {len(off)} weeks: check the time zone in roster.csv"
        )
        found.append((pid, zone, len(off), implied, message))
    return pl.DataFrame(found, schema=MISMATCH_COLUMNS, orient="row")
