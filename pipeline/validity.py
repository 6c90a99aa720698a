"""Data-quality notes a coordinator must see: heart rate the method cannot use, a roster zone that looks wrong.

The I/O edge for ``models.heart_rate``: reads the study's lake and returns
plain lines, so ``irisin check``, the run summary and the dashboard say the
same thing.
"""

from __future__ import annotations

import polars as pl

from config import Study


def heart_rate_gaps_of(study: Study) -> pl.DataFrame:
    """``models.heart_rate.heart_rate_gaps`` over the study's lake and roster."""
    from models.heart_rate import heart_rate_gaps
    from pipeline.jobs import lake_of

    lake = lake_of(study)
    return heart_rate_gaps(
        lake.scan("minutes").select("participant_id", "minute_utc", "heart_rate_bpm"),
        lake.scan("daily_totals"),
        lake.scan("profiles"),
        study.roster,
    )


def zone_mismatches_of(study: Study) -> pl.DataFrame:
    """``models.timezone.zone_mismatches`` over the study's minute steps per UTC week and hour."""
    from features.combine import US_PER_MINUTE
    from models.timezone import zone_mismatches
    from pipeline.jobs import lake_of

    us_per_hour = 60 * US_PER_MINUTE
    # One pass over the lake, to steps per UTC hour (an integer key: cheap to group on
    # millions of minutes); days, hours of the day and weeks come from those few rows.
    by_hour = (
        lake_of(study)
        .scan("minutes")
        .filter(pl.col("steps").is_between(0, 300))
        .group_by("participant_id", (pl.col("minute_utc").cast(pl.Int64) // us_per_hour).alias("h"))
        .agg(pl.col("steps").sum())
        .collect()
    )
    utc = (pl.col("h") * us_per_hour).cast(pl.Datetime("us"))
    by_day_hour = by_hour.select(
        "participant_id",
        utc.dt.date().alias("utc_date"),
        utc.dt.hour().alias("utc_hour"),
        "steps",
        utc.dt.truncate("1w").alias("week_utc"),
    )
    hourly = (
        by_day_hour.group_by("participant_id", "week_utc", "utc_hour")
        .agg(pl.col("steps").sum())
        .join(
            by_day_hour.group_by("participant_id", "week_utc").agg(
                pl.col("utc_date").n_unique().alias("days")
            ),
            on=["participant_id", "week_utc"],
        )
    )
    roster = study.roster
    zones = {
        pid: (zone or study.config.study.timezone)
        for pid, zone in zip(
            roster["participant_id"].to_list(), roster["timezone"].to_list(), strict=True
        )
    }
    return zone_mismatches(hourly, zones)


NOTES_TABLE = "data_notes"
"""The derived table ``publish`` writes, so the dashboard shows the notes ``irisin check`` prints."""

NOTE_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "topic": pl.String(),
    "note": pl.String(),
}
"""``topic``: ``heart_rate`` (heart rate the reserve method cannot use) or ``time_zone`` (the roster
zone disagrees with the participant's quiet hours); ``note``: the line, with what to do."""


def data_notes_table(study: Study) -> pl.DataFrame:
    """The data-quality notes as rows (``NOTE_COLUMNS``), heart rate first, by participant."""
    gaps = heart_rate_gaps_of(study).select(
        "participant_id", pl.lit("heart_rate").alias("topic"), pl.col("advice").alias("note")
    )
    zones = zone_mismatches_of(study).select(
        "participant_id", pl.lit("time_zone").alias("topic"), pl.col("message").alias("note")
    )
    return pl.concat([gaps, zones]).select(pl.col(n).cast(t) for n, t in NOTE_COLUMNS.items())


def data_quality_notes(study: Study, notes: pl.DataFrame | None = None) -> list[str]:
    """One line per participant whose data cannot be used fully or whose roster zone looks wrong.

    ``notes``: a ``data_notes_table`` already computed this run (``publish`` writes one), so a
    run summary does not scan the lake for them a second time.
    """
    return (notes if notes is not None else data_notes_table(study))["note"].to_list()
