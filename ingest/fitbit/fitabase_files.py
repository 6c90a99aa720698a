"""What each Fitabase file kind holds, and its rows as canonical frames (before placing in time).

``SPECS`` names, per kind (the file name without ``_merged.csv``), the time
column(s) and value columns a file must have; minute files become
``participant_id``, naive ``local`` minute and canonical value columns, daily
files become ``daily_totals`` columns keyed by the local date, with ``worn``
false on a day of nothing but 1440 sedentary minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from config.schema import PLAUSIBLE_HEART_RATE_BPM
from ingest.fitbit.bouting import BoutDecision
from ingest.fitbit.tables import FITABASE_INTENSITY_LABELS, SOURCE_FITABASE
from ingest.salvage import checked_number

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class FileSpec:
    """What one Fitabase kind needs: its time column(s) and the value columns it reads."""

    time_columns: tuple[str, ...]
    values: tuple[str, ...]
    wide_prefix: str | None = None
    value_type: pl.DataType = pl.Int32()
    """The type the values are stored as: one that cannot hold a value makes it unreadable."""


SPECS: dict[str, FileSpec] = {
    "daily_activity": FileSpec(
        ("ActivityDate",),
        (
            "TotalSteps",
            "VeryActiveMinutes",
            "FairlyActiveMinutes",
            "LightlyActiveMinutes",
            "SedentaryMinutes",
        ),
    ),
    "daily_intensities": FileSpec(
        ("ActivityDay",),
        ("SedentaryMinutes", "LightlyActiveMinutes", "FairlyActiveMinutes", "VeryActiveMinutes"),
    ),
    "daily_steps": FileSpec(("ActivityDay",), ("StepTotal",)),
    "minute_intensities_narrow": FileSpec(("ActivityMinute",), ("Intensity",)),
    "minute_steps_narrow": FileSpec(("ActivityMinute",), ("Steps",)),
    "minute_mets_narrow": FileSpec(("ActivityMinute",), ("METs",), value_type=pl.Float32()),
    "heartrate_seconds": FileSpec(("Time",), ("Value",), value_type=pl.Float32()),
    "minute_intensities_wide": FileSpec(("ActivityHour",), (), wide_prefix="Intensity"),
    "minute_steps_wide": FileSpec(("ActivityHour",), (), wide_prefix="Steps"),
}


def to_int(col: str) -> pl.Expr:
    """``col`` as Int32; a value that is not a whole number in range is null (and counted by the caller)."""
    return checked_number(pl.col(col), pl.Int32())


def minute_frame(suffix: str, rows: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    """participant_id, local minute and the canonical value column(s) of a minute-level file."""
    if spec.wide_prefix is not None:
        cols = [f"{spec.wide_prefix}{m:02d}" for m in range(60)]
        rows = rows.unpivot(
            index=["participant_id", "local"], on=cols, variable_name="col", value_name="v"
        ).with_columns(
            (
                pl.col("local")
                + pl.duration(minutes=pl.col("col").str.slice(len(spec.wide_prefix)).cast(pl.Int32))
            ).alias("local")
        )
        value = "v"
    else:
        value = spec.values[0]
    if suffix != "heartrate_seconds":
        rows = rows.with_columns(pl.col("local").dt.truncate("1m"))
    if suffix.startswith("minute_intensities"):
        labels = pl.DataFrame(
            {
                "code": list(range(len(FITABASE_INTENSITY_LABELS))),
                "intensity": FITABASE_INTENSITY_LABELS,
            },
            schema={"code": pl.Int32, "intensity": pl.String},
        )
        coded = rows.select("participant_id", "local", to_int(value).alias("code"))
        return coded.join(labels, on="code", how="left").drop("code")
    if suffix.startswith("minute_steps"):
        return rows.select("participant_id", "local", to_int(value).alias("steps"))
    if suffix == "minute_mets_narrow":
        return rows.select(
            "participant_id",
            "local",
            (checked_number(pl.col(value), pl.Float32()) / 10).alias("mets"),
        )
    # heart rate: the ~5 s samples, averaged per UTC minute once placed in time (see per_minute_heart_rate)
    return rows.select(
        "participant_id",
        "local",
        checked_number(pl.col(value), pl.Float32()).alias("heart_rate_bpm"),
    )


def per_minute_heart_rate(placed: pl.DataFrame) -> pl.DataFrame:
    """Mean bpm of the samples in each UTC minute (after placement, so a DST fold's two passes stay apart)."""
    return placed.group_by("participant_id", pl.col("minute_utc").dt.truncate("1m")).agg(
        pl.col("heart_rate_bpm")
        .filter(pl.col("heart_rate_bpm").is_between(*PLAUSIBLE_HEART_RATE_BPM))
        .mean(),
        pl.col("utc_offset_minutes").first(),
        pl.col("source").first(),
        pl.col("local").min(),
    )


def daily_frame(suffix: str, rows: pl.DataFrame, bouts: BoutDecision) -> pl.DataFrame:
    """``participant_id``, ``local_date`` and the daily_totals columns of a daily file, with ``worn`` where it can tell."""
    names = {
        "VeryActiveMinutes": "vigorous_minutes",
        "FairlyActiveMinutes": "moderate_minutes",
        "LightlyActiveMinutes": "light_minutes",
        "SedentaryMinutes": "sedentary_minutes",
        "TotalSteps": "steps",
        "StepTotal": "steps",
    }
    present = [c for c in names if c in rows.columns and c in SPECS[suffix].values]
    out = rows.select(
        "participant_id",
        pl.col("local").dt.date().alias("local_date"),
        *[to_int(c).alias(names[c]) for c in present],
    )
    if "sedentary_minutes" in out.columns:
        others = [
            c for c in ("vigorous_minutes", "moderate_minutes", "light_minutes") if c in out.columns
        ]
        idle = (pl.col("sedentary_minutes") >= MINUTES_PER_DAY) & pl.all_horizontal(
            [pl.col(c) == 0 for c in others]
        )
        if "steps" in out.columns:
            idle = idle & (pl.col("steps") == 0)
        out = out.with_columns((~idle).alias("worn"))
    return out.with_columns(
        pl.lit(bouts.bouted).alias("bouted"), pl.lit(SOURCE_FITABASE).alias("source")
    )
