"""FIT files for the demo cohort's Garmin participants, written from their minute truth.

* ``write_monitoring_days``: one ``monitoring_b`` wellness file per local day,
  shaped like a Garmin watch's: ``file_id``, ``monitoring_info`` (local midnight
  as ``local_timestamp``), one ``monitoring`` message per worn minute (heart
  rate, the day counter of steps of its activity type in ``cycles``, activity
  type and intensity level packed in ``current_activity_type_intensity``), a
  full timestamp on the first message of each hour and ``timestamp_16`` on the
  rest, and, stamped at the next local midnight, one ``duration_min = 1440``
  totals message per activity type.
* ``write_activity``: an activity file for one exercise session, a ``record``
  every second with heart rate and cadence (strides per minute, so steps / 2,
  with ``fractional_cadence`` for the half stride), plus ``session`` and
  ``activity``.

Intensity labels are encoded so that irisin's reading
(``ingest.fit.monitoring.LEVEL_LABEL_INDEX``) gives them back: sedentary minutes
without steps are the sedentary activity type, sedentary minutes with a few
steps are walking at level 0, light walking at level 1, moderate walking at
level 3, vigorous running at level 5.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ingest.fit.activity import ON_FOOT_SPORTS
from ingest.fit.profile import type_values
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S
from ingest.fit.writer import FitWriter

GARMIN = 1
DEMO_PRODUCT = 2413
"""``garmin_product`` fenix3_hr: a wrist-HR watch that writes monitoring_b files."""
WALKING, RUNNING, SEDENTARY = 6, 1, 8
LABEL_LEVEL = {"sedentary": 0, "light": 1, "moderate": 3, "vigorous": 5}
MONITORING_B, ACTIVITY = 32, 4


def _fit_seconds(column: str) -> pl.Expr:
    return (pl.col(column).dt.epoch("s") - FIT_EPOCH_UNIX_S).cast(pl.Int64)


def _minutes_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Per-minute activity type, level, heart rate as written, day counter of steps of the type, and
    whether the timestamp is full.

    Computed for all days at once (counters and hour anchors restart each
    ``local_day``): one polars pass instead of a handful of small queries a day.
    """
    activity_type = (
        pl.when(pl.col("intensity") == "vigorous")
        .then(RUNNING)
        .when((pl.col("intensity") == "sedentary") & (pl.col("steps") == 0))
        .then(SEDENTARY)
        .otherwise(WALKING)
    )
    return (
        frame.sort("t")
        .with_columns(
            activity_type.alias("activity_type"),
            pl.col("intensity").replace_strict(LABEL_LEVEL).alias("level"),
            pl.col("heart_rate_bpm").fill_null(0).round().cast(pl.Int64).alias("hr_value"),
            pl.col("heart_rate_bpm").is_null().alias("hr_missing"),
        )
        .with_columns(
            pl.col("steps").cum_sum().over(["local_day", "activity_type"]).alias("counter"),
            ((pl.col("t") // 3600).diff().over("local_day").fill_null(1) != 0).alias("full_time"),
        )
    )


def _day_totals(minutes: pl.DataFrame) -> pl.DataFrame:
    """Steps, minutes and labelled moderate / vigorous minutes per local day and activity type."""
    return (
        minutes.group_by("local_day", "activity_type")
        .agg(
            pl.col("steps").sum().alias("steps"),
            pl.len().alias("minutes"),
            (pl.col("intensity") == "moderate").sum().alias("moderate"),
            (pl.col("intensity") == "vigorous").sum().alias("vigorous"),
        )
        .sort("local_day", "activity_type")
    )


def _monitoring_day_bytes(
    frame: pl.DataFrame,
    totals: pl.DataFrame,
    local_day: int,
    device_serial: int,
    profile: tuple[int, int] | None = None,
    *,
    labels: bool = True,
) -> bytes:
    """One local day's monitoring_b file from that day's rows of ``_minutes_frame`` and ``_day_totals``;
    ``local_day`` counts days since the FIT epoch in local time.
    ``profile`` (resting, max HR) adds the device's own figures: ``zones_target`` max HR and a
    ``monitoring_hr_data`` resting HR at the day's end. ``labels=False`` writes the activity type
    without the intensity level (as devices without their own intensity label do), so heart
    rate classifies the minutes."""
    offset_start = int(frame["utc_offset_minutes"][0]) * 60
    offset_end = int(frame["utc_offset_minutes"][-1]) * 60
    midnight_local = local_day * 86400
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "product", "serial_number", "time_created"])
    w.write(0, [MONITORING_B, GARMIN, DEMO_PRODUCT, device_serial, midnight_local - offset_start])
    w.define(1, "monitoring_info", ["timestamp", "local_timestamp"])
    w.write(1, [midnight_local - offset_start, midnight_local])
    kind = "current_activity_type_intensity" if labels else "activity_type"
    w.define(2, "monitoring", ["timestamp", "cycles", "heart_rate", kind])
    w.define(3, "monitoring", ["timestamp_16", "cycles", "heart_rate", kind])
    t = frame["t"].to_numpy()
    activity_type = frame["activity_type"].to_numpy()
    counter = np.ma.masked_array(frame["counter"].to_numpy(), mask=activity_type == SEDENTARY)
    heart_rate = np.ma.masked_array(
        frame["hr_value"].to_numpy(), mask=frame["hr_missing"].to_numpy()
    )
    packed = activity_type | (frame["level"].to_numpy() << 5) if labels else activity_type
    starts = np.flatnonzero(frame["full_time"].to_numpy())
    anchored = w.encode_many(2, [t, counter, heart_rate, packed])
    compressed = w.encode_many(3, [t & 0xFFFF, counter, heart_rate, packed])
    for begin, end in zip(starts, np.append(starts[1:], t.size), strict=True):
        w.raw(anchored[begin : begin + 1].tobytes())
        w.raw(compressed[begin + 1 : end].tobytes())
    w.define(
        4,
        "monitoring",
        [
            "timestamp",
            "activity_type",
            "cycles",
            "active_time",
            "duration_min",
            "moderate_activity_minutes",
            "vigorous_activity_minutes",
        ],
    )
    next_midnight = midnight_local + 86400 - offset_end
    n = totals.height
    types = totals["activity_type"].to_numpy()
    w.write_many(
        4,
        [
            np.full(n, next_midnight),
            types,
            np.ma.masked_array(totals["steps"].to_numpy(), mask=types == SEDENTARY),
            totals["minutes"].to_numpy() * 60_000,
            np.full(n, 1440),
            totals["moderate"].to_numpy(),
            totals["vigorous"].to_numpy(),
        ],
    )
    if profile is not None:
        resting, max_hr = profile
        w.define(5, "zones_target", ["max_heart_rate"])
        w.write(5, [max_hr])
        w.define(6, "monitoring_hr_data", ["timestamp", "resting_heart_rate"])
        w.write(6, [next_midnight - 1, resting])
    return w.to_bytes()


