"""Builders of small canonical input frames for the weekly-table tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from config.roster import ROSTER_SCHEMA
from config.schema import DAILY_TOTALS, MINUTES, PROFILES, empty

FILE_ID = "f" * 64


def _types(schema: Any) -> dict[str, pl.DataType]:
    return dict(pl.from_arrow(empty(schema)).schema)  # type: ignore[union-attr]


MINUTE_TYPES = _types(MINUTES)
TOTALS_TYPES = _types(DAILY_TOTALS)
PROFILE_TYPES = _types(PROFILES)


def _canonical(frame: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(
        (pl.col(n) if n in frame.columns else pl.lit(None)).cast(t).alias(n)
        for n, t in types.items()
    )


def block(
    participant: str, start_utc: datetime, count: int, source: str = "fit_monitoring", **values: Any
) -> pl.DataFrame:
    """``count`` consecutive MINUTES rows from ``start_utc``, each with ``values``."""
    times = pl.datetime_range(
        start_utc, start_utc + timedelta(minutes=count), "1m", closed="left", eager=True
    )
    frame = pl.DataFrame({"minute_utc": times}).with_columns(
        pl.lit(participant).alias("participant_id"),
        pl.lit(source).alias("source"),
        pl.lit(FILE_ID).alias("file_id"),
        *(pl.lit(v).alias(k) for k, v in values.items()),
    )
    return _canonical(frame, MINUTE_TYPES)


def minutes(*blocks: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([pl.DataFrame(schema=MINUTE_TYPES), *blocks])


def daily_totals(rows: list[dict[str, Any]]) -> pl.DataFrame:
    defaults = {"bouted": False, "source": "garmin_export", "file_id": FILE_ID}
    if not rows:
        return pl.DataFrame(schema=TOTALS_TYPES)
    return _canonical(pl.DataFrame([{**defaults, **r} for r in rows]), TOTALS_TYPES)


def profiles(rows: list[dict[str, Any]] | None = None) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=PROFILE_TYPES)
    return _canonical(
        pl.DataFrame([{"source": "fit_monitoring", "file_id": FILE_ID, **r} for r in rows]),
        PROFILE_TYPES,
    )


def roster(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in ROSTER_SCHEMA} for r in rows], schema=ROSTER_SCHEMA)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def local_span(zone: str, first: date, days: int) -> tuple[datetime, int]:
    """UTC start and length in minutes of ``days`` whole local days from ``first`` in ``zone``."""
    start = datetime(first.year, first.month, first.day)
    bounds = pl.select(
        pl.lit(start).dt.replace_time_zone(zone).alias("a"),
        pl.lit(start + timedelta(days=days)).dt.replace_time_zone(zone).alias("b"),
    )
    a, b = (
        t.astimezone(UTC) for t in bounds.row(0)
    )  # aware same-zone subtraction would ignore DST
    return a, int((b - a).total_seconds() // 60)


def worn_days(
    participant: str, zone: str, first: date, days: int, source: str = "fit_monitoring"
) -> pl.DataFrame:
    """Whole local days of worn, sedentary minutes (heart rate 70, device label sedentary)."""
    start, count = local_span(zone, first, days)
    return block(
        participant, start, count, source, heart_rate_bpm=70.0, intensity="sedentary", steps=0
    )


def week_hours(zone: str, first_day: date) -> float:
    """Clock hours in the local week starting ``first_day`` in ``zone`` (168, or 167/169 across DST)."""
    bounds = pl.select(
        pl.datetime(first_day.year, first_day.month, first_day.day).alias("start"),
    ).with_columns((pl.col("start") + pl.duration(days=7)).alias("end"))
    utc = bounds.with_columns(
        pl.col(c)
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        for c in ("start", "end")
    )
    return float((utc["end"] - utc["start"]).dt.total_minutes()[0]) / 60.0
