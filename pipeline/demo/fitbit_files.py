"""Synthetic Fitbit exports written from a participant's ground-truth minutes.

Three layouts, matching what real exports look like (``../shared/FORMATS.md``):

* ``write_takeout_json``: a legacy-style JSON family under
  ``Takeout/Fitbit/Global Export Data``: UTC stamps in files named for the
  local date, ~5 s heart-rate samples whose mean is the minute's bpm, steps for
  every minute of every local day (zero when not worn), daily
  lightly/moderately/very/sedentary totals (a day without wear is 1440
  sedentary minutes);
* ``write_takeout_csv``: the CSV family under ``Takeout/Fitbit/Physical
  Activity_GoogleData`` (``Z`` stamps, files split at 00:00Z: minute series
  monthly, heart rate daily), including Active Zone Minutes with their double
  credits for vigorous minutes;
* ``write_fitabase``: a Fitabase export for several participants (local wall
  times ``M/D/YYYY h:mm:ss AM/PM``, every minute of every covered local day).

Everything is built with polars expressions and written in one pass per file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import cast

import polars as pl

from config.schema import INTENSITY_LEVELS

JSON_DIR = ("Takeout", "Fitbit", "Global Export Data")
CSV_DIR = ("Takeout", "Fitbit", "Physical Activity_GoogleData")
FITABASE_DIR = "Fitabase Data"

SAMPLES_PER_MINUTE = 12
WOBBLE = (-2, -1, 0, 1, 2, 0, -1, 1, 0, 2, -2, 0)
"""Offsets of the 12 heart-rate samples of a minute around its bpm; they sum to zero."""
STEPS_FILE_DAYS = 30

_FITBIT_STAMP = "%m/%d/%y %H:%M:%S"
_FITABASE_STAMP = "%-m/%-d/%Y %-I:%M:%S %p"
_CODE = {level: code for code, level in enumerate(INTENSITY_LEVELS)}
_METS_X10 = {"sedentary": 10, "light": 25, "moderate": 45, "vigorous": 75}


def _with_local(truth: pl.DataFrame, tz: str) -> pl.DataFrame:
    return truth.with_columns(
        pl.col("minute_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None).alias("local")
    ).with_columns(pl.col("local").dt.date().alias("local_date"))


def _all_local_minutes(truth: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Every UTC minute of every local day from the first to the last day of ``truth``."""
    local = _with_local(truth, tz)
    first, last = cast(date, local["local_date"].min()), cast(date, local["local_date"].max())
    days = pl.DataFrame({"local_date": pl.date_range(first, last, "1d", eager=True)})
    bounds = days.with_columns(
        *[
            (pl.col("local_date") + pl.duration(days=k))
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
            .alias(name)
            for k, name in ((0, "start"), (1, "end"))
        ]
    )
    minutes = (
        bounds.drop_nulls()
        .select(
            "local_date",
            pl.datetime_ranges("start", "end", "1m", closed="left").alias("minute_utc"),
        )
        .explode("minute_utc", empty_as_null=True)
    )
    return minutes.join(truth, on="minute_utc", how="left")


def _heart_rate_samples(truth: pl.DataFrame) -> pl.DataFrame:
    """Twelve 5-second samples per worn minute whose mean is the minute's bpm."""
    wobble = pl.Series("wobble", WOBBLE, dtype=pl.Int32)
    offsets = pl.DataFrame({"k": range(SAMPLES_PER_MINUTE), "wobble": wobble})
    return (
        truth.select("minute_utc", "heart_rate_bpm")
        .join(offsets, how="cross")
        .select(
            (pl.col("minute_utc") + pl.duration(seconds=5 * pl.col("k"))).alias("stamp_utc"),
            (pl.col("heart_rate_bpm").round(0).cast(pl.Int32) + pl.col("wobble")).alias("bpm"),
            (pl.col("k") % 4).alias("confidence"),
        )
        .sort("stamp_utc")
    )


