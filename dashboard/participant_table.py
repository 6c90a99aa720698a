"""The coordinators' participant table: one row per roster participant, with flags.

Pure polars, no Streamlit and no database, so every flag rule is unit-tested on
hand-made frames.

Flags are evaluated relative to each participant's own last data, the way
commercial adherence tools do, so data that is simply not uploaded yet raises
no false alarm:

- ``no data for N days``: N local calendar days between the participant's last
  data and "today" in their zone (``as_of``, or at most the study's latest data
  day with ``clamp_to_data``), raised when N >= ``[alerts] no_data_days``; not
  raised after the roster's ``end_date``. A participant on
  the roster with no data at all gets ``no data yet``.
- ``low wear``: mean wear over the 7 local days ending on the last *complete*
  day of data (the day of the last data unless that day stopped before 23:59)
  is below ``[alerts] low_wear_minutes_per_day``. Days without a ``daily`` row
  count as 0 minutes; days before the participant's first data (or roster
  start_date) are left out of the mean, so a new participant is not flagged.
- ``below the hour K weeks running``: the latest K or more *complete* weeks up
  to the last complete day of data are consecutive and all ``below``, with K
  >= ``[alerts] below_weeks_running``. An insufficient or missing week ends the
  run: too little wear says nothing about the hour.

"This week" is the local week containing the reference day (the day of the
latest data in the study, see :func:`reference_day`) and "last complete week"
the one before it; weeks are taken from the ``weekly`` table, so both calendar
and study-relative weeks work.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl

from config.study import AlertsSection

TABLE_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "flags",
    "last_data",
    "days_since_data",
    "this_week_minutes",
    "last_week_minutes",
    "last_week_status",
    "current_streak",
    "weeks_met",
    "weeks_sufficient",
    "wear_7d_minutes_per_day",
    "timezone",
)
"""Columns of the table, in display order (also the CSV header)."""

FLAG_KINDS: tuple[str, ...] = ("no data", "low wear", "below the hour")
"""Flag families, for filtering: every flag text starts with one of these."""

WEAR_WINDOW_DAYS = 7


def reference_day(last: pl.DataFrame) -> date | None:
    """The local day of the latest data anywhere in the study ("this week" contains it)."""
    if last.is_empty():
        return None
    value = last["last_local"].max()
    return value.date() if isinstance(value, datetime) else None


def local_today(zones: pl.Series, as_of: datetime) -> pl.DataFrame:
    """Today's local date in each distinct zone at the instant ``as_of`` (timezone, today)."""
    distinct = zones.drop_nulls().unique().sort().to_list()
    return pl.DataFrame(
        {"timezone": distinct, "today": [as_of.astimezone(ZoneInfo(z)).date() for z in distinct]},
        schema={"timezone": pl.String(), "today": pl.Date()},
    )


def _base(roster: pl.DataFrame, last: pl.DataFrame, as_of: datetime, clamp_to_data: bool) -> pl.DataFrame:
    """Roster joined with last data: last complete day, days since data, first counted day."""
    today = local_today(roster["timezone"], as_of)
    ref_day = reference_day(last)
    if clamp_to_data and ref_day is not None:
        today = today.with_columns(pl.min_horizontal("today", pl.lit(ref_day, pl.Date)).alias("today"))
    return (
        roster.select("participant_id", "timezone", "start_date", "end_date")
        .join(last, on="participant_id", how="left")
        .join(today, on="timezone", how="left")
        .with_columns(last_day=pl.col("last_local").dt.date())
        .with_columns(
            last_complete_day=pl.when(pl.col("last_day_complete"))
            .then(pl.col("last_day"))
            .otherwise(pl.col("last_day") - pl.duration(days=1)),
            days_since_data=(pl.col("today") - pl.col("last_day")).dt.total_days().clip(lower_bound=0),
            counted_from=pl.max_horizontal("first_day", "start_date"),
            last_data=pl.col("last_local").dt.strftime("%Y-%m-%d %H:%M") + pl.lit(" ") + pl.col("timezone"),
        )
    )


def _wear(base: pl.DataFrame, daily_wear: pl.DataFrame) -> pl.DataFrame:
    """Mean daily wear over the window ending on each participant's last complete day."""
    window = base.select(
        "participant_id",
        "last_complete_day",
        window_start=pl.max_horizontal(
            pl.col("last_complete_day") - pl.duration(days=WEAR_WINDOW_DAYS - 1), "counted_from"
        ),
    ).with_columns(
        window_days=(pl.col("last_complete_day") - pl.col("window_start")).dt.total_days() + 1,
    )
    worn = (
        daily_wear.join(window, on="participant_id", how="inner")
        .filter(pl.col("local_date").is_between(pl.col("window_start"), pl.col("last_complete_day")))
        .group_by("participant_id")
        .agg(pl.col("wear_minutes").sum().alias("wear_sum"))
    )
    return window.join(worn, on="participant_id", how="left").select(
        "participant_id",
        wear_7d_minutes_per_day=pl.when(pl.col("window_days") > 0).then(
            (pl.col("wear_sum").fill_null(0) / pl.col("window_days")).round(0)
        ),
    )


