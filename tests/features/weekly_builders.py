"""Builders of small canonical input frames for the weekly-table tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pyarrow as pa

from config.roster import ROSTER_SCHEMA
from irisin.schema import DAILY_TOTALS, MINUTES, PROFILES, conform

UTC = timezone.utc


def _frame(rows: list[dict[str, Any]], schema: pa.Schema) -> pl.DataFrame:
    defaults = {"file_id": "f" * 64, "source": "fit_monitoring"}
    filled = [{**defaults, **r} for r in rows]
    names = [f.name for f in schema]
    table = pa.Table.from_pylist(
        [{k: r.get(k) for k in names} for r in filled], schema=pa.schema([f.with_nullable(True) for f in schema])
    )
    return pl.from_arrow(conform(table, schema))  # type: ignore[return-value]


def minutes(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """MINUTES frame from dicts (missing columns are null; source defaults to fit_monitoring)."""
    return _frame(rows, MINUTES)


def daily_totals(rows: list[dict[str, Any]]) -> pl.DataFrame:
    defaults = {"bouted": False, "source": "garmin_export"}
    return _frame([{**defaults, **r} for r in rows], DAILY_TOTALS)


def profiles(rows: list[dict[str, Any]] | None = None) -> pl.DataFrame:
    return _frame(rows or [], PROFILES)


def roster(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in ROSTER_SCHEMA} for r in rows], schema=ROSTER_SCHEMA)


def span(participant: str, start_utc: datetime, count: int, **values: Any) -> list[dict[str, Any]]:
    """``count`` consecutive minute rows from ``start_utc`` with the same values."""
    return [
        {"participant_id": participant, "minute_utc": start_utc + timedelta(minutes=i), **values} for i in range(count)
    ]


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def local_days(zone: str, first: date, days: int) -> tuple[datetime, int]:
    """UTC start and number of minutes of ``days`` whole local days from ``first`` in ``zone``."""
    bounds = pl.select(
        pl.datetime(first.year, first.month, first.day).dt.replace_time_zone(zone).alias("a"),
        (pl.datetime(first.year, first.month, first.day) + pl.duration(days=days)).dt.replace_time_zone(zone).alias("b"),
    )
    a, b = bounds.row(0)
    return a.astimezone(UTC), int((b - a).total_seconds() // 60)
