"""The run summary a coordinator reads: files handled, this week's status, who needs attention.

One function builds it as markdown (printed by the CLI, published as a
Prefect artifact, stored in the runs table) from the ingest report and the
weekly table, so every channel says the same thing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import polars as pl

from config import Study, StudyConfig
from features.utc_hours import last_heart_rate_minutes
from ingest.pipeline import IngestReport
from models.participant_table import load_participant_table
from pipeline.intake_report import file_counts
from pipeline.jobs import kept_utc_hours
from pipeline.lake_cache import LakeCache
from store import queries


def current_week(weekly: pl.DataFrame, today: date | None = None) -> object | None:
    """The latest week with any data in the study ("this week" for a run on historical data).

    A week starting after ``today`` (default: today in UTC) plus a day cannot hold
    real data: rows dated in the future are refused at ingest
    (``ingest.time_window``), and a lake written before that rule may still
    hold some, which must not move "this week" for the whole cohort.
    """
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    weeks = weekly.filter(pl.col("week_start") <= latest) if weekly.height else weekly
    return None if weeks.height == 0 else weeks["week_start"].max()


def last_heart_rate_of(study: Study, hours: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each participant's last local day with any heart rate (``queries.last_heart_rate``).

    ``hours``: the UTC-hour totals a derive keeps (``features.utc_hours``),
    which hold each hour's last heart-rate minute; without them the whole
    lake's minutes are read.
    """
    last = None if hours is None else last_heart_rate_minutes(hours)
    with queries.open_derived(
        study.paths
    ) as con:  # the study's store, wherever [store] url puts it
        return queries.last_heart_rate(con, queries.roster(con, study.roster), last)


def attention_table(
    study: Study, as_of: date | None = None, cache: LakeCache | None = None
) -> pl.DataFrame:
    """Participants needing attention: the alert rules (``models.alerts``) on the derived tables.

    One definition of every rule, so the run summary, the dashboard and the
    digest never disagree. ``as_of`` evaluates "today" as that date (noon
    UTC) instead of now. ``cache``: the last heart-rate days, which read the
    whole lake, are kept there until the lake changes (a quiet nightly
    reuses the previous run's).
    """
    heart_rate = (
        None
        if cache is None
        else cache.get("last_heart_rate", lambda: last_heart_rate_of(study, kept_utc_hours(study)))
    )
    table = load_participant_table(study, as_of, from_derived=True, heart_rate=heart_rate).table
    return table.filter(pl.col("flags") != "").select(
        "participant_id", pl.col("flags").alias("reason")
    )


def summary_markdown(
    title: str,
    report: IngestReport,
    weekly: pl.DataFrame,
    attention: pl.DataFrame,
    config: StudyConfig,
    data_notes: list[str] | None = None,
    intake_lines: list[str] | None = None,
) -> str:
    """Markdown summary of a run.

    ``data_notes`` are ``pipeline.validity.data_quality_notes`` lines;
    ``intake_lines`` are ``pipeline.intake_report.export_lines`` (per
    participant and export: read by kind, skipped and quarantined by reason).
    """
    new = [o for o in report.outcomes if o.new]
    statuses = Counter(o.status for o in new)
    lines = [
        f"# {title}",
        "",
        f"**Files** seen: {file_counts(report.outcomes, report.known_members).line()}; new {len(new)}: "
        + ", ".join(
            f"{s} {statuses.get(s, 0)}" for s in ("ok", "partial", "quarantined", "skipped")
        )
        + (f", failed {statuses['failed']} (retried next run)" if statuses.get("failed") else ""),
    ]
    bad = [o for o in new if o.status in ("quarantined", "partial", "failed")]
    if bad:
        lines += ["", "| file | status | reason |", "|---|---|---|"]
        lines += [f"| {o.path} | {o.status} | {o.reason or ''} |" for o in bad[:50]]
        if len(bad) > 50:
            lines.append(f"| ... {len(bad) - 50} more | | |")
    week = current_week(weekly)
    if week is not None:
        counts = weekly.filter(pl.col("week_start") == week)["status"].value_counts()
        c = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
        lines += [
            "",
            f"**Week of {week}** (threshold {config.scoring.threshold_minutes_per_week} min): "
            f"met {c.get('met', 0)}, below {c.get('below', 0)}, insufficient {c.get('insufficient', 0)}",
        ]
    if attention.height:
        lines += ["", "**Needs attention**", "", "| participant | reason |", "|---|---|"]
        lines += [f"| {pid} | {reason} |" for pid, reason in attention.iter_rows()]
    if intake_lines:
        lines += ["", "**Per export**", "", "```", *intake_lines, "```"]
    if data_notes:
        lines += ["", "**Data quality**", ""] + [f"- {note}" for note in data_notes]
    return "\n".join(lines) + "\n"
