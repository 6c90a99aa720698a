"""The roster: who is in the study, in which time zone, with which heart-rate settings."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from config.errors import ConfigError
from config.participant_id import RULE, problem_with

ROSTER_SCHEMA: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "timezone": pl.String(),
    "birth_year": pl.Int32(),
    "resting_hr": pl.Float64(),
    "max_hr": pl.Float64(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "fitabase_id": pl.String(),
}
"""Roster columns; only participant_id and timezone are required.

``fitabase_id`` maps a Fitabase export's ``Id`` to the participant."""

REQUIRED = ("participant_id", "timezone")
_RANGES = {"birth_year": (1900, 2100), "resting_hr": (20, 150), "max_hr": (80, 240)}


def empty_roster() -> pl.DataFrame:
    return pl.DataFrame(schema=ROSTER_SCHEMA)


def _parse_dates(df: pl.DataFrame, path: Path, col: str) -> pl.DataFrame:
    if col not in df.columns:
        return df.with_columns(pl.lit(None, pl.Date).alias(col))
    raw = df[col].cast(pl.String)
    parsed = raw.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    bad = df.filter(raw.is_not_null() & (raw.str.strip_chars() != "") & parsed.is_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise ConfigError(
            f"{path}: column {col!r}, participant {row['participant_id']!r}: "
            f"{row[col]!r} is not an ISO date (YYYY-MM-DD)"
        )
    return df.with_columns(parsed.alias(col))


def parse_roster(df: pl.DataFrame, path: Path = Path("roster.csv")) -> pl.DataFrame:
    """Validate a raw roster frame (all columns as strings) into ROSTER_SCHEMA types."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ConfigError(f"{path}: missing column(s) {missing}; found {df.columns}")
    unknown = [c for c in df.columns if c not in ROSTER_SCHEMA]
    if unknown:
        raise ConfigError(f"{path}: unknown column(s) {unknown}; allowed {list(ROSTER_SCHEMA)}")
    df = df.with_columns(pl.col(c).cast(pl.String).str.strip_chars() for c in df.columns)
    empty_id = df.filter(pl.col("participant_id").is_null() | (pl.col("participant_id") == ""))
    if empty_id.height:
        raise ConfigError(f"{path}: a row has an empty participant_id")
    bad_ids = [
        f"row {n + 2}: {pid!r} {problem}"
        for n, pid in enumerate(df["participant_id"].to_list())
        if (problem := problem_with(pid)) is not None
    ]
    if bad_ids:
        raise ConfigError(
            f"{path}: {len(bad_ids)} invalid participant_id(s) ({'; '.join(bad_ids)}); a participant id must use {RULE}"
        )
    dup = df["participant_id"].filter(df["participant_id"].is_duplicated()).unique().to_list()
    if dup:
        raise ConfigError(f"{path}: participant_id listed more than once: {sorted(dup)}")
    for pid, tz in df.select("participant_id", "timezone").iter_rows():
        try:
            ZoneInfo(tz or "")
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{path}: column 'timezone', participant {pid!r}: unknown IANA time zone {tz!r} (e.g. 'Europe/Oslo')"
            ) from None
    for col, (lo, hi) in _RANGES.items():
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, ROSTER_SCHEMA[col]).alias(col))
            continue
        raw = df[col]
        num = raw.cast(ROSTER_SCHEMA[col], strict=False)
        given = raw.is_not_null() & (raw != "")
        bad = df.filter(given & (num.is_null() | (num < lo) | (num > hi)))
        if bad.height:
            row = bad.row(0, named=True)
            raise ConfigError(
                f"{path}: column {col!r}, participant {row['participant_id']!r}: "
                f"{row[col]!r} is not a number between {lo} and {hi}"
            )
        df = df.with_columns(num.alias(col))
    for col in ("start_date", "end_date"):
        df = _parse_dates(df, path, col)
    if "fitabase_id" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("fitabase_id"))
    return df.select(pl.col(c).cast(t) for c, t in ROSTER_SCHEMA.items())


def load_roster(path: Path) -> pl.DataFrame:
    """Read and validate roster.csv; a missing file is an empty roster."""
    if not path.exists():
        return empty_roster()
    try:
        df = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise ConfigError(
            f"{path}: empty file; expected a header 'participant_id,timezone,...'"
        ) from None
    return parse_roster(df, path)


def write_roster(df: pl.DataFrame, path: Path) -> None:
    """Write a roster frame as roster.csv, columns in canonical order."""
    missing = [pl.lit(None, t).alias(c) for c, t in ROSTER_SCHEMA.items() if c not in df.columns]
    df.with_columns(missing).select(list(ROSTER_SCHEMA)).write_csv(path, date_format="%Y-%m-%d")


def participant_zone(roster: pl.DataFrame, participant_id: str, default: str) -> str:
    """The participant's IANA zone, or the study default when not on the roster."""
    hit = roster.filter(pl.col("participant_id") == participant_id)
    return hit["timezone"][0] if hit.height else default
