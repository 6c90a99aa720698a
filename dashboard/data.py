"""What each page shows, assembled from the warehouse queries. No Streamlit here.

The participant table itself lives in ``models.participant_table`` (the run
summary and the digest use it too); the pages import it from there.

The app caches these results per warehouse version; the benchmark times them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from config import Study
from dashboard import grid
from store import queries

HEATMAP_DAYS = 28


@dataclass(frozen=True)
class CohortView:
    """Figures of the cohort page.

    "This week" is the week containing the latest data anywhere in the study
    (``reference_day``), not the calendar week of today: a study replayed from
    the past, or a pipeline that has not run for a few days, still shows its
    most recent week. The page states both dates.
    """

    enrolled: int
    reference_day: date | None
    this_week: date | None
    active_this_week: int
    this_week_share: dict[str, object] | None
    last_week_share: dict[str, object] | None
    trend: pl.DataFrame
    this_week_minutes: pl.DataFrame


def load_cohort_view(study: Study) -> CohortView:
    """Enrolment, this week's activity and share meeting the hour, and the weekly trend."""
    with queries.open_warehouse(queries.warehouse_path(study.root)) as con:
        roster = queries.roster(con, study.roster)
        ref_day = queries.latest_day(con, roster)
        this_week = queries.week_containing(con, ref_day) if ref_day else None
        minutes = (
            queries.week_minutes(con, this_week)
            if this_week
            else queries.week_minutes(con, date.min)
        )
        trend = queries.cohort_weekly(con)
    shares = {row["week_start"]: row for row in trend.iter_rows(named=True)}  # one row per week
    return CohortView(
        enrolled=roster.height,
        reference_day=ref_day,
        this_week=this_week,
        active_this_week=int((minutes["wear_minutes"] > 0).sum()),
        this_week_share=shares.get(this_week),
        last_week_share=shares.get(this_week - timedelta(days=7)) if this_week else None,
        trend=trend,
        this_week_minutes=minutes,
    )


@dataclass(frozen=True)
class ParticipantDetail:
    """Everything the participant page shows for one participant."""

    participant_id: str
    timezone: str
    weeks: pl.DataFrame
    hourly: pl.DataFrame
    heatmap_from: date | None
    heatmap_until: date | None
    sources: pl.DataFrame
    problem_files: pl.DataFrame


def load_participant(
    study: Study, participant_id: str, last_local: datetime | None
) -> ParticipantDetail:
    """One participant's weeks, recent hourly wear (up to their last data), devices and problem files."""
    zone = study.timezone_of(participant_id)
    until = last_local.date() if last_local else None
    since = until - timedelta(days=HEATMAP_DAYS - 1) if until else None
    with queries.open_warehouse(queries.warehouse_path(study.root)) as con:
        weeks = queries.weekly(con, participant_id)
        hourly = queries.hourly_wear(con, participant_id, since, until) if since and until else None
        sources = queries.sources_seen(con, participant_id, zone)
        problems = queries.problem_files(con, participant_id, zone)
    if hourly is None:
        hourly = pl.DataFrame(
            schema={"local_date": pl.Date(), "hour": pl.Int64(), "wear_minutes": pl.Int64()}
        )
    elif since and until and hourly.height:
        hourly = all_hours(hourly, since, until)
    return ParticipantDetail(participant_id, zone, weeks, hourly, since, until, sources, problems)


def all_hours(hourly: pl.DataFrame, since: date, until: date) -> pl.DataFrame:
    """Every local day in [since, until] x every hour 0-23, unworn hours as 0 (so low wear looks low)."""
    grid = pl.DataFrame({"local_date": pl.date_range(since, until, "1d", eager=True)}).join(
        pl.DataFrame({"hour": pl.Series(range(24), dtype=pl.Int64)}), how="cross"
    )
    return (
        grid.join(
            hourly.with_columns(pl.col("hour").cast(pl.Int64)),
            on=["local_date", "hour"],
            how="left",
        )
        .with_columns(pl.col("wear_minutes").fill_null(0).cast(pl.Int64))
        .sort("local_date", "hour")
    )


@dataclass(frozen=True)
class DataQuality:
    """Files by status and reason, and the latest run."""

    files: pl.DataFrame
    last_run: dict[str, object] | None
    timezone: str


def load_data_quality(study: Study) -> DataQuality:
    zone = study.config.study.timezone
    with queries.open_warehouse(queries.warehouse_path(study.root)) as con:
        return DataQuality(queries.files_by_status(con), queries.last_run(con, zone), zone)


NO_DATA = "no weeks yet"
HR_NOT_USED = "not used"
"""``hr_params`` shown for a participant heart rate classified no minute of (a device label or
cadence did, or no heart rate was recorded)."""


@dataclass(frozen=True)
class NotesView:
    """The heart-rate and time-zone page: one row per roster participant, and the notes as lines."""

    participants: pl.DataFrame
    """participant_id, timezone (roster), hr_params, weeks, weeks_by_heart_rate, notes."""
    notes: pl.DataFrame
    """``store.queries.NOTE_COLUMNS``."""


def load_notes(study: Study) -> NotesView:
    """Per participant: the roster zone, the heart-rate parameters the latest week used, its notes."""
    with queries.open_warehouse(queries.warehouse_path(study.root)) as con:
        roster = queries.roster(con, study.roster)
        notes = queries.data_notes(con)
        params = queries.hr_params_used(con)
    zone = study.config.study.timezone
    joined = notes.group_by("participant_id").agg(
        pl.col("note").sort().str.join("\n").alias("notes")
    )
    participants = (
        roster.select(
            "participant_id",
            pl.col("timezone").fill_null(zone).alias("timezone"),
        )
        .join(params, on="participant_id", how="left")
        .join(joined, on="participant_id", how="left")
        .with_columns(
            pl.when(pl.col("weeks").fill_null(0) == 0)
            .then(pl.lit(NO_DATA))
            .when(pl.col("weeks_by_heart_rate") == 0)
            .then(pl.lit(HR_NOT_USED))
            .otherwise(pl.col("hr_params"))
            .alias("hr_params")
        )
        # participants with a note first, then by id
        .sort(pl.col("notes").is_null(), "participant_id")
    )
    return NotesView(participants, notes)


def load_grid(study: Study, evaluated: pl.DataFrame, today: date, weeks: int) -> grid.Grid:
    """The compliance grid of the last ``weeks`` weeks up to ``today`` (``evaluated``: the alert frame)."""
    since, until = grid.window(today, weeks)
    with queries.open_warehouse(queries.warehouse_path(study.root)) as con:
        roster = queries.roster(con, study.roster)
        daily = queries.daily_between(con, since, until)
        weekly = queries.weekly_between(con, since, until)
    return grid.build(evaluated, roster, daily, weekly, today, weeks)


__all__ = [
    "CohortView",
    "DataQuality",
    "ParticipantDetail",
    "all_hours",
    "load_cohort_view",
    "load_data_quality",
    "load_grid",
    "load_participant",
]
