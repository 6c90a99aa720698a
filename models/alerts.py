"""The alert rules of ``[alerts]``: who needs a nudge, defined once for the dashboard, run summary and digest.

Pure polars over small per-participant frames, so every rule is unit-tested
on hand-made rows. Each rule counts from the participant's *own* last data,
never from another participant's (or the study's) latest day; only "no data"
looks at today, because it is about the time since that last data:

- ``no data``: the participant's last data is ``[alerts] no_data_days`` or
  more local calendar days before today in their zone (``no data for N
  days``); a participant on the roster with no data at all, once their
  ``start_date`` has come, gets ``no data yet``. Not raised after the
  roster's ``end_date``.
- ``low wear``: mean worn hours a day over the ``low_wear_days`` local days
  ending on the last *complete* day of data (the day of the last data unless
  it stopped before 23:59) is below ``low_wear_hours_per_day``. Days without a
  ``daily`` row count as 0; days before the first data (or ``start_date``)
  are left out, so a new participant is not flagged for days before they
  started.
- ``below the hour``: the latest K or more *complete* weeks up to the last
  complete day of data are consecutive and all ``below``, K >=
  ``below_weeks_running``. An insufficient or missing week ends the run (too
  little wear says nothing about the hour).
- ``no heart rate``: the last day with any heart rate is ``no_heart_rate_days``
  or more days before the day of the last data (or there is data but never
  any heart rate): the sensor or its export stopped while the device still
  delivers data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from config.study import AlertsSection


@dataclass(frozen=True)
class Rule:
    """One alert rule: its name (the start of every flag text it writes) and its result column."""

    name: str
    column: str
    describe: str


RULES: tuple[Rule, ...] = (
    Rule("no data", "alert_no_data", "last data {no_data_days}+ days before today"),
    Rule(
        "low wear",
        "alert_low_wear",
        "under {low_wear_hours_per_day:g} worn h/day over the last {low_wear_days} days of data",
    ),
    Rule(
        "below the hour",
        "alert_below",
        "below the hour {below_weeks_running}+ complete weeks running",
    ),
    Rule(
        "no heart rate",
        "alert_no_heart_rate",
        "no heart rate over the last {no_heart_rate_days}+ days of data",
    ),
)
"""Every rule, in the order flags are listed."""

RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)

ALERT_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "timezone": pl.String(),
    "last_local": pl.Datetime("us"),
    "last_day": pl.Date(),
    "last_complete_day": pl.Date(),
    "days_since_data": pl.Int64(),
    "recent_wear_minutes_per_day": pl.Int64(),
    "below_run": pl.Int64(),
    "days_without_heart_rate": pl.Int64(),
    **{r.column: pl.String() for r in RULES},
    "flags": pl.String(),
    "alert_count": pl.Int64(),
}
"""One row per roster participant: the figures the rules read, each rule's flag text (null when it did
not fire), all flags joined by '; ', and how many rules fired."""

HEART_RATE_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "last_heart_rate_day": pl.Date(),
}


def describe_rules(alerts: AlertsSection) -> list[str]:
    """The rules in words with the study's settings, for page captions and the digest."""
    values = alerts.model_dump()
    return [f"{r.name}: {r.describe.format(**values)}" for r in RULES]


def local_today(zones: pl.Series, as_of: datetime) -> pl.DataFrame:
    """Today's local date in each distinct zone at the instant ``as_of`` (timezone, today)."""
    distinct = zones.drop_nulls().unique().sort().to_list()
    return pl.DataFrame(
        {"timezone": distinct, "today": [as_of.astimezone(ZoneInfo(z)).date() for z in distinct]},
        schema={"timezone": pl.String(), "today": pl.Date()},
    )