def _json_array(records: pl.Expr) -> pl.Expr:
    """A pretty-printed JSON array body, as Fitbit writes it (``[{...},{...}]``)."""
    return pl.concat_str(pl.lit("["), records.str.join(","), pl.lit("]"))


def _write_groups(frame: pl.DataFrame, name_col: str, text_col: str, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in frame.select(name_col, text_col).iter_rows():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _daily_levels(truth: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Per local day (non-wear days included): light/moderate/very/sedentary minute counts."""
    all_minutes = _all_local_minutes(truth, tz)
    return (
        all_minutes.group_by("local_date")
        .agg(
            (pl.col("intensity") == "light").sum().alias("lightly_active_minutes"),
            (pl.col("intensity") == "moderate").sum().alias("moderately_active_minutes"),
            (pl.col("intensity") == "vigorous").sum().alias("very_active_minutes"),
            pl.len().alias("day_minutes"),
        )
        .with_columns(
            (
                1440
                - pl.col("lightly_active_minutes")
                - pl.col("moderately_active_minutes")
                - pl.col("very_active_minutes")
            ).alias("sedentary_minutes")
        )
        .sort("local_date")
    )


def _chunk_name(prefix: str, sep: str, ext: str, day_col: str = "first_day") -> pl.Expr:
    return pl.concat_str(pl.lit(prefix + sep), pl.col(day_col).dt.strftime("%Y-%m-%d"), pl.lit(ext))


def write_takeout_json(truth: pl.DataFrame, out_dir: Path, tz: str) -> Path:
    """Write a legacy JSON-family Takeout folder for one participant; returns the export root."""
    root = Path(out_dir)
    folder = root.joinpath(*JSON_DIR)
    local = _with_local(truth, tz)
    # heart rate: one file per local date, UTC stamps
    samples = _heart_rate_samples(truth).with_columns(
        pl.col("stamp_utc").dt.convert_time_zone(tz).dt.date().alias("local_date")
    )
    record = pl.concat_str(
        pl.lit('{\n  "dateTime" : "'),
        pl.col("stamp_utc").dt.strftime(_FITBIT_STAMP),
        pl.lit('",\n  "value" : {\n    "bpm" : '),
        pl.col("bpm").cast(pl.String),
        pl.lit(',\n    "confidence" : '),
        pl.col("confidence").cast(pl.String),
        pl.lit("\n  }\n}"),
    )
    hr_files = (
        samples.group_by("local_date")
        .agg(_json_array(record).alias("text"))
        .with_columns(_chunk_name("heart_rate", "-", ".json", "local_date").alias("name"))
    )
    _write_groups(hr_files, "name", "text", folder)
    # steps: every minute of every local day, in files of 30 local days named for their first day
    minutes = _all_local_minutes(truth, tz).with_columns(pl.col("steps").fill_null(0))
    first = local["local_date"].min()
    minutes = minutes.with_columns(
        ((pl.col("local_date") - pl.lit(first)).dt.total_days() // STEPS_FILE_DAYS).alias("chunk")
    )
    steps_record = pl.concat_str(
        pl.lit('{\n  "dateTime" : "'),
        pl.col("minute_utc").dt.strftime(_FITBIT_STAMP),
        pl.lit('",\n  "value" : "'),
        pl.col("steps").cast(pl.String),
        pl.lit('"\n}'),
    )
    steps_files = (
        minutes.sort("minute_utc")
        .group_by("chunk")
        .agg(pl.col("local_date").min().alias("first_day"), _json_array(steps_record).alias("text"))
        .with_columns(_chunk_name("steps", "-", ".json").alias("name"))
    )
    _write_groups(steps_files, "name", "text", folder)
    # daily totals keyed by local date, in files of 30 days
    daily = _daily_levels(truth, tz).with_columns(
        ((pl.col("local_date") - pl.lit(first)).dt.total_days() // STEPS_FILE_DAYS).alias("chunk")
    )
    for series in (
        "lightly_active_minutes",
        "moderately_active_minutes",
        "very_active_minutes",
        "sedentary_minutes",
    ):
        day_record = pl.concat_str(
            pl.lit('{\n  "dateTime" : "'),
            pl.col("local_date").cast(pl.Datetime("us")).dt.strftime(_FITBIT_STAMP),
            pl.lit('",\n  "value" : "'),
            pl.col(series).cast(pl.String),
            pl.lit('"\n}'),
        )
        files = (
            daily.group_by("chunk")
            .agg(
                pl.col("local_date").min().alias("first_day"), _json_array(day_record).alias("text")
            )
            .with_columns(_chunk_name(series, "-", ".json").alias("name"))
        )
        _write_groups(files, "name", "text", folder)
    return root


def _csv_text(frame: pl.DataFrame, group: str, columns: list[str]) -> pl.DataFrame:
    """One CSV document per group: header plus rows of the given (already string) columns."""
    header = ",".join(columns)
    row = pl.concat_str([pl.col(c) for c in columns], separator=",")
    return frame.group_by(group).agg(
        pl.concat_str(pl.lit(header + "\n"), row.str.join("\n"), pl.lit("\n")).alias("text")
    )


def write_takeout_csv(
    truth: pl.DataFrame, out_dir: Path, tz: str, *, heart_rate: bool = True
) -> Path:
    """Write a CSV-family Takeout folder for one participant; returns the export root.

    ``heart_rate=False`` writes a step-only device's export: steps and active minutes,
    no ``heart_rate_*`` or ``active_zone_minutes_*`` files.

    ``tz`` does not affect the bytes (every stamp is UTC); it is accepted for a
    signature shared with the other writers.
    """
    del tz
    root = Path(out_dir)
    folder = root.joinpath(*CSV_DIR)
    stamp = pl.col("minute_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp")
    month = pl.col("minute_utc").dt.truncate("1mo").alias("file_day")
    worn = truth.sort("minute_utc").with_columns(stamp, month)
    steps = _csv_text(
        worn.with_columns(pl.col("steps").cast(pl.String)), "file_day", ["timestamp", "steps"]
    )
    active = worn.filter(pl.col("intensity") != "sedentary").with_columns(
        *[
            (pl.col("intensity") == level).cast(pl.Int8).cast(pl.String).alias(name)
            for level, name in (("light", "light"), ("moderate", "moderate"), ("vigorous", "very"))
        ]
    )
    active_files = _csv_text(active, "file_day", ["timestamp", "light", "moderate", "very"])
    azm = worn.filter(pl.col("intensity").is_in(["moderate", "vigorous"])).with_columns(
        pl.when(pl.col("intensity") == "vigorous")
        .then(pl.lit("cardio"))
        .otherwise(pl.lit("fat_burn"))
        .alias("heart rate zone"),
        pl.when(pl.col("intensity") == "vigorous")
        .then(pl.lit("2"))
        .otherwise(pl.lit("1"))
        .alias("total minutes"),
    )
    azm_files = _csv_text(azm, "file_day", ["timestamp", "heart rate zone", "total minutes"])
    samples = _heart_rate_samples(truth).with_columns(
        pl.col("stamp_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp"),
        pl.format("{}.0", pl.col("bpm")).alias("beats per minute"),
        pl.col("stamp_utc").dt.truncate("1d").alias("file_day"),
    )
    hr_files = _csv_text(samples, "file_day", ["timestamp", "beats per minute"])
    groups = [("steps", steps), ("active_minutes", active_files)]
    if heart_rate:
        groups += [("active_zone_minutes", azm_files), ("heart_rate", hr_files)]
    for prefix, files in groups:
        named = files.with_columns(_chunk_name(prefix, "_", ".csv", "file_day").alias("name"))
        _write_groups(named, "name", "text", folder)
    return root


def write_fitabase(
    truths: dict[str, pl.DataFrame], out_dir: Path, tz_by_id: dict[str, str]
) -> Path:
    """Write a Fitabase export holding every participant in ``truths`` (keyed by numeric Id)."""
    root = Path(out_dir) / FITABASE_DIR
    root.mkdir(parents=True, exist_ok=True)
    minute_frames, hr_frames, daily_frames = [], [], []
    for fid, truth in truths.items():
        tz = tz_by_id[fid]
        minutes = _all_local_minutes(truth, tz).with_columns(
            pl.lit(fid).alias("Id"),
            pl.col("minute_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None).alias("local"),
            pl.col("intensity").fill_null("sedentary"),
            pl.col("steps").fill_null(0),
        )
        minute_frames.append(
            minutes.select("Id", "minute_utc", "local", "local_date", "intensity", "steps")
        )
        hr_frames.append(
            _heart_rate_samples(truth).select(
                pl.lit(fid).alias("Id"),
                pl.col("stamp_utc")
                .dt.convert_time_zone(tz)
                .dt.replace_time_zone(None)
                .alias("local"),
                "stamp_utc",
                "bpm",
            )
        )
        daily_frames.append(_daily_levels(truth, tz).with_columns(pl.lit(fid).alias("Id")))
    # rows in time order, as Fitabase writes them (a DST fold's repeated wall times stay in sequence)
    minutes = pl.concat(minute_frames).sort("Id", "minute_utc")
    stamp = pl.col("local").dt.strftime(_FITABASE_STAMP).alias("ActivityMinute")
    code = pl.col("intensity").replace_strict(_CODE, return_dtype=pl.Int8)
    minutes.select("Id", stamp, code.alias("Intensity")).write_csv(
        root / "minuteIntensitiesNarrow_merged.csv"
    )
    minutes.select("Id", stamp, "steps").rename({"steps": "Steps"}).write_csv(
        root / "minuteStepsNarrow_merged.csv"
    )
    minutes.select(
        "Id",
        stamp,
        pl.col("intensity").replace_strict(_METS_X10, return_dtype=pl.Int32).alias("METs"),
    ).write_csv(root / "minuteMETsNarrow_merged.csv")
    pl.concat(hr_frames).sort("Id", "stamp_utc").select(
        "Id",
        pl.col("local").dt.strftime(_FITABASE_STAMP).alias("Time"),
        pl.col("bpm").alias("Value"),
    ).write_csv(root / "heartrate_seconds_merged.csv")
    steps = minutes.group_by("Id", "local_date").agg(pl.col("steps").sum().alias("TotalSteps"))
    daily = (
        pl.concat(daily_frames)
        .join(steps, on=["Id", "local_date"], how="left")
        .sort("Id", "local_date")
    )
    day = pl.col("local_date").dt.strftime("%-m/%-d/%Y")
    daily.select(
        "Id",
        day.alias("ActivityDay"),
        pl.col("sedentary_minutes").alias("SedentaryMinutes"),
        pl.col("lightly_active_minutes").alias("LightlyActiveMinutes"),
        pl.col("moderately_active_minutes").alias("FairlyActiveMinutes"),
        pl.col("very_active_minutes").alias("VeryActiveMinutes"),
    ).write_csv(root / "dailyIntensities_merged.csv")
    daily.select(
        "Id",
        day.alias("ActivityDate"),
        "TotalSteps",
        pl.col("very_active_minutes").alias("VeryActiveMinutes"),
        pl.col("moderately_active_minutes").alias("FairlyActiveMinutes"),
        pl.col("lightly_active_minutes").alias("LightlyActiveMinutes"),
        pl.col("sedentary_minutes").alias("SedentaryMinutes"),
    ).write_csv(root / "dailyActivity_merged.csv")
    return root
