"""Data-quality notes a coordinator must see: heart rate the method cannot use, a roster zone that looks wrong.

The I/O edge for ``models.heart_rate``: reads the study's lake and returns
plain lines, so ``irisin check``, the run summary and the dashboard say the
same thing.
"""

from __future__ import annotations

import polars as pl

from config import Study


def utc_hours_of(study: Study) -> pl.DataFrame:
    """``features.utc_hours.utc_hour_totals`` of the study's whole lake (one pass over its minutes)."""
    from features.utc_hours import utc_hour_totals
    from pipeline.jobs import lake_of

    return utc_hour_totals(lake_of(study).scan("minutes"))


def heart_rate_gaps_of(study: Study, hours: pl.DataFrame | None = None) -> pl.DataFrame:
    """``models.heart_rate.heart_rate_gaps`` over the study's lake and roster.

    ``hours``: the study's ``utc_hour_totals``, when a derive keeps them (else read from the lake).
    """
    from features.utc_hours import heart_rate_minutes
    from models.heart_rate import heart_rate_gaps
    from pipeline.jobs import lake_of

    lake = lake_of(study)
    return heart_rate_gaps(
        lake.scan("minutes").select("participant_id", "minute_utc", "heart_rate_bpm"),
        lake.scan("daily_totals"),
        lake.scan("profiles"),
        study.roster,
        heart_rate_minutes(hours if hours is not None else utc_hours_of(study)),
    )


def zone_mismatches_of(study: Study, hours: pl.DataFrame | None = None) -> pl.DataFrame:
    """``models.timezone.zone_mismatches`` over the study's steps per UTC week and hour.

    ``hours``: the study's ``utc_hour_totals``, when a derive keeps them (else read from the lake).
    """
    from features.utc_hours import week_hour_steps
    from models.timezone import zone_mismatches

    hourly = week_hour_steps(hours if hours is not None else utc_hours_of(study))
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


def data_notes_table(study: Study, hours: pl.DataFrame | None = None) -> pl.DataFrame:
    """The data-quality notes as rows (``NOTE_COLUMNS``), heart rate first, by participant.

    ``hours``: the study's ``utc_hour_totals``, when a derive keeps them; else
    the lake's minutes are read once for both checks.
    """
    if hours is None:
        hours = utc_hours_of(study)
    gaps = heart_rate_gaps_of(study, hours).select(
        "participant_id", pl.lit("heart_rate").alias("topic"), pl.col("advice").alias("note")
    )
    zones = zone_mismatches_of(study, hours).select(
        "participant_id", pl.lit("time_zone").alias("topic"), pl.col("message").alias("note")
    )
    return pl.concat([gaps, zones]).select(pl.col(n).cast(t) for n, t in NOTE_COLUMNS.items())


def data_quality_notes(study: Study, notes: pl.DataFrame | None = None) -> list[str]:
    """One line per participant whose data cannot be used fully or whose roster zone looks wrong.

    ``notes``: a ``data_notes_table`` already computed this run (``publish`` writes one), so a
    run summary does not scan the lake for them a second time.
    """
    return (notes if notes is not None else data_notes_table(study))["note"].to_list()