def _base(roster: pl.DataFrame, last: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Roster joined with each participant's last data and today in their zone."""
    return (
        roster.select("participant_id", "timezone", "start_date", "end_date")
        .join(
            last.select("participant_id", "last_local", "last_day_complete", "first_day"),
            on="participant_id",
            how="left",
        )
        .join(local_today(roster["timezone"], as_of), on="timezone", how="left")
        .with_columns(last_day=pl.col("last_local").dt.date())
        .with_columns(
            last_complete_day=pl.when(pl.col("last_day_complete"))
            .then(pl.col("last_day"))
            .otherwise(pl.col("last_day") - pl.duration(days=1)),
            days_since_data=(pl.col("today") - pl.col("last_day"))
            .dt.total_days()
            .clip(lower_bound=0),
            counted_from=pl.max_horizontal("first_day", "start_date"),
        )
    )


def _wear(base: pl.DataFrame, daily_wear: pl.DataFrame, days: int) -> pl.DataFrame:
    """Mean daily wear minutes over the ``days`` ending on each participant's last complete day."""
    window = base.select(
        "participant_id",
        "last_complete_day",
        window_start=pl.max_horizontal(
            pl.col("last_complete_day") - pl.duration(days=days - 1), "counted_from"
        ),
    ).with_columns(
        window_days=(pl.col("last_complete_day") - pl.col("window_start")).dt.total_days() + 1
    )
    worn = (
        daily_wear.join(window, on="participant_id", how="inner")
        .filter(
            pl.col("local_date").is_between(pl.col("window_start"), pl.col("last_complete_day"))
        )
        .group_by("participant_id")
        .agg(pl.col("wear_minutes").sum().alias("wear_sum"))
    )
    return window.join(worn, on="participant_id", how="left").select(
        "participant_id",
        recent_wear_minutes_per_day=pl.when(pl.col("window_days") > 0).then(
            (pl.col("wear_sum").fill_null(0) / pl.col("window_days")).round(0)
        ),
    )


def below_run(base: pl.DataFrame, weekly: pl.DataFrame) -> pl.DataFrame:
    """Consecutive ``below`` weeks counted back from each participant's latest complete week.

    The latest complete week is aligned on the participant's own week starts
    (calendar or study-relative weeks both work). The k-th below week counted
    back (k = 0, 1, ...) is in the run exactly when it lies k weeks back, so a
    missing or non-below week ends it.
    """
    rows = weekly.select("participant_id", "week_start", "status").join(
        base.select("participant_id", "last_complete_day"), on="participant_id", how="inner"
    )
    aligned = rows.with_columns(
        anchor=pl.col("week_start").max().over("participant_id")
    ).with_columns(
        latest_complete=pl.col("anchor")
        + pl.duration(
            days=((pl.col("last_complete_day") - pl.col("anchor")).dt.total_days() - 6).floordiv(7)
            * 7
        )
    )
    return (
        aligned.filter(
            (pl.col("week_start") <= pl.col("latest_complete")) & (pl.col("status") == "below")
        )
        .with_columns(
            weeks_back=(pl.col("latest_complete") - pl.col("week_start")).dt.total_days() // 7
        )
        .with_columns(rank=pl.col("weeks_back").rank("ordinal").over("participant_id") - 1)
        .group_by("participant_id")
        .agg(below_run=(pl.col("weeks_back") == pl.col("rank")).sum())
    )


def _rule_texts(alerts: AlertsSection) -> list[pl.Expr]:
    """One expression per rule (in ``RULES`` order): its flag text, or null."""
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
    hours = (pl.col("recent_wear_minutes_per_day") / 60).round(1)
    low_wear = pl.when(
        pl.col("recent_wear_minutes_per_day") < alerts.low_wear_hours_per_day * 60
    ).then(pl.format("low wear: {} h/day over {} days", hours, pl.lit(alerts.low_wear_days)))
    below = pl.when(pl.col("below_run") >= alerts.below_weeks_running).then(
        pl.format("below the hour {} weeks running", pl.col("below_run"))
    )
    no_hr = (
        pl.when(pl.col("last_local").is_not_null() & pl.col("last_heart_rate_day").is_null())
        .then(pl.lit("no heart rate in the data"))
        .when(pl.col("days_without_heart_rate") >= alerts.no_heart_rate_days)
        .then(pl.format("no heart rate for {} days", pl.col("days_without_heart_rate")))
    )
    return [
        e.alias(r.column) for e, r in zip((no_data, low_wear, below, no_hr), RULES, strict=True)
    ]


def evaluate(
    roster: pl.DataFrame,
    last: pl.DataFrame,
    weekly: pl.DataFrame,
    daily_wear: pl.DataFrame,
    heart_rate: pl.DataFrame,
    alerts: AlertsSection,
    as_of: datetime,
) -> pl.DataFrame:
    """Every rule for every roster participant (``ALERT_COLUMNS``), in roster order.

    ``roster``: participant_id, timezone, start_date, end_date. ``last``:
    participant_id, last_local (local, naive), last_day_complete, first_day.
    ``weekly``: participant_id, week_start, status. ``daily_wear``:
    participant_id, local_date, wear_minutes (at least the ``low_wear_days``
    up to each last data). ``heart_rate``: participant_id,
    last_heart_rate_day (local). ``as_of`` is the timezone-aware instant
    "today" is taken from.
    """
    base = _base(roster, last, as_of)
    table = (
        base.join(_wear(base, daily_wear, alerts.low_wear_days), on="participant_id", how="left")
        .join(below_run(base, weekly), on="participant_id", how="left")
        .join(heart_rate.select(list(HEART_RATE_COLUMNS)), on="participant_id", how="left")
        .with_columns(
            below_run=pl.col("below_run").fill_null(0),
            days_without_heart_rate=(pl.col("last_day") - pl.col("last_heart_rate_day"))
            .dt.total_days()
            .clip(lower_bound=0),
        )
        .with_columns(_rule_texts(alerts))
    )
    columns = [r.column for r in RULES]
    return table.with_columns(
        flags=pl.concat_list(columns).list.drop_nulls().list.join("; "),
        alert_count=pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int64) for c in columns),
    ).select(pl.col(name).cast(dtype) for name, dtype in ALERT_COLUMNS.items())


def attention_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Who needs attention first: never synced, then most rules fired, then longest without data, then id."""
    return frame.sort(
        [pl.col("last_local").is_null(), "alert_count", "days_since_data", "participant_id"],
        descending=[True, True, True, False],
        nulls_last=True,
    )


def alert_list(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per participant and rule that fired (participant_id, rule, flag), in ``RULES`` order."""
    parts = [
        frame.filter(pl.col(r.column).is_not_null()).select(
            "participant_id",
            pl.lit(r.name).alias("rule"),
            pl.col(r.column).alias("flag"),
            pl.lit(i).alias("_order"),
        )
        for i, r in enumerate(RULES)
    ]
    out = pl.concat(parts) if parts else pl.DataFrame()
    return out.sort("_order", "participant_id").drop("_order")


def counts_per_rule(frame: pl.DataFrame) -> dict[str, int]:
    """How many participants each rule flagged (every rule present, 0 when it did not fire)."""
    return {r.name: int(frame[r.column].is_not_null().sum()) for r in RULES}


def reference_day(last: pl.DataFrame, today: date | None = None) -> date | None:
    """The local day of the latest data anywhere in the study ("this week" contains it; never a rule's base).

    With ``today``, a day past tomorrow is never taken: a lake written before
    readers dropped impossible dates may still hold a row dated 2126, and one
    such row must not move the whole cohort's "this week" into the future.
    """
    if last.is_empty():
        return None
    value = last["last_local"].max()
    if not isinstance(value, datetime):
        return None
    day = value.date()
    return day if today is None else min(day, today + timedelta(days=1))
