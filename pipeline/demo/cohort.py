"""A deterministic synthetic cohort with known minute-level truth.

Each participant has a time zone, heart-rate settings, a behaviour profile
and a device format. The truth is a frame of worn minutes (UTC, with the
local offset) carrying steps, heart rate and the intensity label; every
method irisin uses to classify a minute (device label, % heart-rate reserve,
cadence) agrees on it by construction, so the expected weekly table does not
depend on which method a format allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from config.schema import INTENSITY_LEVELS

STUDY_START = date(2026, 3, 2)
"""A Monday; eight weeks from here cross the US (8 March) and EU (29 March) DST changes."""
STUDY_WEEKS = 8

# Fraction of heart-rate reserve and steps per minute typical of each level;
# both sit well inside the default thresholds (40 % / 60 % HRR, 100 / 130 spm).
_HRR_FRACTION = np.array([0.15, 0.30, 0.50, 0.72])
_CADENCE = np.array([3, 55, 112, 142])


@dataclass(frozen=True)
class DemoParticipant:
    """One synthetic participant and how they behave."""

    participant_id: str
    timezone: str
    birth_year: int
    resting_hr: int
    max_hr: int
    fmt: str
    """Raw format their data arrives in: fit, garmin_export, fitbit_json, fitbit_csv, fitabase, apple_health,
    fit+tcx / fit+gpx (FIT monitoring plus a weekly run as a TCX or GPX file)."""
    mvpa_minutes_per_week: int
    wear_hours_per_day: float = 15.0
    last_day: int | None = None
    """Index of the last day with data (participants who stopped syncing)."""
    skip_days: tuple[int, ...] = field(default_factory=tuple)
    """Days (index from the study start) without any wear."""
    vigorous_share: float = 0.3
    roster_timezone: str | None = None
    """The zone roster.csv gives, when it is not the one they live in (a roster mistake)."""
    heart_rate: bool = True
    """False for a step-only device: no heart rate is recorded, so wear follows the step rule."""
    roster_hr_params: bool = True
    """False when roster.csv holds only id and zone: resting and max HR come from the device's
    profile (written into the FIT files, which then carry no intensity label of their own)."""

    @property
    def roster_zone(self) -> str:
        """The zone irisin is told (roster.csv): where weeks and days are counted."""
        return self.roster_timezone or self.timezone


COHORT: tuple[DemoParticipant, ...] = (
    DemoParticipant("P01", "Europe/Oslo", 1980, 58, 182, "fit", 150),
    DemoParticipant("P02", "Europe/Oslo", 1972, 64, 176, "fit+tcx", 61),
    DemoParticipant("P03", "America/New_York", 1990, 60, 188, "fit+gpx", 59),
    DemoParticipant("P04", "Australia/Brisbane", 1985, 55, 185, "fitbit_json", 95),
    DemoParticipant("P05", "America/Phoenix", 1966, 66, 170, "fitbit_csv", 40),
    DemoParticipant(
        "P06", "Asia/Kolkata", 1995, 62, 190, "fitabase", 75, skip_days=(3, 10, 11, 12, 13)
    ),
    DemoParticipant("P07", "America/Los_Angeles", 1978, 60, 180, "fitabase", 120),
    DemoParticipant(
        "P08", "Europe/London", 1988, 57, 184, "garmin_export", 200, vigorous_share=0.6
    ),
    DemoParticipant("P09", "Europe/Oslo", 1959, 68, 165, "garmin_export", 30),
    DemoParticipant("P10", "UTC", 1983, 61, 183, "apple_health", 70, wear_hours_per_day=8.0),
    DemoParticipant("P11", "America/New_York", 1975, 63, 178, "fitbit_json", 90, last_day=34),
    DemoParticipant(
        "P12", "Australia/Brisbane", 1992, 59, 189, "fit", 65, skip_days=tuple(range(14, 21))
    ),
    DemoParticipant("P13", "America/Los_Angeles", 1987, 61, 183, "fit", 80, roster_timezone="UTC"),
    DemoParticipant("P14", "America/Chicago", 1981, 62, 181, "fitbit_csv", 85, heart_rate=False),
    DemoParticipant("P15", "Europe/Oslo", 1970, 56, 178, "fit", 70, roster_hr_params=False),
)
"""P02/P03 sit on either side of the hour; P10 rarely wears the device long
enough (insufficient weeks); P11 stops syncing after day 34; P12 has a week
without any wear; P13 lives in Los Angeles but roster.csv says UTC (the time-zone check
flags it; its weeks are counted in UTC, as irisin is told); P14 wears a step-only
Fitbit (Takeout CSV without heart rate; its wear follows the step rule, and the device
reports two hours of zeros on the nightstand before each day's wear, which is non-wear); P15's
roster holds only id and zone, and its FIT files carry no intensity label, so heart rate
classifies its minutes with the resting and max HR of the files' device profile; P06 has a sparse second week; P10's data is an Apple Health export (iPhone and Watch
steps overlapping); P02 and P03 also upload a weekly run as TCX / GPX."""


def _day_minutes(
    rng: np.random.Generator, p: DemoParticipant, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Local minute-of-study indices of worn minutes and their intensity level."""
    wear_len = int(p.wear_hours_per_day * 60)
    days = [
        d for d in range(n_days) if d not in p.skip_days and (p.last_day is None or d <= p.last_day)
    ]
    minute_idx: list[np.ndarray] = []
    level: list[np.ndarray] = []
    per_day = p.mvpa_minutes_per_week / 7.0
    # Spread the weekly dose over days with a little noise but an exact weekly sum.
    for week_start in range(0, n_days, 7):
        week_days = [d for d in days if week_start <= d < week_start + 7]
        if not week_days:
            continue
        total = int(round(per_day * len(week_days)))
        weights = rng.dirichlet(np.ones(len(week_days)) * 3)
        alloc = np.floor(weights * total).astype(int)
        alloc[: total - alloc.sum()] += 1
        for d, active in zip(week_days, alloc, strict=True):
            start = 7 * 60 + int(rng.integers(0, 45))
            lv = np.where(rng.random(wear_len) < 0.35, 1, 0)
            if active:
                bout_start = int(rng.integers(60, wear_len - active - 60))
                n_vig = int(round(active * p.vigorous_share))
                lv[bout_start : bout_start + active] = 2
                lv[bout_start : bout_start + n_vig] = 3
            minute_idx.append(d * 1440 + start + np.arange(wear_len))
            level.append(lv)
    if not minute_idx:
        return np.empty(0, np.int64), np.empty(0, np.int8)
    return np.concatenate(minute_idx), np.concatenate(level).astype(np.int8)


def truth_minutes(p: DemoParticipant, seed: int, weeks: int = STUDY_WEEKS) -> pl.DataFrame:
    """Worn minutes of one participant: UTC minute, offset, steps, heart rate, label."""
    rng = np.random.default_rng([seed, int(p.participant_id.lstrip("P"))])
    idx, lv = _day_minutes(rng, p, weeks * 7)
    hrr = _HRR_FRACTION[lv] + rng.uniform(-0.04, 0.04, lv.size)
    hr = np.round(p.resting_hr + hrr * (p.max_hr - p.resting_hr))
    steps = np.maximum(_CADENCE[lv] + rng.integers(-3, 4, lv.size), 0)
    steps[lv == 0] = rng.integers(0, 6, int((lv == 0).sum()))
    if not p.heart_rate and idx.size:
        # A step-only device: the first and last worn minute of each day carry steps, so the
        # day's wear ends where the step rule ends it (see ``device_minutes``).
        breaks = np.flatnonzero(np.diff(idx) != 1)
        for edge in (np.r_[0, breaks + 1], np.r_[breaks, idx.size - 1]):
            steps[edge] = np.maximum(steps[edge], 1)
        hr = np.full(lv.size, np.nan)
    base = np.datetime64(STUDY_START.isoformat(), "m")
    local = base + idx.astype("timedelta64[m]")
    frame = pl.DataFrame(
        {
            "local": local.astype("datetime64[us]"),
            "steps": steps.astype(np.int32),
            "heart_rate_bpm": pl.Series(hr.astype(np.float32), nan_to_null=True),
            "intensity": np.array(INTENSITY_LEVELS)[lv],
        }
    )
    zoned = pl.col("local").dt.replace_time_zone(
        p.timezone, ambiguous="earliest", non_existent="null"
    )
    frame = frame.with_columns(zoned.alias("_zoned")).drop_nulls("_zoned")
    frame = frame.with_columns(pl.col("_zoned").dt.convert_time_zone("UTC").alias("minute_utc"))
    frame = frame.with_columns(
        ((pl.col("local") - pl.col("minute_utc").dt.replace_time_zone(None)).dt.total_minutes())
        .cast(pl.Int16)
        .alias("utc_offset_minutes")
    )
    # An ambiguous autumn hour maps two local minutes onto one UTC minute: keep one.
    frame = frame.unique("minute_utc", keep="first", maintain_order=True)
    return frame.select("minute_utc", "utc_offset_minutes", "steps", "heart_rate_bpm", "intensity")


NIGHTSTAND_MINUTES = 120
"""Minutes of zero steps a step-only device reports before each day's wear (left on the nightstand)."""


def device_minutes(p: DemoParticipant, truth: pl.DataFrame) -> pl.DataFrame:
    """The minutes a participant's device reports: the worn truth minutes, plus, for a step-only
    device, ``NIGHTSTAND_MINUTES`` of zero steps before each day's first worn minute (in the same local day). Those are not
    worn: a run of 90 or more zero minutes is non-wear under the step rule (Choi et al. 2011)."""
    if p.heart_rate or truth.height == 0:
        return truth
    starts = truth.sort("minute_utc").filter(
        (pl.col("minute_utc") - pl.col("minute_utc").shift(1) > pl.duration(hours=1))
        | pl.col("minute_utc").shift(1).is_null()
    )
    extra = (
        starts.select(
            pl.col("minute_utc"),
            pl.col("utc_offset_minutes"),
            pl.int_ranges(1, NIGHTSTAND_MINUTES + 1).alias("_k"),
        )
        .explode("_k", empty_as_null=True)
        .select(
            (pl.col("minute_utc") - pl.duration(minutes=pl.col("_k"))).alias("minute_utc"),
            pl.col("utc_offset_minutes"),
            pl.lit(0, pl.Int32).alias("steps"),
            pl.lit(None, pl.Float32).alias("heart_rate_bpm"),
            pl.lit("sedentary").alias("intensity"),
        )
    )
    return pl.concat([truth, extra]).sort("minute_utc")