def write_monitoring_days(
    truth: pl.DataFrame,
    out_dir: Path,
    *,
    device_serial: int,
    profile: tuple[int, int] | None = None,
    labels: bool = True,
) -> list[Path]:
    """One monitoring file per local day of ``truth`` (worn minutes only), named like Garmin's uploads;
    ``profile`` (resting, max HR) goes into every file and ``labels`` says whether minutes carry
    the device's intensity level (see ``_monitoring_day_bytes``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = truth.with_columns(_fit_seconds("minute_utc").alias("t")).with_columns(
        ((pl.col("t") + pl.col("utc_offset_minutes").cast(pl.Int64) * 60) // 86400).alias(
            "local_day"
        )
    )
    minutes = _minutes_frame(frame)
    totals = _day_totals(minutes).partition_by("local_day", as_dict=True)
    paths = []
    for (local_day,), day in minutes.partition_by(
        "local_day", maintain_order=True, as_dict=True
    ).items():
        day_date = date(1989, 12, 31) + timedelta(days=int(local_day))
        path = out_dir / f"{device_serial}_{day_date:%Y%m%d}_WELLNESS.fit"
        path.write_bytes(
            _monitoring_day_bytes(
                day,
                totals[(local_day,)],
                int(local_day),
                device_serial,
                profile,
                labels=labels,
            )
        )
        paths.append(path)
    return paths


def _sport_number(sport: str) -> int:
    """The FIT ``sport`` value of a profile name; unknown names are ``generic`` (0)."""
    numbers = {name: num for num, name in type_values("sport").items()}
    return numbers.get(sport, 0)


def activity_bytes(
    truth: pl.DataFrame, start_utc: datetime, end_utc: datetime, sport: str, device_serial: int = 1
) -> bytes:
    """An activity file for one session: a record per second of the worn truth minutes inside [start, end)."""
    minutes = truth.filter(
        (pl.col("minute_utc") >= start_utc) & (pl.col("minute_utc") < end_utc)
    ).sort("minute_utc")
    start_t = int(start_utc.timestamp()) - FIT_EPOCH_UNIX_S
    end_t = int(end_utc.timestamp()) - FIT_EPOCH_UNIX_S
    minute_t = minutes.select(_fit_seconds("minute_utc")).to_series().to_numpy()
    seconds = (minute_t[:, None] + np.arange(60)).reshape(-1)
    keep = (seconds >= start_t) & (seconds < end_t)

    def per_second(values: np.ndarray) -> np.ndarray:
        repeated: np.ndarray = np.repeat(values, 60)[keep]
        return repeated

    t = seconds[keep]
    hr = per_second(minutes["heart_rate_bpm"].fill_null(0).round().cast(pl.Int64).to_numpy())
    hr_missing = per_second(minutes["heart_rate_bpm"].is_null().to_numpy())
    strides = per_second(minutes["steps"].to_numpy()) / 2.0
    on_foot = sport in ON_FOOT_SPORTS
    cadence = np.floor(strides).astype(np.int64)
    fraction = np.rint((strides - cadence) * 128).astype(np.int64)
    offset_s = int(minutes["utc_offset_minutes"][0]) * 60 if minutes.height else 0
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "product", "serial_number", "time_created"])
    w.write(0, [ACTIVITY, GARMIN, DEMO_PRODUCT, device_serial, start_t])
    w.define(4, "sport", ["sport"])  # as watches do: the sport first, the session at the end
    w.write(4, [_sport_number(sport)])
    w.define(1, "record", ["timestamp", "heart_rate", "cadence", "fractional_cadence"])
    w.write_many(
        1,
        [
            t,
            np.ma.masked_array(hr, mask=hr_missing),
            np.ma.masked_array(cadence, mask=not on_foot),
            np.ma.masked_array(fraction, mask=not on_foot),
        ],
    )
    w.define(
        2,
        "session",
        [
            "timestamp",
            "start_time",
            "sport",
            "total_elapsed_time",
            "total_timer_time",
            "avg_heart_rate",
            "max_heart_rate",
            "total_cycles",
        ],
    )
    valid_hr = hr[~hr_missing]
    w.write(
        2,
        [
            end_t,
            start_t,
            _sport_number(sport),
            (end_t - start_t) * 1000,
            t.size * 1000,
            int(round(valid_hr.mean())) if valid_hr.size else None,
            int(valid_hr.max()) if valid_hr.size else None,
            int(round(strides.sum() / 60)) if on_foot else None,
        ],
    )
    w.define(3, "activity", ["timestamp", "local_timestamp", "num_sessions", "total_timer_time"])
    w.write(3, [end_t, end_t + offset_s, 1, t.size * 1000])
    return w.to_bytes()


def write_activity(
    truth: pl.DataFrame, start_utc: datetime, end_utc: datetime, out_path: Path, sport: str
) -> Path:
    """Write ``activity_bytes`` for the session to ``out_path``."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(activity_bytes(truth, start_utc, end_utc, sport))
    return out_path
