"""The compliance grid: participant x local day for the last N weeks, readable without colour.

Pure polars, no Streamlit. Each day cell is a mark, so the grid reads the
same in black and white, printed, or to a screen reader:

- ``●`` a valid wear day (at least ``[wear] min_wear_minutes_per_day`` worn),
- ``◐`` data arrived but the day is not a valid wear day,
- ``○`` no data that day,
- blank (``–`` on screen): the day is after today or before the participant's start.

Each week also gets a status column (``met``, ``below``, ``insufficient``,
or ``no data``) as text. Rows come in attention order (``models.alerts``),
with each participant's last data and flags beside the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from models import alerts as alert_rules

VALID_MARK = "●"
DATA_MARK = "◐"
NONE_MARK = "○"
LEGEND = (
    f"{VALID_MARK} valid wear day, {DATA_MARK} data but not a valid wear day, {NONE_MARK} no data, "
    "– before the start or after today; each week column shows its days Monday to Sunday, then the "
    "week's status (met / below / insufficient / no data)"
)

LEAD_COLUMNS: tuple[str, ...] = ("participant_id", "flags", "last_data", "days_since_data")


@dataclass(frozen=True)
class Grid:
    """The wide grid (one row per participant) and what its columns mean."""

    table: pl.DataFrame
    days: list[date]
    week_columns: list[str]
    day_columns: list[str]


def window(today: date, weeks: int) -> tuple[date, date]:
    """The first and last day of the last ``weeks`` calendar weeks (Monday to Sunday) up to ``today``."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=weeks - 1), monday + timedelta(days=6)


def day_label(day: date) -> str:
    return f"{day:%a %d %b}"


def week_label(monday: date) -> str:
    return f"week of {monday:%Y-%m-%d}"


def cells(
    participants: pl.DataFrame,
    daily: pl.DataFrame,
    weekly: pl.DataFrame,
    since: date,
    until: date,
    today: date,
) -> pl.DataFrame:
    """Long form: one row per participant and day in [since, until] with its mark and its week's status.

    ``participants``: participant_id, start_date. ``daily``: participant_id,
    local_date, wear_minutes, valid. ``weekly``: participant_id, week_start,
    status (any week definition: a day belongs to the weekly row whose seven
    days hold it).
    """
    days = pl.DataFrame({"local_date": pl.date_range(since, until, "1d", eager=True)})
    grid = participants.select("participant_id", "start_date").join(days, how="cross")
    grid = grid.join(
        daily.select("participant_id", "local_date", "wear_minutes", "valid"),
        on=["participant_id", "local_date"],
        how="left",
    )
    weeks = weekly.select("participant_id", "week_start", "status").sort(
        "participant_id", "week_start"
    )
    grid = (
        grid.sort("participant_id", "local_date")
        .join_asof(
            weeks,
            left_on="local_date",
            right_on="week_start",
            by="participant_id",
            strategy="backward",
            check_sortedness=False,  # both sides sorted by participant and date above
        )
        .with_columns(
            week_status=pl.when(pl.col("local_date") < pl.col("week_start") + pl.duration(days=7))
            .then(pl.col("status"))
            .otherwise(pl.lit("no data"))
        )
    )
    blank = (pl.col("local_date") > today) | (pl.col("local_date") < pl.col("start_date"))
    mark = (
        pl.when(blank)
        .then(pl.lit(""))
        .when(pl.col("valid").fill_null(False))
        .then(pl.lit(VALID_MARK))
        .when(pl.col("wear_minutes").fill_null(0) > 0)
        .then(pl.lit(DATA_MARK))
        .otherwise(pl.lit(NONE_MARK))
    )
    return grid.select(
        "participant_id",
        "local_date",
        mark.alias("mark"),
        (pl.col("local_date") - pl.duration(days=pl.col("local_date").dt.weekday() - 1)).alias(
            "monday"
        ),
        pl.when(blank).then(pl.lit("")).otherwise(pl.col("week_status")).alias("week_status"),
    )


def build(
    evaluated: pl.DataFrame,
    participants: pl.DataFrame,
    daily: pl.DataFrame,
    weekly: pl.DataFrame,
    today: date,
    weeks: int,
) -> Grid:
    """The wide grid for the last ``weeks`` weeks up to ``today``, in attention order.

    ``evaluated`` is :func:`models.alerts.evaluate`'s frame; a week's status
    column shows the status of the participant's week holding that week's
    Monday-to-Sunday days (the most frequent over its days).
    """
    since, until = window(today, weeks)
    long = cells(participants, daily, weekly, since, until, today)
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    day_columns = [day_label(d) for d in days]
    marks = (
        long.with_columns(
            column=pl.col("local_date").map_elements(day_label, return_dtype=pl.String)
        )
        .pivot(on="column", index="participant_id", values="mark")
        .select("participant_id", *day_columns)
    )
    mondays = sorted({d - timedelta(days=d.weekday()) for d in days})
    week_columns = [week_label(m) for m in mondays]
    statuses = (
        long.filter(pl.col("week_status") != "")
        .group_by("participant_id", "monday")
        .agg(pl.col("week_status").mode().sort().first())
        .with_columns(column=pl.col("monday").map_elements(week_label, return_dtype=pl.String))
        .pivot(on="column", index="participant_id", values="week_status")
    )
    for name in week_columns:
        if name not in statuses.columns:
            statuses = statuses.with_columns(pl.lit(None, pl.String).alias(name))
    ordered = alert_rules.attention_order(evaluated)
    lead = ordered.select(
        "participant_id",
        "flags",
        last_data=pl.col("last_local").dt.strftime("%Y-%m-%d %H:%M")
        + pl.lit(" ")
        + pl.col("timezone"),
        days_since_data=pl.col("days_since_data"),
    )
    columns: list[str] = [*LEAD_COLUMNS]
    for monday in mondays:
        columns.append(week_label(monday))
        columns += [day_label(monday + timedelta(days=i)) for i in range(7)]
    table = (
        lead.join(
            statuses.select("participant_id", *week_columns),
            on="participant_id",
            how="left",
            maintain_order="left",
        )
        .join(marks, on="participant_id", how="left", maintain_order="left")
        .select(columns)
    )
    return Grid(table, days, week_columns, day_columns)


def page(grid: pl.DataFrame, number: int, size: int) -> pl.DataFrame:
    """Rows of page ``number`` (1-based) of ``size`` rows."""
    return grid.slice((number - 1) * size, size)


def compact(rows: pl.DataFrame, view: Grid) -> pl.DataFrame:
    """The on-screen form: one column per week holding its seven day marks and the week's status.

    E.g. ``●●●◐○○○ below``; a blank day (before the start, after today) is
    ``–``. The downloads keep one column per day.
    """
    weeks = []
    for name in view.week_columns:
        monday = date.fromisoformat(name.removeprefix("week of "))
        marks = [
            pl.col(day_label(monday + timedelta(days=i))).replace("", "–").fill_null("–")
            for i in range(7)
        ]
        status = pl.col(name).fill_null("")
        weeks.append(pl.concat_str([*marks, pl.lit("  "), status]).alias(name))
    return rows.select(
        "participant_id",
        "flags",
        pl.col("last_data").str.slice(0, 16),
        "days_since_data",
        *weeks,
    )