def _weeks(base: pl.DataFrame, weekly: pl.DataFrame, ref_day: date | None) -> pl.DataFrame:
    """This week's and last complete week's minutes, and the running count of below weeks."""
    ref = pl.lit(ref_day, pl.Date)
    week_end = pl.col("week_start") + pl.duration(days=7)
    rows = weekly.join(base.select("participant_id", "last_complete_day"), on="participant_id", how="inner")
    current = rows.filter((pl.col("week_start") <= ref) & (ref < week_end)).select(
        "participant_id", this_week_minutes=pl.col("mvpa_minutes")
    )
    previous = rows.filter((week_end <= ref) & (ref < week_end + pl.duration(days=7))).select(
        "participant_id", last_week_minutes=pl.col("mvpa_minutes"), last_week_status=pl.col("status")
    )
    # The latest complete week of each participant, aligned on their own week starts.
    aligned = rows.with_columns(anchor=pl.col("week_start").max().over("participant_id")).with_columns(
        latest_complete=pl.col("anchor")
        + pl.duration(
            days=((pl.col("last_complete_day") - pl.col("anchor")).dt.total_days() - 6).floordiv(7) * 7
        )
    )
    # Below weeks counted back from the latest complete one: the k-th below week (k = 0, 1, ...) is
    # in the run exactly when it lies k weeks back, so a missing or non-below week ends the run.
    runs = (
        aligned.filter((pl.col("week_start") <= pl.col("latest_complete")) & (pl.col("status") == "below"))
        .with_columns(weeks_back=(pl.col("latest_complete") - pl.col("week_start")).dt.total_days() // 7)
        .with_columns(rank=pl.col("weeks_back").rank("ordinal").over("participant_id") - 1)
        .group_by("participant_id")
        .agg(below_run=(pl.col("weeks_back") == pl.col("rank")).sum())
    )
    return (
        base.select("participant_id")
        .join(current, on="participant_id", how="left")
        .join(previous, on="participant_id", how="left")
        .join(runs, on="participant_id", how="left")
    )


def _flags(alerts: AlertsSection) -> pl.Expr:
    """The flag texts of one row, joined by '; ' (empty when nothing is wrong)."""
    no_data = (
        pl.when(
            pl.col("last_local").is_null()
            & (pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col("today")))
        )
        .then(pl.lit("no data yet"))
        .when(
            (pl.col("days_since_data") >= alerts.no_data_days)
            & (pl.col("end_date").is_null() | (pl.col("today") <= pl.col("end_date")))
        )
        .then(pl.format("no data for {} days", pl.col("days_since_data")))
    )
    low_wear = pl.when(pl.col("wear_7d_minutes_per_day") < alerts.low_wear_minutes_per_day).then(
        pl.lit("low wear")
    )
    below = pl.when(pl.col("below_run") >= alerts.below_weeks_running).then(
        pl.format("below the hour {} weeks running", pl.col("below_run"))
    )
    return pl.concat_list(no_data, low_wear, below).list.drop_nulls().list.join("; ")


def build(
    roster: pl.DataFrame,
    last: pl.DataFrame,
    weekly: pl.DataFrame,
    daily_wear: pl.DataFrame,
    scores: pl.DataFrame,
    alerts: AlertsSection,
    as_of: datetime,
    *,
    clamp_to_data: bool = False,
) -> pl.DataFrame:
    """The participant table, stalest data first (never-synced participants on top).

    Inputs are the frames of :mod:`dashboard.queries` (``roster``, ``last_data``,
    ``weekly``, ``recent_daily_wear``, ``scores``); ``as_of`` is the instant
    "today" is taken from (timezone-aware). With ``clamp_to_data`` "today" is
    at most the reference day (the latest data in the study), as in the run
    summary: a historical or demo study then shows who is behind the others
    rather than everyone silent since the study ended.
    """
    base = _base(roster, last, as_of, clamp_to_data)
    table = (
        base.join(_wear(base, daily_wear), on="participant_id", how="left")
        .join(_weeks(base, weekly, reference_day(last)), on="participant_id", how="left")
        .join(scores, on="participant_id", how="left")
    )
    return (
        table.with_columns(flags=_flags(alerts))
        .sort(["days_since_data", "participant_id"], descending=[True, False], nulls_last=False)
        .select(
            pl.col("participant_id"),
            pl.col("flags"),
            pl.col("last_data"),
            pl.col("days_since_data").cast(pl.Int64),
            pl.col("this_week_minutes").cast(pl.Int64),
            pl.col("last_week_minutes").cast(pl.Int64),
            pl.col("last_week_status"),
            pl.col("current_streak").cast(pl.Int64),
            pl.col("weeks_met").cast(pl.Int64),
            pl.col("weeks_sufficient").cast(pl.Int64),
            pl.col("wear_7d_minutes_per_day").cast(pl.Int64),
            pl.col("timezone"),
        )
    )


def filter_table(table: pl.DataFrame, id_contains: str = "", flag_kinds: list[str] | None = None) -> pl.DataFrame:
    """Rows whose id contains ``id_contains`` and, when ``flag_kinds`` is given, that carry one of them."""
    out = table
    if id_contains:
        out = out.filter(pl.col("participant_id").str.to_lowercase().str.contains(id_contains.lower(), literal=True))
    if flag_kinds:
        out = out.filter(pl.any_horizontal(pl.col("flags").str.contains(k, literal=True) for k in flag_kinds))
    return out


def to_csv(table: pl.DataFrame) -> bytes:
    """The table as the CSV the download button serves (UTF-8, header row)."""
    return table.write_csv().encode("utf-8")
