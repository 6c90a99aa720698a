"""Turn polars frames into canonical Arrow tables, and shared label constants.

Readers build a polars frame whose columns carry canonical names; the table
helpers here sort it and conform it (``config.conform.conform``: canonical Arrow
types, nullable columns a source does not report as nulls). ``participant_id``
and ``file_id`` are left to the pipeline unless the frame carries them (Fitabase
exports hold many participants, so they carry their own ``participant_id``).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from config.conform import PIPELINE_FILLED, conform
from config.schema import DAILY_TOTALS, MINUTES, SESSIONS

SOURCE_TAKEOUT = "fitbit_takeout"
SOURCE_FITABASE = "fitabase"
SOURCE_HR_ZONES = "fitbit_hr_zones"
"""Daily totals from ``time_in_heart_rate_zones-*.json``: a source of their own, ranked last by
default, so they fill only days no other source covers (see ``json_daily.HR_ZONE_COLUMNS``)."""

FITABASE_INTENSITY_LABELS = pl.Series(
    "label", ["sedentary", "light", "moderate", "vigorous"], dtype=pl.String
)
"""Fitabase minute intensity code (0..3) to the canonical label: index = code."""

ACTIVITY_LEVEL_LABELS: dict[str, str] = {
    "SEDENTARY": "sedentary",
    "LIGHTLY_ACTIVE": "light",
    "MODERATELY_ACTIVE": "moderate",
    "VERY_ACTIVE": "vigorous",
}
"""Takeout CSV ``activity_level`` values to canonical labels."""


def minutes_table(frame: pl.DataFrame) -> pa.Table:
    """Canonical ``minutes`` table from a frame sorted or not; rows are sorted by minute."""
    keys = [c for c in ("participant_id", "minute_utc") if c in frame.columns]
    return conform(frame.sort(keys), MINUTES, filled_later=PIPELINE_FILLED)


def daily_table(frame: pl.DataFrame) -> pa.Table:
    """Canonical ``daily_totals`` table."""
    keys = [c for c in ("participant_id", "local_date") if c in frame.columns]
    return conform(frame.sort(keys), DAILY_TOTALS, filled_later=PIPELINE_FILLED)


def sessions_table(frame: pl.DataFrame) -> pa.Table:
    """Canonical ``sessions`` table."""
    return conform(frame.sort("start_utc"), SESSIONS, filled_later=PIPELINE_FILLED)


def local_to_utc(local: pl.Expr, tz: str | None) -> pl.Expr:
    """UTC instants of naive local wall times in ``tz`` (UTC when ``tz`` is None).

    At the autumn DST fold the earlier instant is taken; wall times that do
    not exist (the spring gap) become null, so the caller can count them.
    """
    if tz is None:
        return local.dt.replace_time_zone("UTC")
    return local.dt.replace_time_zone(
        tz, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")
