"""The coordinators' participant table: one row per roster participant, with flags.

Pure polars, no Streamlit and no database. The flags are the alert rules of
:mod:`models.alerts` (defined there once, shared with the run summary and the
digest); this module adds what the table shows beside them.

"This week" is the local week containing the reference day (the day of the
latest data in the study, see :func:`reference_day`) and "last complete week"
the one before it; weeks are taken from the ``weekly`` table, so both calendar
and study-relative weeks work. The reference day only places these two
columns: no flag counts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import polars as pl

from config import Study
from config.study import AlertsSection
from models import alerts as alerts_model
from store import queries
from store.sheets import safe_csv_bytes

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
    "recent_wear_minutes_per_day",
    "timezone",
)
"""Columns of the table, in display order (also the CSV header)."""

MAIL_COLUMNS: tuple[str, ...] = tuple(c for c in TABLE_COLUMNS if c != "timezone")
"""The columns the digest mails: ids and figures (no zone, no free text but flags)."""

FLAG_KINDS: tuple[str, ...] = alerts_model.RULE_NAMES
"""Flag families, for filtering: every flag text starts with one of these."""


def reference_day(last: pl.DataFrame, today: date | None = None) -> date | None:
    """The local day of the latest data anywhere in the study ("this week" contains it), never past tomorrow."""
    return alerts_model.reference_day(last, today)


def _weeks(participants: pl.DataFrame, weekly: pl.DataFrame, ref_day: date | None) -> pl.DataFrame:
    """This week's and last complete week's minutes and status."""
    ref = pl.lit(ref_day, pl.Date)
    week_end = pl.col("week_start") + pl.duration(days=7)
    rows = weekly.join(participants, on="participant_id", how="inner")
    current = rows.filter((pl.col("week_start") <= ref) & (ref < week_end)).select(
        "participant_id", this_week_minutes=pl.col("mvpa_minutes")
    )
    previous = rows.filter((week_end <= ref) & (ref < week_end + pl.duration(days=7))).select(
        "participant_id",
        last_week_minutes=pl.col("mvpa_minutes"),
        last_week_status=pl.col("status"),
    )
    return participants.join(current, on="participant_id", how="left").join(
        previous, on="participant_id", how="left"
    )


def build(
    roster: pl.DataFrame,
    last: pl.DataFrame,
    weekly: pl.DataFrame,
    daily_wear: pl.DataFrame,
    scores: pl.DataFrame,
    heart_rate: pl.DataFrame,
    alerts: AlertsSection,
    as_of: datetime,
) -> pl.DataFrame:
    """The participant table, stalest data first (never-synced participants on top).

    Inputs are the frames of :mod:`store.queries` (``roster``, ``last_data``,
    ``weekly``, ``recent_daily_wear``, ``scores``, ``last_heart_rate``);
    ``as_of`` is the instant "today" is taken from (timezone-aware).
    """
    evaluated = alerts_model.evaluate(roster, last, weekly, daily_wear, heart_rate, alerts, as_of)
    table = (
        evaluated.join(
            _weeks(roster.select("participant_id"), weekly, reference_day(last, as_of.date())),
            on="participant_id",
            how="left",
        )
        .join(scores, on="participant_id", how="left")
        .with_columns(
            last_data=pl.col("last_local").dt.strftime("%Y-%m-%d %H:%M")
            + pl.lit(" ")
            + pl.col("timezone")
        )
    )
    return table.sort(
        ["days_since_data", "participant_id"], descending=[True, False], nulls_last=False
    ).select(
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
        pl.col("recent_wear_minutes_per_day").cast(pl.Int64),
        pl.col("timezone"),
    )


def filter_table(
    table: pl.DataFrame, id_contains: str = "", flag_kinds: list[str] | None = None
) -> pl.DataFrame:
    """Rows whose id contains ``id_contains`` and, when ``flag_kinds`` is given, that carry one of them."""
    out = table
    if id_contains:
        out = out.filter(
            pl.col("participant_id")
            .str.to_lowercase()
            .str.contains(id_contains.lower(), literal=True)
        )
    if flag_kinds:
        out = out.filter(
            pl.any_horizontal(pl.col("flags").str.contains(k, literal=True) for k in flag_kinds)
        )
    return out


def to_csv(table: pl.DataFrame) -> bytes:
    """The table as the CSV the download button serves (UTF-8, header row, cells safe for spreadsheets)."""
    return safe_csv_bytes(table)


def as_of_instant(day: date | None) -> datetime:
    """The instant "today" is taken from: now, or noon UTC of a replay date (that date in zones UTC-12..+11)."""
    if day is None:  # to the minute, so a page reload within the minute reuses the cached table
        return datetime.now(UTC).replace(second=0, microsecond=0)
    return datetime.combine(day, time(12), tzinfo=UTC)


@dataclass(frozen=True)
class ParticipantTable:
    """The participant table, every rule's result per participant, and what they were evaluated against."""

    table: pl.DataFrame
    alerts: pl.DataFrame
    reference_day: date | None
    as_of: datetime
    replay: bool


def load_participant_table(
    study: Study,
    as_of: date | None,
    now: datetime | None = None,
    *,
    from_derived: bool = False,
    heart_rate: pl.DataFrame | None = None,
) -> ParticipantTable:
    """The participant table of a study, flags evaluated with its ``[alerts]`` rules (``models.alerts``).

    "Today" is now (``now``, default the current minute) or, with ``as_of`` (a
    replay date), noon UTC of that date. Each rule counts from the
    participant's own last data; only "no data" counts to today.
    ``from_derived`` reads the pipeline's derived Parquet tables (and the
    lake's committed parts) instead of the warehouse: the run summary, before
    the warehouse is refreshed. ``heart_rate``: each participant's last
    heart-rate day (``queries.last_heart_rate``) when the caller already has
    it (it reads every minute of the lake), instead of querying it here.
    """
    instant = as_of_instant(as_of) if as_of is not None else (now or as_of_instant(None))
    opened = (
        queries.open_derived(study.paths)
        if from_derived
        else queries.open_warehouse(queries.warehouse_path(study.root))
    )
    settings = study.config.alerts
    with opened as con:
        roster = queries.roster(con, study.roster)
        last = queries.last_data(con, roster)
        weekly = queries.weekly(con)
        daily_wear = queries.recent_daily_wear(con, last, days=settings.low_wear_days + 1)
        if heart_rate is None:
            heart_rate = queries.last_heart_rate(con, roster)
        if not queries.has_lake_tables(
            con
        ):  # nothing to tell from: the heart-rate rule stays silent
            heart_rate = last.select(
                "participant_id", last_heart_rate_day=pl.col("last_local").dt.date()
            )
        scores = queries.scores(con)
    evaluated = alerts_model.evaluate(
        roster, last, weekly, daily_wear, heart_rate, settings, instant
    )
    table = build(roster, last, weekly, daily_wear, scores, heart_rate, settings, instant)
    return ParticipantTable(
        table, evaluated, reference_day(last, instant.date()), instant, replay=as_of is not None
    )


def grid_today(study: Study, as_of: datetime) -> date:
    """The last day the grid shows: today in the study's zone at ``as_of``."""
    return as_of.astimezone(ZoneInfo(study.config.study.timezone)).date()
