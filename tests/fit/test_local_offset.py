"""A zone's yearly offset table (hourly grid refined where the offset changes) against every minute."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ingest.fit.local_offset import _zone_year, zone_offsets_minutes


def _every_minute(timezone: str, year: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: the zone's offset at each minute of the year, kept where it changes."""
    start = int(np.datetime64(f"{year:04d}-01-01", "s").astype(np.int64))
    end = int(np.datetime64(f"{year + 1:04d}-01-01", "s").astype(np.int64))
    grid = np.arange(start, end, 60, dtype=np.int64)
    utc = pl.Series(grid * 1_000_000).cast(pl.Datetime("us", "UTC"))
    local = utc.dt.convert_time_zone(timezone).dt.replace_time_zone(None)
    minutes = (local - utc.dt.replace_time_zone(None)).dt.total_minutes().to_numpy()
    change = np.flatnonzero(np.concatenate(([True], minutes[1:] != minutes[:-1])))
    return grid[change], minutes[change]


@pytest.mark.parametrize(
    ("timezone", "year"),
    [
        ("Europe/Oslo", 2024),  # two changes on the hour, UTC 01:00
        ("Australia/Lord_Howe", 2023),  # half-hour DST, a change at 15:30 UTC
        ("America/St_Johns", 2011),  # spring change at 03:31 UTC (local 00:01)
        ("Asia/Kathmandu", 1985),  # +05:30 -> +05:45 at 18:30 UTC on 31 December
        ("Pacific/Apia", 2011),  # skipped 30 December 2011 (a whole day's step)
        ("UTC", 2026),  # no change at all
    ],
)
def test_the_offset_table_equals_a_minute_by_minute_lookup(timezone: str, year: int) -> None:
    starts, offsets = _every_minute(timezone, year)
    table = _zone_year(timezone, year)
    assert table is not None
    assert table[0].tolist() == starts.tolist()
    assert table[1].tolist() == offsets.tolist()


def test_rows_either_side_of_a_change_get_their_own_offset() -> None:
    # Oslo left summer time at 2024-10-27 01:00 UTC: +120 before, +60 from that second on.
    change = int(np.datetime64("2024-10-27T01:00:00", "s").astype(np.int64))
    got = zone_offsets_minutes(
        np.array([change - 60, change - 1, change, change + 3600]), "Europe/Oslo"
    )
    assert got is not None
    assert got.tolist() == [120, 120, 60, 60]


def test_an_unknown_zone_name_has_no_table() -> None:
    assert _zone_year("Mars/Olympus_Mons", 2024) is None
    assert zone_offsets_minutes(np.array([0]), "Mars/Olympus_Mons") is None
