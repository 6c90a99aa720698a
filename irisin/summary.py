"""The run summary a coordinator reads: files handled, this week's status, who needs attention.

One function builds it as markdown (printed by the CLI, published as a
Prefect artifact, stored in the runs table) from the ingest report and the
weekly table, so every channel says the same thing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import polars as pl

from config import StudyConfig
from ingest.pipeline import IngestReport


def current_week(weekly: pl.DataFrame) -> object | None:
    """The latest week with any data in the study ("this week" for a run on historical data)."""
    return None if weekly.height == 0 else weekly["week_start"].max()


def attention_table(weekly: pl.DataFrame, last_data: pl.DataFrame, config: StudyConfig, now: datetime | None = None) -> pl.DataFrame:
    """Participants needing attention: no data for N days, or below the hour K weeks running.

    ``last_data`` has participant_id and last_minute_utc. Silence is measured
    from the study's latest data when that is older than ``now`` (a historical
    or demo study), so the flag means "behind the others".
    """
    a = config.alerts
    if last_data.height == 0:
        return pl.DataFrame(schema={"participant_id": pl.String, "reason": pl.String})
    reference = last_data["last_minute_utc"].max()
    now = now or datetime.now(UTC)
    if reference is not None and reference < now:
        now = reference
    silent = last_data.filter(pl.col("last_minute_utc") < pl.lit(now) - pl.duration(days=a.no_data_days)).select(
        "participant_id",
        pl.format(
            "no data for {} days", ((pl.lit(now) - pl.col("last_minute_utc")).dt.total_days()).cast(pl.Int64)
        ).alias("reason"),
    )
    recent = (
        weekly.filter(pl.col("status") != "insufficient")
        .sort("participant_id", "week_start")
        .group_by("participant_id", maintain_order=True)
        .agg(pl.col("status").tail(a.below_weeks_running))
    )
    below = recent.filter(
        (pl.col("status").list.len() == a.below_weeks_running) & pl.col("status").list.eval(pl.element() == "below").list.all()
    ).select("participant_id", pl.lit(f"below the hour {a.below_weeks_running} weeks running").alias("reason"))
    return pl.concat([silent, below]).sort("participant_id")


def summary_markdown(
    title: str, report: IngestReport, weekly: pl.DataFrame, attention: pl.DataFrame, config: StudyConfig
) -> str:
    """Markdown summary of a run."""
    new = [o for o in report.outcomes if o.new]
    statuses = Counter(o.status for o in new)
    lines = [
        f"# {title}",
        "",
        f"**Files** seen {len(report.outcomes)}, new {len(new)}: "
        + ", ".join(f"{s} {statuses.get(s, 0)}" for s in ("ok", "partial", "quarantined", "skipped"))
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
    return "\n".join(lines) + "\n"
