"""Shared helpers for the Fitbit reader tests: members from folders/zips, truth frames."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa

from ingest.contract import Member, ReadContext, ReadResult

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def members_of_folder(root: Path) -> list[Member]:
    """Every file under ``root`` as a Member with a ``/`` path relative to ``root``."""
    return [
        Member(p.relative_to(root).as_posix(), p.stat().st_size, p.read_bytes)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]


def zip_folder(root: Path, target: Path) -> Path:
    """Zip ``root``'s files (paths relative to ``root``)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    return target


def ctx(timezone: str | None = None, **kw: object) -> ReadContext:
    return ReadContext(participant_id="P", file_id="f" * 64, path="export", timezone=timezone, **kw)  # type: ignore[arg-type]


def table(results: dict[str, ReadResult], name: str, kind_prefix: str = "") -> pl.DataFrame:
    """All rows of one canonical table across results whose kind starts with ``kind_prefix``."""
    tables = [
        r.tables[name]
        for r in results.values()
        if name in r.tables and r.kind.startswith(kind_prefix)
    ]
    if not tables:
        return pl.DataFrame()
    return pl.from_arrow(pa.concat_tables(tables, promote_options="default"))  # type: ignore[return-value]


def worn_truth(
    start_local: datetime,
    days: int,
    tz: str,
    *,
    hours: tuple[int, int] = (0, 24),
    skip_days: tuple[int, ...] = (),
    seed: int = 7,
) -> pl.DataFrame:
    """A ground-truth minute frame worn between ``hours`` (local) on each day except ``skip_days``.

    Minutes are enumerated in UTC, so a 23-hour or 25-hour DST day has
    exactly its real minutes (both passes of an autumn fold included).
    """
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(tz)
    start = start_local.replace(tzinfo=zone).astimezone(UTC)
    end = (start_local + timedelta(days=days)).replace(tzinfo=zone).astimezone(UTC)
    utc = pl.datetime_range(start, end, "1m", closed="left", eager=True, time_zone="UTC")
    frame = pl.DataFrame({"minute_utc": utc}).with_columns(
        pl.col("minute_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None).alias("local")
    )
    frame = frame.filter(
        pl.col("local").dt.hour().is_between(hours[0], hours[1] - 1)
        & ~(
            (pl.col("local").dt.date() - pl.lit(start_local.date()))
            .dt.total_days()
            .is_in(list(skip_days))
        )
    )
    n = frame.height
    level = rng.choice(4, size=n, p=[0.55, 0.3, 0.1, 0.05])
    frame = frame.with_columns(
        pl.Series(
            "steps", np.array([2, 60, 110, 140])[level] + rng.integers(0, 5, n), dtype=pl.Int32
        ),
        pl.Series(
            "heart_rate_bpm",
            np.array([65, 85, 115, 150])[level] + rng.integers(-4, 5, n),
            dtype=pl.Float32,
        ),
        pl.Series("intensity", np.array(["sedentary", "light", "moderate", "vigorous"])[level]),
        (pl.col("local") - pl.col("minute_utc").dt.replace_time_zone(None))
        .dt.total_minutes()
        .cast(pl.Int16)
        .alias("utc_offset_minutes"),
    )
    return frame.select("minute_utc", "utc_offset_minutes", "steps", "heart_rate_bpm", "intensity")
